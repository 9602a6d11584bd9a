"""Demand hot spots (诉求热点): where a kind of request suddenly comes more often than it used to.

A hot spot is a (division, request type, period) whose count stands out against the same cell's
trailing baseline, after FixMyStreet's heat map by ward and category:

- **count**: requests received in the period (Beijing time; ISO weeks from Monday, or calendar
  months) in the division they were located in (a community where address points exist, else a
  street or district). Requests closed as a duplicate (重复件) are left out: the count is of
  problems reported, not of calls.
- **baseline**: the mean count of the cell over the ``baseline_periods`` periods before (8 by
  default), zeros included, over the periods since the first request on record; no baseline while
  fewer than half of those periods exist.
- **z**: ``(count − baseline) / sqrt(max(baseline, 1))``, the Poisson z-score with its variance
  floored at 1, so that a cell with a near-zero baseline does not turn hot with two requests;
  **ratio** ``count / baseline`` (none when the baseline is 0).
- **hot**: ``count ≥ min_count`` (5) and ``z ≥ z_min`` (3).
- **per_1000**: the count per 1,000 residents. Communities have no population on record, so the
  rate uses the nearest division above with one (usually the street: ``population_level`` says
  which). A street's population makes a community's rate a lower bound; compare such rates only
  within a street.

The core (:func:`count_table`, :func:`find_hotspots`) works on plain arrays; :func:`hotspots`
and :func:`division_counts` read the database. :func:`division_counts` is the table behind a map:
requests per division over a date range, optionally rolled up to streets or districts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import String, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import Division, Population, ServiceRequest, ServiceType
from planwatch.models.enums import DivisionLevel, PopulationSource

__all__ = [
    "DivisionCount",
    "HotSpot",
    "HotSpotReport",
    "Period",
    "count_table",
    "division_counts",
    "find_hotspots",
    "hotspots",
    "period_bounds",
    "period_index",
    "period_label",
]

Period = Literal["week", "month"]
PERIODS: Final[tuple[Period, ...]] = ("week", "month")
BEIJING: Final = np.timedelta64(8, "h")
"""Beijing time is UTC+8 all year."""
BASELINE_PERIODS: Final = 8
MIN_COUNT: Final = 5
Z_MIN: Final = 3.0
SIMULATED_NOTE: Final = "模拟数据 / simulated: counted from the demo's simulated requests"
_EPOCH: Final = date(1970, 1, 1)


# —— periods ——


def _check_period(period: str) -> Period:
    if period not in PERIODS:
        raise InvalidValueError(f"period must be 'week' or 'month', got {period!r} / 周期应为 week 或 month")
    return period


def period_index(times: npt.NDArray[np.datetime64], period: Period) -> npt.NDArray[np.int64]:
    """The Beijing-time period of each UTC instant: weeks (Monday to Sunday) since the week of
    1970-01-01, or months since 1970-01."""
    local = (times.astype("datetime64[s]") + BEIJING).astype("datetime64[D]")
    if period == "month":
        return local.astype("datetime64[M]").astype(np.int64)
    # 1970-01-01 was a Thursday: shifting by three days puts each Monday on a multiple of seven
    return (local.astype(np.int64) + 3) // 7


def _period_start(index: int, period: Period) -> date:
    if period == "month":
        year, month = divmod(int(index), 12)
        return date(1970 + year, month + 1, 1)
    return _EPOCH + timedelta(days=7 * int(index) - 3)


def period_bounds(index: int, period: Period) -> tuple[date, date]:
    """First day and the day after the last day of a period (Beijing dates)."""
    return _period_start(index, period), _period_start(index + 1, period)


def period_label(index: int, period: Period) -> str:
    """``2025-W14`` (ISO week) or ``2025-05``."""
    start = _period_start(index, period)
    if period == "month":
        return f"{start.year:04d}-{start.month:02d}"
    year, week, _ = start.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _day_index(day: date, period: Period) -> int:
    if period == "month":
        return (day.year - 1970) * 12 + day.month - 1
    return ((day - _EPOCH).days + 3) // 7


def _utc_instant(day: date) -> datetime:
    """Midnight of a Beijing day, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=8)


