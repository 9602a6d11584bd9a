"""Turn an indicator's yearly values at the target's scope into the measure a target is judged on.

Pure functions: a level target is judged on the value itself, an increment target (新增) on the
change since the base year, a per-year increment (每年新增) on each year's change, a cumulative
target (累计) on the sum of yearly additions since the base year, a per-unit coverage target
(每个街道至少1个) on the share of units that meet it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


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


def level_measure(series: Mapping[int, float], *, baseline: float, target: float) -> Measure:
    return Measure(dict(series), baseline, target, "指标值", "value")


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
    return Measure(by_year, 0.0, target, "当年新增", "increase in the year", per_period=True, gaps=gaps)


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
    return Measure(out, 0.0, target, "基期以来累计", "cumulative since base year", gaps=gaps)


def coverage_measure(shares: Mapping[int, float], *, base_year: int) -> Measure:
    """Share of units meeting the condition, in percent; the target is every unit (100 %)."""
    by_year = {year: share * 100 for year, share in shares.items()}
    baseline = by_year.get(base_year, math.nan)
    return Measure(by_year, baseline, 100.0, "达标单元占比(%)", "share of units meeting it (%)")
