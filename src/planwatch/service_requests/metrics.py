"""Request metrics (诉求考核指标) per unit and month: volume, response, on-time reply, overdue,
resolution, satisfaction, return and reopen rates, and the median time to close.

The definitions follow the 12345 接诉即办 practice as ``docs/requests.md`` records it (the sources give
no formula text, so these are the working definitions, fixed here and shown on the dashboard):

- every rate is ``numerator / denominator`` (0–1 here, × 100 where shown or written) and always
  carries both, so a reader sees its N;
- requests closed as a duplicate (重复件) or as not the city's responsibility (非职责范围) take no
  part in any rate; they are counted as ``excluded`` in the volume;
- a request whose outcome is not decided yet (its response or reply deadline still ahead and not
  met) is in no denominator, so a month's figures do not fall just because the month is recent;
- a unit is ranked on a rate only among units with at least ``min_n`` cases in its denominator
  (FixMyStreet #1957: one resolved report made a council "top responsive").

Months are calendar months on Beijing time (``2025-05``). A request counts for a unit at the level
asked: the district and street it was located in, or the department holding it now (承办单位); the
city counts every request. The core (:func:`compute_metrics`) works on a plain table of requests;
:func:`request_metrics` loads that table with one query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel
from sqlalchemy import String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.errors import InvalidValueError
from planwatch.ingest.writer import CellsLockedError, ValueChange, Writer, WriteResult, write_values
from planwatch.models import Department, Division, Indicator, ServiceRequest
from planwatch.models.enums import Channel, DivisionLevel, RequestKind, Satisfaction, ValueSource

UnitLevel = Literal["city", "district", "street", "department"]
UNIT_LEVELS: Final[tuple[UnitLevel, ...]] = ("city", "district", "street", "department")
UNIT_COLUMNS: Final = {"district": "district_id", "street": "street_id", "department": "department_id"}
"""The request column that names a request's unit at each level (the city has one unit)."""

EXCLUDED_CLOSE_REASONS: Final = ("duplicate", "not_responsible")
"""Requests closed for these reasons take no part in any rate (重复件, 非职责范围)."""
COUNT_BASICALLY_SATISFIED: Final = True
"""Whether "basically satisfied" (基本满意) counts as satisfied by default."""
MAX_MONTHS: Final = 120
BEIJING: Final = np.timedelta64(8, "h")
"""Beijing time is UTC+8 all year (no daylight saving)."""
NO_MONTH: Final = -(2**31)
"""The month of a missing timestamp: before every window."""
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

COLUMNS: Final = (
    "id",
    "kind",
    "department_id",
    "district_id",
    "street_id",
    "requested_at",
    "dispatched_at",
    "accepted_at",
    "contacted_at",
    "response_due_at",
    "replied_at",
    "closed_at",
    "expected_at",
    "callback_at",
    "close_reason",
    "returned_count",
    "reopened_count",
    "resolved",
    "satisfaction",
    "simulated",
)
"""The columns :func:`compute_metrics` reads (timestamps UTC; naive ones are taken as UTC)."""
TIMES: Final = tuple(c for c in COLUMNS if c.endswith("_at"))


@dataclass(frozen=True)
class Rate:
    """One rate of the registry: its code, names, which way is better, the catalogue indicator its
    monthly values are written to (``None``: shown, not written) and its definition as coded."""

    code: str
    name_zh: str
    name_en: str
    higher_is_better: bool
    indicator: str | None
    definition_zh: str
    definition_en: str


