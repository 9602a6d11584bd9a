"""Turn an indicator's yearly values at the target's scope into the measure a target is judged on.

Pure functions: a level target is judged on the value itself, an increment target (新增) on the
change since the base year, a per-year increment (每年新增) on each year's change, a cumulative
target (累计) on the sum of yearly additions since the base year, a per-unit coverage target
(每个街道至少1个) on the share of units that meet it, an average-annual-rate target (年均增长) on
the compound annual rate since the base year, a rate-of-change target (降低 13.5 %) on the
cumulative change since the base year, a trend target (持续下降) on the direction of the last
year-on-year changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from planwatch.evaluation.progress import annual_rate


@dataclass(frozen=True)
class Measure:
    """The judged quantity per year, with its baseline and target in the same terms."""

    by_year: dict[int, float]
    baseline: float
    target: float
    label_zh: str
    label_en: str
    per_period: bool = False
    """Each year is judged on its own (每年新增 N): the period is complete when it has data."""
    gaps: list[int] = field(default_factory=list)
    """Years after the base year with no value, which a running sum silently skips."""
    values: dict[int, float] = field(default_factory=dict)
    """The indicator's own values at the scope the measure was computed from (the data used)."""
    reference: dict[int, float] = field(default_factory=dict)
    """A relative target's reference series (e.g. the national standard) per year."""
    start: float = math.nan
    """Rate targets: the indicator's value in the base year the rates are counted from."""


def level_measure(series: Mapping[int, float], *, baseline: float, target: float) -> Measure:
    return Measure(dict(series), baseline, target, "指标值", "value", values=dict(series))


def increment_measure(
    series: Mapping[int, float], *, base_year: int, baseline: float, target: float
) -> Measure:
    """Change since the base year; ``baseline`` is the stock in the base year."""
    return Measure(
        {year: value - baseline for year, value in series.items() if year >= base_year},
        0.0,
        target,
        "较基期新增",
        "increase since base year",
        values=dict(series),
    )


def yearly_increase_measure(series: Mapping[int, float], *, base_year: int, target: float) -> Measure:
    """Each year's change on the year before (每年新增 N); a year without the year before is left out."""
    by_year = {
        year: series[year] - series[year - 1]
        for year in sorted(series)
        if year > base_year and year - 1 in series
    }
    last = max(series, default=base_year)
    gaps = [year for year in range(base_year + 1, last + 1) if year not in by_year]
    return Measure(
        by_year,
        0.0,
        target,
        "当年新增",
        "increase in the year",
        per_period=True,
        gaps=gaps,
        values=dict(series),
    )


def cumulative_measure(series: Mapping[int, float], *, base_year: int, target: float) -> Measure:
    """Running sum of yearly additions after the base year; years with no value are listed in ``gaps``."""
    out: dict[int, float] = {base_year: 0.0}
    total = 0.0
    last = max(series, default=base_year)
    gaps = [year for year in range(base_year + 1, last + 1) if year not in series or math.isnan(series[year])]
    for year in sorted(y for y in series if y > base_year):
        value = series[year]
        if not math.isnan(value):
            total += value
        out[year] = total
    return Measure(
        out, 0.0, target, "基期以来累计", "cumulative since base year", gaps=gaps, values=dict(series)
    )


def coverage_measure(shares: Mapping[int, float], *, base_year: int) -> Measure:
    """Share of units meeting the condition, in percent; the target is every unit (100 %)."""
    by_year = {year: share * 100 for year, share in shares.items()}
    baseline = by_year.get(base_year, math.nan)
    return Measure(by_year, baseline, 100.0, "达标单元占比(%)", "share of units meeting it (%)")


def annual_rate_measure(
    series: Mapping[int, float], *, base_year: int, baseline: float, target: float, higher_is_better: bool
) -> Measure:
    """The compound average annual rate (%) from the base year to each later year, counted in the
    good direction: growth for an indicator where higher is better (年均增长), decline where lower
    is better (年均下降). The target is the required rate; the baseline is 0 (no change)."""
    sign = 1.0 if higher_is_better else -1.0
    years = sorted(y for y in series if y > base_year)
    rates = annual_rate(baseline, [series[y] for y in years], [y - base_year for y in years]) * sign
    label_zh, label_en = ("年均增长(%)", "average annual growth (%)")
    if not higher_is_better:
        label_zh, label_en = ("年均下降(%)", "average annual decline (%)")
    return Measure(
        dict(zip(years, rates.tolist(), strict=True)), 0.0, target, label_zh, label_en, values=dict(series)
    )


def change_measure(
    series: Mapping[int, float], *, base_year: int, baseline: float, target: float, higher_is_better: bool
) -> Measure:
    """The cumulative change (%) since the base year, in the good direction: an increase where
    higher is better (提高), a reduction where lower is better (降低). NaN unless the baseline is
    positive."""
    sign = 1.0 if higher_is_better else -1.0
    by_year = {
        y: (v / baseline - 1.0) * 100.0 * sign if baseline > 0 else math.nan
        for y, v in series.items()
        if y > base_year
    }
    label_zh, label_en = ("较基期提高(%)", "increase since base year (%)")
    if not higher_is_better:
        label_zh, label_en = ("较基期降低(%)", "reduction since base year (%)")
    return Measure(by_year, 0.0, target, label_zh, label_en, values=dict(series))


def required_rate(*, current: float, goal: float, years_left: int) -> float:
    """The average annual rate (%) the remaining years need to bring ``current`` to ``goal``;
    NaN when no year is left or either is not positive."""
    if years_left <= 0 or current <= 0 or goal <= 0:
        return math.nan
    return float(((goal / current) ** (1.0 / years_left) - 1.0) * 100.0)


@dataclass(frozen=True)
class TrendCheck:
    """The year-on-year changes of a trend target's window and how many went the required way."""

    changes: dict[int, float]
    """Year → change from the year before, for the judged years (newest last)."""
    right: int
    """How many changes went the required way (a change of 0 did not)."""
    overall: float
    """The latest value minus the baseline."""

    @property
    def share(self) -> float:
        return self.right / len(self.changes) if self.changes else math.nan


def trend_check(
    series: Mapping[int, float], *, base_year: int, up_to: int, window: int, increasing: bool, baseline: float
) -> TrendCheck | None:
    """The last ``window`` year-on-year changes after the base year up to ``up_to``; a change needs
    the year and the year before. None when there is no such change."""
    years = sorted(y for y, v in series.items() if base_year < y <= up_to and not math.isnan(v))
    pairs = [y for y in years if y - 1 in series and not math.isnan(series[y - 1])][-window:]
    if not pairs:
        return None
    changes = {y: series[y] - series[y - 1] for y in pairs}
    sign = 1.0 if increasing else -1.0
    right = sum(1 for change in changes.values() if change * sign > 0)
    return TrendCheck(changes, right, series[years[-1]] - baseline)
