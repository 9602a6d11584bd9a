"""Turn an indicator's yearly values at the target's scope into the measure a target is judged on.

Pure functions: a level target is judged on the value itself, an increment target (新增) on the
change since the base year, a cumulative target (累计) on the sum of yearly additions since the
base year, a per-unit coverage target (每个街道至少1个) on the share of units that meet it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """The judged quantity per year, with its baseline and target in the same terms."""

    by_year: dict[int, float]
    baseline: float
    target: float
    label_zh: str
    label_en: str


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


def cumulative_measure(series: Mapping[int, float], *, base_year: int, target: float) -> Measure:
    """Running sum of yearly additions after the base year (missing years add nothing)."""
    out: dict[int, float] = {base_year: 0.0}
    total = 0.0
    for year in sorted(y for y in series if y > base_year):
        value = series[year]
        if not math.isnan(value):
            total += value
        out[year] = total
    return Measure(out, 0.0, target, "基期以来累计", "cumulative since base year")


def coverage_measure(shares: Mapping[int, float], *, base_year: int) -> Measure:
    """Share of units meeting the condition, in percent; the target is every unit (100 %)."""
    by_year = {year: share * 100 for year, share in shares.items()}
    baseline = by_year.get(base_year, math.nan)
    return Measure(by_year, baseline, 100.0, "达标单元占比(%)", "share of units meeting it (%)")