RATES: Final = (
    Rate(
        "response",
        "响应率",
        "response rate",
        True,
        "requests_response_rate",
        "当月派单的诉求中,在响应时限内签收且联系诉求人的件数 ÷ 当月派单件数(直办件不计;时限未到且尚未响应的不计)",
        "requests dispatched in the month that were signed for and whose caller was contacted by the"
        " response deadline ÷ requests dispatched in the month (not dispatched: not counted; deadline"
        " ahead and not yet met: not counted yet)",
    ),
    Rate(
        "on_time",
        "按时办结率",
        "on-time reply rate",
        True,
        "requests_on_time_rate",
        "办理时限在当月到期的诉求中,在时限前答复(无答复记录的以办结时间计)的件数 ÷ 当月到期件数(时限未到且未答复的不计)",
        "requests whose deadline falls in the month that were answered (replied, else closed) by the"
        " deadline ÷ requests whose deadline falls in the month (deadline ahead and not answered: not"
        " counted yet)",
    ),
    Rate(
        "overdue",
        "超期率",
        "overdue rate",
        False,
        "requests_overdue_rate",
        "办理时限在当月到期的诉求中,超期答复或到期仍未答复的件数 ÷ 当月到期件数(= 1 − 按时办结率)",
        "requests whose deadline falls in the month that were answered late or are still unanswered"
        " past it ÷ requests whose deadline falls in the month (= 1 − on-time reply rate)",
    ),
    Rate(
        "resolution",
        "解决率",
        "resolution rate",
        True,
        "requests_resolution_rate",
        "当月回访中诉求人认为已解决的件数 ÷ 当月有效回访件数(回答了“是否解决”)",
        "callbacks in the month where the caller said the request was resolved ÷ valid callbacks in"
        " the month (the caller answered whether it was resolved)",
    ),
    Rate(
        "satisfaction",
        "满意率",
        "satisfaction rate",
        True,
        "requests_satisfaction_rate",
        "当月回访中“满意”(默认含“基本满意”)的件数 ÷ 当月有效回访件数(回答了满意度)",
        "callbacks in the month answering satisfied (by default basically satisfied too) ÷ valid"
        " callbacks in the month (the caller rated satisfaction)",
    ),
    Rate(
        "return",
        "退单率",
        "return rate",
        False,
        None,
        "当月派单的诉求中曾被退单的件数 ÷ 当月派单件数",
        "requests dispatched in the month that were ever returned (退单) ÷ requests dispatched in the month",
    ),
    Rate(
        "reopen",
        "重办率",
        "reopen rate",
        False,
        None,
        "当月办结的诉求中曾被重办的件数 ÷ 当月办结件数",
        "requests closed in the month that were ever reopened (重办) ÷ requests closed in the month",
    ),
)
RATE_CODES: Final = tuple(r.code for r in RATES)


# —— months ——


def parse_month(text: str, field: str = "month") -> int:
    """``2025-05`` → months since 1970-01 (the index :func:`month_text` turns back)."""
    match = _MONTH.match(text or "")
    if match is None:
        raise InvalidValueError(
            f"{field} must be a month written YYYY-MM, e.g. 2025-05; got {text!r} / 月份格式应为 YYYY-MM"
        )
    year = int(match.group(1))
    if not 1949 <= year <= 2100:
        raise InvalidValueError(
            f"{field} {text} is out of range; give a month from 1949 to 2100 / 月份超出范围"
        )
    return (year - 1970) * 12 + int(match.group(2)) - 1


def month_text(index: int) -> str:
    year, month = divmod(int(index), 12)
    return f"{1970 + year:04d}-{month + 1:02d}"


def month_start(index: int) -> datetime:
    """The first instant (UTC) of a month on Beijing time."""
    year, month = divmod(int(index), 12)
    return datetime(1970 + year, month + 1, 1, tzinfo=UTC) - timedelta(hours=8)


def month_of(moment: datetime) -> int:
    """The month (on Beijing time) an instant falls in."""
    local = _utc(moment) + timedelta(hours=8)
    return (local.year - 1970) * 12 + local.month - 1


def month_window(start: str, end: str) -> tuple[int, int]:
    """The first and last month of ``start``–``end`` (both included), checked."""
    lo, hi = parse_month(start, "start"), parse_month(end, "end")
    if hi < lo:
        raise InvalidValueError(
            f"end ({end}) lies before start ({start}); give start <= end / 结束月份早于开始月份"
        )
    if hi - lo + 1 > MAX_MONTHS:
        raise InvalidValueError(
            f"{start}–{end} spans {hi - lo + 1} months; ask for at most {MAX_MONTHS} / 月份跨度过大"
        )
    return lo, hi


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _instant(moment: datetime) -> np.datetime64:
    return np.datetime64(_utc(moment).replace(tzinfo=None), "ns")


def _times(values: Any) -> npt.NDArray[np.datetime64]:
    """UTC instants as naive ``datetime64[ns]`` (NaT for missing): datetimes, ISO text (as SQLite
    hands it back) or a datetime column already."""
    series = pd.Series(values)
    if series.dtype.kind == "M" and getattr(series.dtype, "tz", None) is None:
        return np.asarray(series.to_numpy(dtype="datetime64[ns]"))  # naive: UTC already
    series = pd.to_datetime(series, utc=True, format="ISO8601")
    return np.asarray(series.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))


