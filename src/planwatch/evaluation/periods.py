"""Annual values from monthly or quarterly ones (年度值), vectorised over whole tables.

Targets are judged on years, but many indicators are reported by month (``2025-05``) or quarter
(``2025Q2``). :func:`annual_from_periods` turns such a table into one row per key (indicator,
division, …) and year, by the indicator's period aggregation:

- ``sum`` (求和, e.g. investment, new jobs): the total of the year's periods;
- ``last`` (取期末值, e.g. a stock such as beds or registered population): the value of the latest
  period present that year; ``last_period`` names it (``2025-11`` when December is missing);
- ``mean`` (取平均, e.g. a monthly rate): the mean over the periods present.

**Ratio indicators stay ratio-safe.** The numerator and the denominator are aggregated the same way
as the value (Σ for ``sum``, the latest period's pair for ``last``, the mean for ``mean``) and over
exactly the same periods, so an annual ratio is Σnumerator / Σdenominator × factor (for ``mean``,
mean numerator / mean denominator, the same thing) and never a sum or mean of monthly percentages.
If any period counted in the value lacks its numerator or its denominator, both annual parts are
missing (NaN) rather than taken over different months.

**Missing periods.** A period is *present* when its value is not missing; a year is ``complete``
when all its periods are present (``periods_present`` = ``periods_expected``, 12 months or 4
quarters). An incomplete year's sum is not comparable with a full year's: the ``sum`` of an
incomplete year is therefore missing (NaN, numerator and denominator too) unless
``allow_partial=True``, which gives the total of the periods present (a year-to-date figure).
``last`` and ``mean`` describe a level, not a flow, and are given for any year with at least one
period present; ``complete`` and ``periods_present`` say how much of the year they rest on. A year
with rows but no value present has a row with NaN values and ``periods_present`` = 0.

**Annual rows.** An annual table (``frequency`` annual) passes through with its values (numerator
and denominator included) unchanged, one output row per input row. A sub-annual table may also hold annual rows (``2025``): for a given
key and year, an annual row with a value wins over the monthly or quarterly rows of that year (the
annual figure is the one the statistics bureau publishes); an annual row without a value is used
only when the year has no sub-annual row. Annual rows have ``periods_expected`` = 1 and
``source_frequency`` = ``annual``.

**Keys and order.** The key columns are, unless named, every column other than ``period``,
``value``, ``numerator`` and ``denominator``. The result is sorted by key and year, and the order
of the input rows changes nothing, not even the last bit of a sum (periods are added in calendar
order).

**Refused** (:class:`PeriodFrameError`): a period that is not canonical (``2025``, ``2025Q2``,
``2025-05``), a period of another sub-annual frequency than ``frequency`` (quarters in a monthly
table), two rows for the same key and period, and a missing key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from planwatch.errors import InvalidValueError
from planwatch.models.enums import Frequency, PeriodAggregation

PERIODS_PER_YEAR = {Frequency.annual: 1, Frequency.quarterly: 4, Frequency.monthly: 12}
"""How many periods of each frequency a year holds."""

VALUE_COLUMNS = ("value", "numerator", "denominator")
OUTPUT_COLUMNS = (
    "year",
    "period",
    "value",
    "numerator",
    "denominator",
    "periods_present",
    "periods_expected",
    "complete",
    "last_period",
    "source_frequency",
)
"""Columns :func:`annual_from_periods` adds after the key columns, in this order."""

_RESERVED = frozenset({"period", *VALUE_COLUMNS, *OUTPUT_COLUMNS})
_PERIOD = re.compile(r"^(\d{4})(?:Q([1-4])|-(0[1-9]|1[0-2]))?$")
_KIND = {0: Frequency.annual, 1: Frequency.quarterly, 2: Frequency.monthly}
_KIND_CODE = {frequency: code for code, frequency in _KIND.items()}
_EXAMPLE = {Frequency.annual: "2025", Frequency.quarterly: "2025Q2", Frequency.monthly: "2025-05"}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class PeriodFrameError(InvalidValueError, ValueError):
    """A table of periodic values that cannot be turned into annual values; the message says why."""


def annual_from_periods(
    frame: pd.DataFrame,
    *,
    frequency: Frequency | str,
    method: PeriodAggregation | str,
    keys: Sequence[str] | None = None,
    allow_partial: bool = False,
) -> pd.DataFrame:
    """One row per key and year from monthly, quarterly or annual rows.

    Parameters
    ----------
    frame
        Columns: the key columns, ``period`` (canonical text: ``2025``, ``2025Q2``, ``2025-05``),
        ``value`` and, optionally, ``numerator`` and ``denominator`` (missing columns count as NaN).
        At most one row per key and period.
    frequency
        The indicator's reporting frequency. Rows must have a period of that frequency or an annual
        one.
    method
        The indicator's period aggregation: ``sum``, ``last`` or ``mean``. Ignored for annual rows.
    keys
        The key columns; by default every column that is not ``period``, a value column or an
        output column.
    allow_partial
        ``sum`` only: also give the total of the periods present for incomplete years (year to
        date). ``last`` and ``mean`` always give a value when a period is present.

    Returns
    -------
    pandas.DataFrame
        The key columns, then ``year`` (int), ``period`` (the year as text, so the result is an
        annual table), ``value``, ``numerator``, ``denominator`` (float), ``periods_present``,
        ``periods_expected`` (int), ``complete`` (bool), ``last_period`` (the latest period with a
        value, or None) and ``source_frequency`` (``annual``, ``quarterly`` or ``monthly``: the rows
        the year was built from). Sorted by the keys and year, with a fresh index, so the order of
        the input rows does not matter.

    Raises
    ------
    PeriodFrameError
        A missing ``period`` or ``value`` column or key, a period that is not canonical or not of
        ``frequency`` (or annual), or two rows for the same key and period.
    """
    freq = Frequency(frequency)
    how = PeriodAggregation(method)
    key_cols = _key_columns(frame, keys)
    n = len(frame)
    key_id = _key_ids(frame, key_cols)
    year, sub, kind = _parse_periods(frame["period"])
    bad = (kind != 0) & (kind != _KIND_CODE[freq])
    if bad.any():
        first = frame["period"].iloc[int(np.argmax(bad))]
        msg = (
            f"{int(bad.sum())} row(s) have a period that is not {freq.value} or annual, e.g. {first!r}; "
            f"write {freq.value} periods like {_EXAMPLE[freq]}"
        )
        raise PeriodFrameError(msg)
    span = int(year.max() - year.min() + 1) if n else 1
    key_year = key_id * span + (year - (int(year.min()) if n else 0))
    _refuse_duplicates(frame, key_cols, key_year * 13 + sub)
    value, num, den = (_floats(frame, col) for col in VALUE_COLUMNS)
    present = ~np.isnan(value)

    # one group per key and year; which rows count: an annual row with a value beats the
    # sub-annual rows of its year, an annual row without one only stands in for none
    group, uniques = pd.factorize(key_year)
    n_groups = len(uniques)
    annual = sub == 0
    annual_value = np.bincount(group, annual & present, minlength=n_groups) > 0
    has_sub = np.bincount(group, ~annual, minlength=n_groups) > 0
    keep = np.where(annual, present | ~has_sub[group], ~annual_value[group])
    # within a key and year each sub-period occurs once: ordering rows by it fixes the order in
    # which values are summed, so the result does not depend on the order of the input rows
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(sub[rows], kind="stable")]
    g, p, s_ = group[rows], present[rows], sub[rows]
    pair = p & ~np.isnan(num[rows]) & ~np.isnan(den[rows])

    from_annual = np.bincount(g, annual[rows], minlength=n_groups) > 0
    expected = np.where(from_annual, 1, PERIODS_PER_YEAR[freq])
    n_present = np.bincount(g, p, minlength=n_groups).astype(np.int64)
    n_pairs = np.bincount(g, pair, minlength=n_groups).astype(np.int64)
    any_present = n_present > 0
    complete = n_present == expected
    # the latest period present: the row with the largest sub-period among those with a value
    best = np.full(n_groups, -1, dtype=np.int64)
    np.maximum.at(best, g, np.where(p, s_ * max(n, 1) + rows, -1))
    last_row = np.where(best >= 0, best % max(n, 1), 0)
    last_sub = np.where(best >= 0, best // max(n, 1), -1)

    if how is PeriodAggregation.last:
        v, nu, de = value[last_row], num[last_row], den[last_row]
        v = np.where(any_present, v, np.nan)
        pairs_ok = any_present & ~np.isnan(nu) & ~np.isnan(de)
    else:
        v = _sum_by(g, np.where(p, value[rows], 0.0), n_groups)
        nu = _sum_by(g, np.where(pair, num[rows], 0.0), n_groups)
        de = _sum_by(g, np.where(pair, den[rows], 0.0), n_groups)
        if how is PeriodAggregation.mean:
            with np.errstate(divide="ignore", invalid="ignore"):
                v, nu, de = (x / n_present.astype(float) for x in (v, nu, de))
        given = any_present & ((complete | allow_partial) if how is PeriodAggregation.sum else True)
        v = np.where(given, v, np.nan)
        pairs_ok = given & (n_pairs == n_present)
    # the row that names the key and year: the latest with a value, else any (an annual group has one)
    anyrow = np.zeros(n_groups, dtype=np.int64)
    anyrow[g] = rows
    one = np.where(any_present, last_row, anyrow)
    # an annual row passes through as it is
    v = np.where(from_annual, value[one], v)
    nu = np.where(from_annual, num[one], np.where(pairs_ok, nu, np.nan))
    de = np.where(from_annual, den[one], np.where(pairs_ok, de, np.nan))

    out = frame[key_cols].iloc[one].reset_index(drop=True)
    out["year"] = year[one]
    out["period"] = _year_text(out["year"].to_numpy(dtype=np.int64))
    out["value"] = v
    out["numerator"] = nu
    out["denominator"] = de
    out["periods_present"] = n_present
    out["periods_expected"] = expected.astype(np.int64)
    out["complete"] = complete
    out["last_period"] = _period_text(out["year"].to_numpy(dtype=np.int64), last_sub, freq)
    out["source_frequency"] = np.where(from_annual, Frequency.annual.value, freq.value)
    out = out.sort_values([*key_cols, "year"], kind="stable").reset_index(drop=True)
    return out[[*key_cols, *OUTPUT_COLUMNS]]


def _key_columns(frame: pd.DataFrame, keys: Sequence[str] | None) -> list[str]:
    missing = [c for c in ("period", "value") if c not in frame.columns]
    if missing:
        msg = f"the table has no {' or '.join(repr(c) for c in missing)} column (columns: {list(frame.columns)})"
        raise PeriodFrameError(msg)
    if keys is None:
        return [str(c) for c in frame.columns if c not in _RESERVED]
    key_cols = list(keys)
    unknown = [k for k in key_cols if k not in frame.columns]
    clash = [k for k in key_cols if k in _RESERVED]
    if unknown or clash:
        msg = f"key columns {unknown or clash} are {'not in the table' if unknown else 'reserved names'}"
        raise PeriodFrameError(msg)
    return key_cols


def _key_ids(frame: pd.DataFrame, key_cols: list[str]) -> IntArray:
    """One integer per distinct combination of the key columns."""
    ids = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for key in key_cols:
        codes, uniques = pd.factorize(frame[key])
        holes = int((codes < 0).sum())
        if holes:
            msg = f"key column {key!r} is empty in {holes} row(s); every row needs a key"
            raise PeriodFrameError(msg)
        ids = ids * len(uniques) + codes
        size *= len(uniques)
        if size > 2**40:  # keep the combined id far from overflowing
            ids, dense = pd.factorize(ids)
            size = len(dense)
    return ids


def _refuse_duplicates(frame: pd.DataFrame, key_cols: list[str], row_id: IntArray) -> None:
    duplicated = pd.Series(row_id).duplicated().to_numpy()
    if duplicated.any():
        at = int(np.argmax(duplicated))
        where = ", ".join(f"{k}={frame[k].iloc[at]!r}" for k in key_cols)
        msg = (
            f"{int(duplicated.sum())} duplicate row(s) for the same key and period, e.g. {where}, "
            f"period {frame['period'].iloc[at]!r}; keep one row per key and period"
        )
        raise PeriodFrameError(msg)


def _floats(frame: pd.DataFrame, col: str) -> FloatArray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        return pd.to_numeric(frame[col], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        msg = f"column {col!r} holds a value that is not a number: {exc}"
        raise PeriodFrameError(msg) from exc


def _parse_periods(periods: pd.Series) -> tuple[IntArray, IntArray, IntArray]:
    """Year, sub-period (0 annual, else quarter or month) and kind (0 annual, 1 quarterly,
    2 monthly) per row, parsing each distinct period once."""
    raw = periods if isinstance(periods.dtype, pd.CategoricalDtype) else periods.to_numpy(dtype=object)
    codes, uniques = pd.factorize(raw)
    if (codes < 0).any():
        msg = f"{int((codes < 0).sum())} row(s) have no period"
        raise PeriodFrameError(msg)
    u_year = np.zeros(len(uniques), dtype=np.int64)
    u_sub = np.zeros(len(uniques), dtype=np.int64)
    u_kind = np.zeros(len(uniques), dtype=np.int64)
    for i, text in enumerate(uniques):
        match = _PERIOD.match(str(text))
        if match is None:
            msg = f"{text!r} is not a period; write 2025 (annual), 2025Q2 (quarterly) or 2025-05 (monthly)"
            raise PeriodFrameError(msg)
        u_year[i] = int(match[1])
        if match[2]:
            u_sub[i], u_kind[i] = int(match[2]), 1
        elif match[3]:
            u_sub[i], u_kind[i] = int(match[3]), 2
    return u_year[codes], u_sub[codes], u_kind[codes]


def _sum_by(group: IntArray, weights: FloatArray, n_groups: int) -> FloatArray:
    """Σ weights per group, added in row order (so the same order gives the same bits)."""
    return np.asarray(np.bincount(group, weights, minlength=n_groups), dtype=np.float64)


def _year_text(year: IntArray) -> npt.NDArray[np.object_]:
    return np.asarray(year.astype(str), dtype=object)


def _period_text(year: IntArray, sub: IntArray, freq: Frequency) -> npt.NDArray[np.object_]:
    """Canonical period text from year and sub-period (0: the year itself); None where it is < 0."""
    suffixes = np.array(
        [""] + [f"Q{q}" if freq is Frequency.quarterly else f"-{q:02d}" for q in range(1, 13)], dtype=object
    )
    text = np.asarray(_year_text(year) + suffixes[np.clip(sub, 0, 12)], dtype=object)
    text[sub < 0] = None
    return text