# —— the core ——


def count_table(
    division_ids: npt.ArrayLike,
    service_type_ids: npt.ArrayLike,
    periods: npt.ArrayLike,
    simulated: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Requests per (division, type, period): columns ``division_id``, ``service_type_id``,
    ``period``, ``count`` and ``simulated`` (how many of them are simulated). Counts sum to the
    number of requests given."""
    frame = pd.DataFrame(
        {
            "division_id": np.asarray(division_ids, dtype=np.int64),
            "service_type_id": np.asarray(service_type_ids, dtype=np.int64),
            "period": np.asarray(periods, dtype=np.int64),
        }
    )
    frame["simulated"] = (
        np.zeros(len(frame), dtype=np.int64) if simulated is None else np.asarray(simulated, dtype=np.int64)
    )
    frame["count"] = 1
    keys = ["division_id", "service_type_id", "period"]
    table = frame.groupby(keys, sort=True, as_index=False)[["count", "simulated"]].sum()
    return table[[*keys, "count", "simulated"]].reset_index(drop=True)


def find_hotspots(
    counts: pd.DataFrame,
    *,
    first_period: int | None = None,
    baseline_periods: int = BASELINE_PERIODS,
    min_count: int = MIN_COUNT,
    z_min: float = Z_MIN,
) -> pd.DataFrame:
    """Score every row of a :func:`count_table` against its cell's trailing baseline.

    Parameters
    ----------
    counts : a count table (periods without a row count as zero)
    first_period : the first period of the history (default: the table's first); periods before
        it do not exist and are not counted as zeros
    baseline_periods : how many periods before each row make its baseline

    Returns
    -------
    pandas.DataFrame
        ``counts`` with ``baseline`` (NaN while fewer than half of ``baseline_periods`` periods
        exist before the row), ``baseline_n`` (periods averaged), ``ratio``, ``z`` and ``hot``.
    """
    if baseline_periods < 1:
        raise InvalidValueError(f"baseline_periods must be at least 1, got {baseline_periods}")
    out = counts.reset_index(drop=True).copy()
    if out.empty:
        for column in ("baseline", "baseline_n", "ratio", "z"):
            out[column] = pd.Series(dtype=float)
        out["hot"] = pd.Series(dtype=bool)
        return out
    period = out["period"].to_numpy(np.int64)
    first = int(period.min()) if first_period is None else int(first_period)
    # one sorted key per (cell, period) and a running total: the count of a cell over any run of
    # periods is the difference of two look-ups, for every row at once
    cell = (
        pd.MultiIndex.from_arrays([out["division_id"], out["service_type_id"]])
        .factorize()[0]
        .astype(np.int64)
    )
    offset = min(first, int(period.min()))
    span = int(period.max()) - offset + 1
    key = cell * span + (period - offset)
    order = np.argsort(key, kind="stable")
    cumulative = np.concatenate([[0], np.cumsum(out["count"].to_numpy(np.int64)[order])])
    lo = np.clip(period - baseline_periods, first, None)
    n = np.maximum(period - lo, 0)
    sorted_key = key[order]
    before = cumulative[np.searchsorted(sorted_key, cell * span + (period - offset))]
    window = before - cumulative[np.searchsorted(sorted_key, cell * span + (np.minimum(lo, period) - offset))]
    enough = n >= max(1, math.ceil(baseline_periods / 2))
    baseline = np.where(enough, window / np.maximum(n, 1), np.nan)
    count = out["count"].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(baseline > 0, count / baseline, np.nan)
    z = (count - baseline) / np.sqrt(np.maximum(np.nan_to_num(baseline, nan=1.0), 1.0))
    out["baseline"] = baseline
    out["baseline_n"] = n
    out["ratio"] = ratio
    out["z"] = np.where(enough, z, np.nan)
    out["hot"] = (
        enough & (count >= min_count) & (np.nan_to_num(out["z"].to_numpy(np.float64), nan=-np.inf) >= z_min)
    )
    return out


# —— reading the database ——


@dataclass(frozen=True)
class _Unit:
    id: int
    code: str
    name: str
    level: DivisionLevel
    parent_id: int | None


@dataclass(frozen=True)
class _PopulationOf:
    population: int | None
    year: int | None
    division_code: str | None
    level: DivisionLevel | None
    simulated: bool


def _year_rank(pop_year: int, year: int) -> tuple[int, int]:
    """Prefer the latest population year up to ``year``, else the earliest after it."""
    return (1, pop_year) if pop_year <= year else (0, -pop_year)


class _Divisions:
    """Names, ancestors and populations of the divisions (one query each)."""

    def __init__(self, session: Session, *, year: int) -> None:
        d = Division
        self.units = {
            row.id: _Unit(row.id, row.code, row.name_zh, row.level, row.parent_id)
            for row in session.execute(select(d.id, d.code, d.name_zh, d.level, d.parent_id))
        }
        best: dict[int, tuple[int, int, bool]] = {}
        p = Population
        for division_id, pop_year, population, source in session.execute(
            select(p.division_id, p.year, p.population, p.source).where(p.age_band == "total")
        ):
            current = best.get(division_id)
            if current is None or _year_rank(pop_year, year) > _year_rank(current[0], year):
                best[division_id] = (pop_year, population, source is PopulationSource.simulated)
        self.population = best

    def chain(self, division_id: int) -> list[_Unit]:
        out: list[_Unit] = []
        current = self.units.get(division_id)
        while current is not None and len(out) < 10:
            out.append(current)
            current = self.units.get(current.parent_id) if current.parent_id is not None else None
        return out

    def ancestor(self, division_id: int, level: DivisionLevel) -> _Unit | None:
        return next((u for u in self.chain(division_id) if u.level is level), None)

    def population_of(self, division_id: int) -> _PopulationOf:
        for unit in self.chain(division_id):
            if unit.id in self.population:
                pop_year, population, simulated = self.population[unit.id]
                return _PopulationOf(population, pop_year, unit.code, unit.level, simulated)
        return _PopulationOf(None, None, None, None, False)


def _per_1000(count: int, population: int | None) -> float | None:
    return round(1000.0 * count / population, 4) if population else None


def _none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


@dataclass(frozen=True)
class HotSpot:
    """One (division, request type, period) cell scored against its baseline."""

    division_id: int
    division_code: str
    division_name: str
    division_level: DivisionLevel
    street_code: str | None
    street_name: str | None
    district_code: str | None
    district_name: str | None
    service_type_code: str
    service_type_name: str
    period: str
    period_start: date
    period_end: date
    """The day after the period's last day."""
    count: int
    baseline: float | None
    ratio: float | None
    z: float | None
    hot: bool
    per_1000: float | None
    population: int | None
    population_year: int | None
    population_division_code: str | None
    population_level: DivisionLevel | None
    """The division whose population ``per_1000`` uses (the street's when the community has none)."""
    population_simulated: bool
    """That population is simulated (模拟数据), as the demo's street populations are."""
    simulated: bool
    """Some of the requests counted are simulated (模拟数据)."""


@dataclass(frozen=True)
class HotSpotReport:
    """Hot spots of one period, hottest first, with the method's parameters."""

    period: str
    period_kind: Period
    period_start: date
    period_end: date
    baseline_periods: int
    min_count: int
    z_min: float
    rows: list[HotSpot]
    cells: int
    """Cells with any request in the period (``rows`` holds the hot ones unless asked for all)."""
    requests: int
    """Requests counted in the period (duplicates left out)."""
    simulated: bool
    notes: list[str] = field(default_factory=list)


def _parse_times(values: Sequence[Any]) -> npt.NDArray[np.datetime64]:
    # SQLite hands timestamps back as ISO text (type_coerce below): one vectorised parse instead of
    # 50,000 conversions in the driver layer
    series = pd.to_datetime(pd.Series(list(values), dtype=object), utc=True, format="ISO8601")
    return np.asarray(series.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))


def _not_duplicate() -> Any:
    r = ServiceRequest
    return or_(r.close_reason.is_(None), r.close_reason != "duplicate")


def hotspots(
    session: Session,
    *,
    day: date,
    period: Period = "week",
    baseline_periods: int = BASELINE_PERIODS,
    min_count: int = MIN_COUNT,
    z_min: float = Z_MIN,
    service_type_id: int | None = None,
    district_id: int | None = None,
    only_hot: bool = True,
    limit: int | None = None,
) -> HotSpotReport:
    """Hot spots of the period containing ``day`` (a Beijing date), hottest first.

    Parameters
    ----------
    day : any day of the period to score (the current period counts only what arrived so far)
    service_type_id, district_id : only this type, only requests located in this district
    only_hot : return only hot cells (else every cell with a request in the period, by z)
    limit : at most this many rows
    """
    kind = _check_period(period)
    if baseline_periods < 1 or min_count < 1:
        raise InvalidValueError("baseline_periods and min_count must be at least 1")
    if service_type_id is not None and session.get(ServiceType, service_type_id) is None:
        raise NotFoundError(f"request type id {service_type_id} does not exist / 诉求类型不存在")
    target = _day_index(day, kind)
    start, end = period_bounds(target, kind)
    window_start, _ = period_bounds(target - baseline_periods, kind)
    r = ServiceRequest
    first_at = session.scalar(select(func.min(type_coerce(r.requested_at, String()))).where(_not_duplicate()))
    first = int(period_index(_parse_times([first_at]), kind)[0]) if first_at is not None else target
    query = select(
        r.division_id, r.service_type_id, type_coerce(r.requested_at, String()), r.simulated
    ).where(
        r.requested_at >= _utc_instant(window_start), r.requested_at < _utc_instant(end), _not_duplicate()
    )
    if service_type_id is not None:
        query = query.where(r.service_type_id == service_type_id)
    if district_id is not None:
        query = query.where(r.district_id == district_id)
    rows = session.connection().execute(query).all()
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    periods = period_index(_parse_times(columns[2]), kind) if rows else np.zeros(0, dtype=np.int64)
    scored = find_hotspots(
        count_table(columns[0], columns[1], periods, [bool(s) for s in columns[3]]),
        first_period=first,
        baseline_periods=baseline_periods,
        min_count=min_count,
        z_min=z_min,
    )
    current = scored[scored["period"] == target]
    chosen = current[current["hot"]] if only_hot else current
    chosen = chosen.sort_values(["z", "count"], ascending=False, na_position="last")
    if limit is not None:
        chosen = chosen.head(limit)
    divisions = _Divisions(session, year=start.year)
    types = {t.id: t for t in session.scalars(select(ServiceType))}
    label = period_label(target, kind)
    out = [
        _hotspot(row, divisions, types, label=label, start=start, end=end)
        for row in chosen.itertuples(index=False)
    ]
    notes = []
    if any(h.population_level not in (None, h.division_level) for h in out):
        notes.append(
            "per_1000 uses the street's (or district's) population where the community has none "
            "(population_level) / 社区无人口数据时按所属街道人口计算"
        )
    simulated = bool(current["simulated"].sum() > 0)
    if simulated:
        notes.append(SIMULATED_NOTE)
    if any(h.population_simulated for h in out):
        notes.append("per_1000 uses simulated populations (population_simulated) / 人口为模拟数据")
    return HotSpotReport(
        period=label,
        period_kind=kind,
        period_start=start,
        period_end=end,
        baseline_periods=baseline_periods,
        min_count=min_count,
        z_min=z_min,
        rows=out,
        cells=len(current),
        requests=int(current["count"].sum()),
        simulated=simulated,
        notes=notes,
    )


def _hotspot(
    row: Any, divisions: _Divisions, types: Mapping[int, ServiceType], *, label: str, start: date, end: date
) -> HotSpot:
    division_id = int(row.division_id)
    unit = divisions.units[division_id]
    street = divisions.ancestor(division_id, DivisionLevel.street)
    district = divisions.ancestor(division_id, DivisionLevel.district)
    service_type = types[int(row.service_type_id)]
    population = divisions.population_of(division_id)
    count = int(row.count)
    return HotSpot(
        division_id=division_id,
        division_code=unit.code,
        division_name=unit.name,
        division_level=unit.level,
        street_code=street.code if street else None,
        street_name=street.name if street else None,
        district_code=district.code if district else None,
        district_name=district.name if district else None,
        service_type_code=service_type.code,
        service_type_name=service_type.name_zh,
        period=label,
        period_start=start,
        period_end=end,
        count=count,
        baseline=_none(row.baseline),
        ratio=_none(row.ratio),
        z=_none(row.z),
        hot=bool(row.hot),
        per_1000=_per_1000(count, population.population),
        population=population.population,
        population_year=population.year,
        population_division_code=population.division_code,
        population_level=population.level,
        population_simulated=population.simulated,
        simulated=int(row.simulated) > 0,
    )


@dataclass(frozen=True)
class DivisionCount:
    """Requests in one division over a date range (a map's figure)."""

    division_id: int
    division_code: str
    division_name: str
    division_level: DivisionLevel
    count: int
    per_1000: float | None
    population: int | None
    population_level: DivisionLevel | None
    population_simulated: bool
    simulated: bool


def division_counts(
    session: Session,
    *,
    start: date,
    end: date,
    level: DivisionLevel | None = None,
    service_type_id: int | None = None,
) -> list[DivisionCount]:
    """Requests per division received from ``start`` to ``end`` (Beijing dates, both included),
    most first; duplicates left out.

    Parameters
    ----------
    level : roll the divisions the requests were located in up to this level (``street``,
        ``district``); a request located above it stays on its own division. ``None``: as located.
    """
    if end < start:
        raise InvalidValueError(f"end ({end}) lies before start ({start}) / 结束日期早于开始日期")
    r = ServiceRequest
    query = (
        select(r.division_id, r.simulated, func.count(r.id))
        .where(
            r.requested_at >= _utc_instant(start),
            r.requested_at < _utc_instant(end + timedelta(days=1)),
            _not_duplicate(),
        )
        .group_by(r.division_id, r.simulated)
    )
    if service_type_id is not None:
        query = query.where(r.service_type_id == service_type_id)
    divisions = _Divisions(session, year=start.year)
    totals: dict[int, list[int]] = {}
    for division_id, simulated, count in session.execute(query):
        unit_id = division_id
        if level is not None:
            ancestor = divisions.ancestor(division_id, level)
            unit_id = ancestor.id if ancestor is not None else division_id
        entry = totals.setdefault(unit_id, [0, 0])
        entry[0] += int(count)
        entry[1] += int(count) if simulated else 0
    out = []
    for unit_id, (count, simulated_count) in totals.items():
        unit = divisions.units[unit_id]
        population = divisions.population_of(unit_id)
        out.append(
            DivisionCount(
                division_id=unit_id,
                division_code=unit.code,
                division_name=unit.name,
                division_level=unit.level,
                count=count,
                per_1000=_per_1000(count, population.population),
                population=population.population,
                population_level=population.level,
                population_simulated=population.simulated,
                simulated=simulated_count > 0,
            )
        )
    return sorted(out, key=lambda c: (-c.count, c.division_code))