def _answers(values: Any) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Whether each ``resolved`` answer was given, and whether it was yes."""
    answers = pd.Series(values).astype("boolean")
    return answers.notna().to_numpy(dtype=bool), answers.fillna(False).to_numpy(dtype=bool)


def _months(times: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
    """The Beijing-time month of each instant; :data:`NO_MONTH` for NaT."""
    months = (times + BEIJING).astype("datetime64[M]").astype(np.int64)
    return np.where(np.isnat(times), NO_MONTH, months)


# —— the core ——


@dataclass(frozen=True)
class MetricsTable:
    """Metrics per unit and period. ``rows`` has one row per unit and period with any activity:
    ``unit`` (the unit's id; 0 for the city), ``period`` (``YYYY-MM``, or ``YYYY-MM/YYYY-MM`` for a
    whole window), ``received``, ``received_appeal`` (诉求), ``received_consultation`` (咨询),
    ``excluded``, for each rate ``<code>_numerator``, ``<code>_denominator``, ``<code>_rate`` (NaN
    without cases) and ``<code>_rank`` (``<NA>`` below ``min_n``), ``closed``,
    ``median_hours_to_close``, ``overdue_open`` (open past the deadline at the period's end or at
    ``now``) and ``simulated`` (any request counted is simulated)."""

    rows: pd.DataFrame
    level: UnitLevel
    start: str
    end: str
    by_month: bool
    now: datetime
    min_n: int
    count_basically: bool

    @property
    def simulated(self) -> bool:
        return bool(self.rows["simulated"].any()) if len(self.rows) else False

    @property
    def periods(self) -> list[str]:
        lo, hi = parse_month(self.start), parse_month(self.end)
        if not self.by_month:
            return [_period_label(lo, hi, by_month=False, bucket=0)]
        return [month_text(m) for m in range(lo, hi + 1)]


def _period_label(lo: int, hi: int, *, by_month: bool, bucket: int) -> str:
    if by_month:
        return month_text(lo + bucket)
    return month_text(lo) if lo == hi else f"{month_text(lo)}/{month_text(hi)}"


def empty_requests() -> pd.DataFrame:
    """A request table with no rows and every column :func:`compute_metrics` reads."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS})


def compute_metrics(
    requests: pd.DataFrame,
    *,
    level: UnitLevel,
    start: str,
    end: str,
    now: datetime,
    min_n: int = 20,
    count_basically: bool = COUNT_BASICALLY_SATISFIED,
    by_month: bool = True,
) -> MetricsTable:
    """Every metric per unit of ``level`` and per month of ``start``–``end`` (both included, as
    ``YYYY-MM``), or over the whole window with ``by_month=False``.

    Parameters
    ----------
    requests
        One row per request with the :data:`COLUMNS` (other columns are ignored). Timestamps are
        UTC (naive ones are taken as UTC); ``kind`` and ``satisfaction`` are the enum values.
    level
        ``city``, ``district``, ``street`` or ``department``. Requests without a unit at the level
        (a request located only to its district has no street) are left out at that level.
    now
        The moment the figures are "as of": a case whose deadline lies after it and is not met yet
        is pending and in no denominator; the open-overdue count of the running month is taken here.
    min_n
        Fewest cases in a rate's denominator for a unit to be ranked on it.
    count_basically
        Count 基本满意 (basically satisfied) as satisfied.

    Returns
    -------
    MetricsTable
        Rates between 0 and 1 with their numerators and denominators; see :class:`MetricsTable`.
    """
    if level not in UNIT_LEVELS:
        raise InvalidValueError(f"level must be one of {', '.join(UNIT_LEVELS)}; got {level!r} / 未知的层级")
    if min_n < 1:
        raise InvalidValueError(f"min_n must be at least 1; got {min_n}")
    missing = [c for c in COLUMNS if c not in requests.columns]
    if missing:
        raise InvalidValueError(f"the request table lacks the column(s) {', '.join(missing)}")
    lo, hi = month_window(start, end)
    n_buckets = hi - lo + 1 if by_month else 1
    now_at = _instant(now)

    if level == "city":
        has_unit = np.ones(len(requests), dtype=bool)
        unit_codes = np.zeros(len(requests), dtype=np.int64)
        units = np.array([0], dtype=np.int64)
    else:
        raw = pd.to_numeric(requests[UNIT_COLUMNS[level]], errors="coerce").to_numpy(dtype=np.float64)
        has_unit = ~np.isnan(raw)
        units, inverse = np.unique(raw[has_unit].astype(np.int64), return_inverse=True)
        unit_codes = np.zeros(len(requests), dtype=np.int64)
        unit_codes[has_unit] = inverse
    n_keys = max(len(units), 1) * n_buckets

    t = {name: _times(requests[name]) for name in TIMES}
    kind = requests["kind"].astype(object).to_numpy()
    reason = requests["close_reason"].astype(object).to_numpy()
    valid = ~np.isin(reason, EXCLUDED_CLOSE_REASONS)
    simulated = requests["simulated"].fillna(False).astype(bool).to_numpy()
    returned = pd.to_numeric(requests["returned_count"]).fillna(0).to_numpy() > 0
    reopened = pd.to_numeric(requests["reopened_count"]).fillna(0).to_numpy() > 0
    answered_resolved, resolved_yes = _answers(requests["resolved"])
    satisfaction = requests["satisfaction"].astype(object).to_numpy()

    def keys(times: npt.NDArray[np.datetime64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """The group key (unit × bucket) of each request by the month of ``times``, and whether
        that month is in the window."""
        month = _months(times)
        inside = has_unit & (month >= lo) & (month <= hi)
        bucket = (month - lo) if by_month else np.zeros_like(month)
        return unit_codes * n_buckets + np.where(inside, bucket, 0), inside

    def count(key: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount(key[mask], minlength=n_keys).astype(np.int64)

    out: dict[str, Any] = {}
    touched = np.zeros(n_keys, dtype=np.int64)  # requests counted anywhere in a group
    sim_touched = np.zeros(n_keys, dtype=np.int64)

    def member(key: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> None:
        touched[:] += count(key, mask)
        sim_touched[:] += count(key, mask & simulated)

    # 受理量: everything received, excluded cases included (and counted)
    key, inside = keys(t["requested_at"])
    consultation = kind == RequestKind.consultation.value
    out["received"] = count(key, inside)
    out["received_consultation"] = count(key, inside & consultation)
    out["received_appeal"] = out["received"] - out["received_consultation"]
    out["excluded"] = count(key, inside & ~valid)
    member(key, inside)

    def put(
        code: str, key: npt.NDArray[np.int64], den: npt.NDArray[np.bool_], num: npt.NDArray[np.bool_]
    ) -> None:
        out[f"{code}_denominator"] = count(key, den)
        out[f"{code}_numerator"] = count(key, den & num)
        member(key, den)

    # 响应率: dispatched requests, signed for and the caller contacted by the response deadline
    due = t["response_due_at"]
    key, inside = keys(t["dispatched_at"])
    dispatched = inside & valid & ~np.isnat(t["dispatched_at"])
    responded = (
        ~np.isnat(t["accepted_at"])
        & ~np.isnat(t["contacted_at"])
        & (t["accepted_at"] <= due)
        & (t["contacted_at"] <= due)
    )
    put("response", key, dispatched & (responded | (due <= now_at)), responded)
    # 退单率: dispatched requests ever returned
    put("return", key, dispatched, returned)

    # 按时办结率 / 超期率: requests due in the month, answered (replied, else closed) by the deadline
    expected = t["expected_at"]
    answered_at = np.where(np.isnat(t["replied_at"]), t["closed_at"], t["replied_at"])
    on_time = ~np.isnat(answered_at) & (answered_at <= expected)
    key, inside = keys(expected)
    due_cases = inside & valid & (on_time | (expected <= now_at))
    put("on_time", key, due_cases, on_time)
    put("overdue", key, due_cases, ~on_time)

    # 解决率 / 满意率: valid callbacks of the month
    key, inside = keys(t["callback_at"])
    called = inside & valid
    put("resolution", key, called & answered_resolved, resolved_yes)
    satisfied_values = [Satisfaction.satisfied.value] + (
        [Satisfaction.basically.value] if count_basically else []
    )
    rated = np.isin(satisfaction, [s.value for s in Satisfaction])
    put("satisfaction", key, called & rated, np.isin(satisfaction, satisfied_values))

    # 重办率 and the time to close: requests closed in the month
    closed_at = t["closed_at"]
    key, inside = keys(closed_at)
    closed = inside & valid & ~np.isnat(closed_at)
    put("reopen", key, closed, reopened)
    out["closed"] = out["reopen_denominator"]
    hours = (closed_at - t["requested_at"]).astype("timedelta64[s]").astype(np.float64) / 3600.0
    median = np.full(n_keys, np.nan)
    if closed.any():
        medians = pd.Series(hours[closed]).groupby(key[closed]).median()
        median[medians.index.to_numpy(dtype=np.int64)] = medians.to_numpy(dtype=np.float64)
    out["median_hours_to_close"] = median

    # open past the deadline at each period's end (or now, for the running period)
    overdue_open = np.zeros(n_keys, dtype=np.int64)
    requested = t["requested_at"]
    for bucket in range(n_buckets):
        last = lo + bucket if by_month else hi
        moment = min(now_at, _instant(month_start(last + 1)))
        if moment < _instant(month_start(lo + bucket if by_month else lo)):
            continue  # a period that has not begun
        open_late = (
            has_unit
            & valid
            & (requested < moment)
            & (expected < moment)
            & (np.isnat(answered_at) | (answered_at > moment))
        )
        overdue_open += np.bincount(unit_codes[open_late] * n_buckets + bucket, minlength=n_keys)
        sim_touched[:] += np.bincount(
            unit_codes[open_late & simulated] * n_buckets + bucket, minlength=n_keys
        )
    out["overdue_open"] = overdue_open

    active = (touched > 0) | (overdue_open > 0)
    index = np.flatnonzero(active)
    rows = pd.DataFrame(
        {
            "unit": units[index // n_buckets] if len(units) else np.zeros(0, dtype=np.int64),
            "period": [_period_label(lo, hi, by_month=by_month, bucket=int(b)) for b in index % n_buckets],
            **{name: np.asarray(values)[index] for name, values in out.items()},
            "simulated": sim_touched[index] > 0,
        }
    )
    for r in RATES:
        den = rows[f"{r.code}_denominator"].to_numpy(dtype=np.float64)
        num = rows[f"{r.code}_numerator"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows[f"{r.code}_rate"] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        rows[f"{r.code}_rank"] = rank_units(
            rows[f"{r.code}_rate"],
            rows[f"{r.code}_denominator"],
            rows["period"],
            min_n=min_n,
            higher_is_better=r.higher_is_better,
        )
    return MetricsTable(
        rows=rows.reset_index(drop=True),
        level=level,
        start=month_text(lo),
        end=month_text(hi),
        by_month=by_month,
        now=_utc(now),
        min_n=min_n,
        count_basically=count_basically,
    )


def rank_units(
    rates: pd.Series, denominators: pd.Series, periods: pd.Series, *, min_n: int, higher_is_better: bool
) -> pd.Series:
    """Competition ranks (1, 2, 2, 4) within each period among the units whose denominator is at
    least ``min_n``; ``<NA>`` for the others (FixMyStreet #1957)."""
    eligible = (denominators.to_numpy() >= min_n) & rates.notna().to_numpy()
    ranks = pd.Series(pd.NA, index=rates.index, dtype="Int64")
    if eligible.any():
        ranked = rates[eligible].groupby(periods[eligible]).rank(method="min", ascending=not higher_is_better)
        ranks[eligible] = ranked.astype("Int64")
    return ranks


# —— loading ——


def load_requests(session: Session, *, start: str, end: str) -> pd.DataFrame:
    """The requests that any metric of ``start``–``end`` can count, in one query: received before
    the window ends and either touched in the window (dispatched, due, answered, closed, called
    back) or still unanswered (for the open-overdue count)."""
    lo, hi = month_window(start, end)
    begin, stop = month_start(lo), month_start(hi + 1)
    r = ServiceRequest
    # timestamps and enums come back raw (SQLite: ISO strings) and are parsed column by column
    # below: converting 50,000 rows value by value in the driver layer would take seconds
    columns = [
        type_coerce(getattr(r, c), String()) if c in TIMES or c in ("kind", "satisfaction") else getattr(r, c)
        for c in COLUMNS
    ]
    query = select(*columns).where(
        r.requested_at < stop,
        or_(
            r.requested_at >= begin,
            r.dispatched_at >= begin,
            r.expected_at >= begin,
            r.replied_at >= begin,
            r.closed_at >= begin,
            r.callback_at >= begin,
            and_(r.replied_at.is_(None), r.closed_at.is_(None)),
        ),
    )
    rows = session.connection().execute(query).all()
    if not rows:
        return empty_requests()
    frame = pd.DataFrame(
        {
            name: np.asarray(values, dtype=object)
            for name, values in zip(COLUMNS, zip(*rows, strict=True), strict=True)
        }
    )
    # parsed once here, so that the several tables of one page do not parse them again
    for name in TIMES:
        frame[name] = _times(frame[name])
    frame["resolved"] = frame["resolved"].astype("boolean")
    return frame


def request_metrics(
    session: Session,
    *,
    start: str,
    end: str,
    unit_level: UnitLevel,
    now: datetime,
    min_n: int = 20,
    count_basically: bool = COUNT_BASICALLY_SATISFIED,
    by_month: bool = True,
) -> MetricsTable:
    """:func:`compute_metrics` over the requests in the database."""
    month_window(start, end)
    return compute_metrics(
        load_requests(session, start=start, end=end),
        level=unit_level,
        start=start,
        end=end,
        now=now,
        min_n=min_n,
        count_basically=count_basically,
        by_month=by_month,
    )


def latest_request_month(session: Session, *, now: datetime) -> str | None:
    """The latest month (not after ``now``'s) in which a request was received; ``None`` if none."""
    latest = session.scalar(
        select(func.max(ServiceRequest.requested_at)).where(ServiceRequest.requested_at <= _utc(now))
    )
    return None if latest is None else month_text(month_of(latest))


# —— monthly indicator values ——

INDICATOR_LEVELS: Final[tuple[UnitLevel, ...]] = ("district", "street")
"""Data values are kept per division: the rates per department are computed on the fly only."""
COMPUTED_NOTE: Final = "由市民诉求记录计算 / computed from the citizens' requests (service_requests.metrics)"
SIMULATED_NOTE: Final = "模拟数据:由模拟诉求记录计算 / simulated: computed from simulated requests"


def write_request_indicators(
    session: Session, *, start: str, end: str, actor: str, now: datetime, settings: Settings
) -> dict[str, Any]:
    """Write the monthly rates of ``start``–``end`` as values of their catalogue indicators
    (:data:`RATES` ``indicator``), per district and street where the indicator is reported at that
    level, through the one audited write path.

    A value counting any simulated request is written as simulated (channel ``simulation``); the
    others as computed drafts (channel ``file``), like the coverage values. The comment is fixed,
    so recomputing unchanged requests changes nothing. Months that have not begun by ``now`` are
    skipped; a unit and month without cases gets no value (an earlier value stays). Values that
    are closed (approved, submitted, past their entry deadline) are left as they are and counted
    in ``kept_locked``, with the first reason in ``warnings``.

    Returns
    -------
    dict
        ``created``, ``updated``, ``unchanged``, ``kept_reported``, ``kept_locked``, ``months``
        (written), ``warnings``.
    """
    lo, hi = month_window(start, end)
    hi = min(hi, month_of(now))
    report: dict[str, Any] = dict.fromkeys(
        ("created", "updated", "unchanged", "kept_reported", "kept_locked"), 0
    )
    report["months"] = []
    report["warnings"] = []
    if hi < lo:
        report["warnings"].append(f"{start}–{end} has not begun by {_utc(now).date()}; nothing written")
        return report
    start, end = month_text(lo), month_text(hi)
    report["months"] = [month_text(m) for m in range(lo, hi + 1)]
    by_code = {r.indicator: r for r in RATES if r.indicator is not None}
    indicators = {i.code: i for i in session.scalars(select(Indicator).where(Indicator.code.in_(by_code)))}
    report["warnings"].extend(
        f"indicator {code} is not in the catalogue; load the plan that defines it (nothing written for it)"
        for code in by_code
        if code not in indicators
    )
    frame = load_requests(session, start=start, end=end)
    changes: dict[bool, list[ValueChange]] = {True: [], False: []}
    for level in INDICATOR_LEVELS:
        written = [i for i in indicators.values() if level in i.levels]
        if not written:
            continue
        table = compute_metrics(
            frame, level=level, start=start, end=end, now=now, min_n=settings.request_min_n, by_month=True
        )
        ids = [int(u) for u in table.rows["unit"].unique()]
        codes = dict(session.execute(select(Division.id, Division.code).where(Division.id.in_(ids))).all())
        for row in table.rows.to_dict("records"):
            simulated = bool(row["simulated"])
            for indicator in written:
                code = by_code[indicator.code].code
                denominator = int(row[f"{code}_denominator"])
                if denominator == 0:
                    continue
                numerator = int(row[f"{code}_numerator"])
                factor = indicator.factor if indicator.factor is not None else 100.0
                changes[simulated].append(
                    ValueChange(
                        indicator.id,
                        indicator.code,
                        int(row["unit"]),
                        codes[int(row["unit"])],
                        str(row["period"]),
                        value=factor * numerator / denominator,
                        numerator=float(numerator),
                        denominator=float(denominator),
                        comment=f"{COMPUTED_NOTE};{SIMULATED_NOTE}" if simulated else COMPUTED_NOTE,
                    )
                )
    for simulated, batch in changes.items():
        writer = Writer(
            actor=actor,
            channel=Channel.simulation if simulated else Channel.file,
            now=now,
            source=ValueSource.simulated if simulated else ValueSource.computed,
        )
        result = _write_open(session, batch, writer, settings.entry_expiry_days, report["warnings"])
        report["created"] += result.inserted
        report["updated"] += result.updated
        report["unchanged"] += result.unchanged
        report["kept_reported"] += result.kept_reported
        report["kept_locked"] += result.kept_locked
    return report


def _write_open(
    session: Session, changes: list[ValueChange], writer: Writer, expiry: int, warnings: list[str]
) -> WriteResult:
    """Write ``changes``, leaving out the closed ones (which ``write_values`` refuses as a whole)."""
    try:
        return write_values(session, changes, writer, default_expiry_days=expiry)
    except CellsLockedError as exc:
        closed = {change.key for change, _ in exc.closed}
        first_change, first = exc.closed[0]
        warnings.append(
            f"{len(closed)} value(s) are closed and were left as they are, e.g. {first_change.indicator_code}"
            f" / {first_change.division_code} / {first_change.period}: {first.message}"
        )
        result = write_values(
            session, [c for c in changes if c.key not in closed], writer, default_expiry_days=expiry
        )
        result.kept_locked += len(closed)
        return result


# —— views for the API and the dashboard ——


def requested_window(
    session: Session,
    *,
    now: datetime,
    month: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[str, str]:
    """The months a caller asks for: ``month``, or ``start``–``end``, or else the latest month with
    requests (the current month when there are none)."""
    if month is not None and (start is not None or end is not None):
        raise InvalidValueError(
            "give either month or start and end, not both / 请只指定月份,或同时指定起止月份"
        )
    if (start is None) != (end is None):
        raise InvalidValueError("give both start and end (YYYY-MM), or neither / 起止月份须同时指定")
    if start is not None and end is not None:
        month_window(start, end)
        return start, end
    chosen = month or latest_request_month(session, now=now) or month_text(month_of(now))
    parse_month(chosen)
    return chosen, chosen


class RateOut(BaseModel):
    """One rate of one unit: ``rate`` (0–1; ``None`` without cases) = numerator / denominator."""

    rate: float | None
    numerator: int
    denominator: int
    rank: int | None
    """1 = best among the units with at least ``min_n`` cases; ``None`` below that."""


class UnitMetricsOut(BaseModel):
    unit_id: int | None
    """The division's or department's id (``None`` for the city when no city division exists)."""
    code: str
    name_zh: str
    name_en: str | None
    period: str
    received: int
    received_appeal: int
    """诉求: every kind but consultations."""
    received_consultation: int
    """咨询."""
    excluded: int
    """Received requests closed as duplicate or not the city's responsibility (in no rate)."""
    rates: dict[str, RateOut]
    closed: int
    median_hours_to_close: float | None
    overdue_open: int
    """Open past the deadline at the end of the period (or now, for the running month)."""
    ranked: bool
    """Ranked on at least one rate (enough cases)."""
    simulated: bool


class RateDefinitionOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    higher_is_better: bool
    indicator: str | None
    """The catalogue indicator its monthly district and street values are written to."""
    definition_zh: str
    definition_en: str


class MetricsOut(BaseModel):
    """Request metrics of one level for a month or a window of months (each rate with its N)."""

    level: UnitLevel
    start: str
    end: str
    by_month: bool
    as_of: datetime
    min_n: int
    count_basically: bool
    """基本满意 counts as satisfied."""
    excluded_close_reasons: list[str]
    rates: list[RateDefinitionOut]
    simulated: bool
    """Some request counted is simulated (模拟数据)."""
    units: list[UnitMetricsOut]


def rate_definitions() -> list[RateDefinitionOut]:
    return [
        RateDefinitionOut(
            code=r.code,
            name_zh=r.name_zh,
            name_en=r.name_en,
            higher_is_better=r.higher_is_better,
            indicator=r.indicator,
            definition_zh=r.definition_zh,
            definition_en=r.definition_en,
        )
        for r in RATES
    ]


def _unit_names(
    session: Session, level: UnitLevel, ids: Sequence[int]
) -> dict[int, tuple[str, str, str | None]]:
    if level == "department":
        query = select(Department.id, Department.code, Department.name_zh, Department.name_en)
        return {i: (c, zh, en) for i, c, zh, en in session.execute(query.where(Department.id.in_(ids)))}
    if level == "city":
        city = session.execute(
            select(Division.id, Division.code, Division.name_zh, Division.name_en)
            .where(Division.level == DivisionLevel.city, Division.valid_to.is_(None))
            .order_by(Division.id)
            .limit(1)
        ).first()
        return {0: (city.code, city.name_zh, city.name_en) if city else ("city", "全市", "City")}
    query = select(Division.id, Division.code, Division.name_zh, Division.name_en)
    return {i: (c, zh, en) for i, c, zh, en in session.execute(query.where(Division.id.in_(ids)))}


def metrics_out(session: Session, table: MetricsTable) -> MetricsOut:
    """The table with each unit's code and names, best-received first within each period."""
    rows = table.rows.sort_values(["period", "received", "unit"], ascending=[True, False, True])
    names = _unit_names(session, table.level, [int(u) for u in rows["unit"].unique()])
    city_id = None
    if table.level == "city":
        city_id = session.scalar(
            select(Division.id)
            .where(Division.level == DivisionLevel.city, Division.valid_to.is_(None))
            .limit(1)
        )
    units = []
    for row in rows.to_dict("records"):
        unit = int(row["unit"])
        code, zh, en = names.get(unit, (str(unit), str(unit), None))
        rates = {
            r.code: RateOut(
                rate=None if pd.isna(row[f"{r.code}_rate"]) else float(row[f"{r.code}_rate"]),
                numerator=int(row[f"{r.code}_numerator"]),
                denominator=int(row[f"{r.code}_denominator"]),
                rank=None if pd.isna(row[f"{r.code}_rank"]) else int(row[f"{r.code}_rank"]),
            )
            for r in RATES
        }
        median = row["median_hours_to_close"]
        units.append(
            UnitMetricsOut(
                unit_id=city_id if table.level == "city" else unit,
                code=code,
                name_zh=zh,
                name_en=en,
                period=str(row["period"]),
                received=int(row["received"]),
                received_appeal=int(row["received_appeal"]),
                received_consultation=int(row["received_consultation"]),
                excluded=int(row["excluded"]),
                rates=rates,
                closed=int(row["closed"]),
                median_hours_to_close=None if pd.isna(median) else round(float(median), 2),
                overdue_open=int(row["overdue_open"]),
                ranked=any(r.rank is not None for r in rates.values()),
                simulated=bool(row["simulated"]),
            )
        )
    return MetricsOut(
        level=table.level,
        start=table.start,
        end=table.end,
        by_month=table.by_month,
        as_of=table.now,
        min_n=table.min_n,
        count_basically=table.count_basically,
        excluded_close_reasons=list(EXCLUDED_CLOSE_REASONS),
        rates=rate_definitions(),
        simulated=table.simulated,
        units=units,
    )


def metrics_view(
    session: Session,
    *,
    level: UnitLevel,
    start: str,
    end: str,
    now: datetime,
    min_n: int,
    by_month: bool = False,
    count_basically: bool = COUNT_BASICALLY_SATISFIED,
) -> MetricsOut:
    """The metrics of ``level`` for the API and the dashboard (one query, then the names)."""
    table = request_metrics(
        session,
        start=start,
        end=end,
        unit_level=level,
        now=now,
        min_n=min_n,
        count_basically=count_basically,
        by_month=by_month,
    )
    return metrics_out(session, table)


@dataclass(frozen=True)
class Dashboard:
    """What the metrics dashboard shows for one month: the city, each level's units, and the
    city's months up to it."""

    month: str
    city: MetricsOut
    levels: dict[str, MetricsOut]
    series: MetricsOut

    @property
    def simulated(self) -> bool:
        return self.city.simulated or self.series.simulated or any(v.simulated for v in self.levels.values())


def dashboard_view(
    session: Session,
    *,
    month: str,
    now: datetime,
    min_n: int,
    levels: Sequence[UnitLevel] = ("district", "street", "department"),
    months: int = 12,
    count_basically: bool = COUNT_BASICALLY_SATISFIED,
) -> Dashboard:
    """The dashboard's figures from one query: the requests of the ``months`` months up to
    ``month`` hold every request the month's metrics count too."""
    last = parse_month(month)
    first = month_text(max(last - months + 1, parse_month("1949-01")))
    frame = load_requests(session, start=first, end=month)

    def view(level: UnitLevel, start: str, *, by_month: bool) -> MetricsOut:
        table = compute_metrics(
            frame,
            level=level,
            start=start,
            end=month,
            now=now,
            min_n=min_n,
            count_basically=count_basically,
            by_month=by_month,
        )
        return metrics_out(session, table)

    return Dashboard(
        month=month_text(last),
        city=view("city", month, by_month=False),
        levels={level: view(level, month, by_month=False) for level in levels},
        series=view("city", first, by_month=True),
    )
