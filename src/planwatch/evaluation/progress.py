"""Progress and status of a target: time progress τ (序时进度), actual progress π and r = π / τ.

All functions take scalars or numpy arrays and broadcast; they never touch the database.
See ``docs/evaluation.md`` for the rules and where they come from.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
import numpy.typing as npt

from planwatch.config import StatusThresholds

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


class Status(enum.StrEnum):
    """The status of a target in a given year."""

    achieved = "achieved"
    ahead = "ahead"
    on_track = "on_track"
    lagging = "lagging"
    seriously_lagging = "seriously_lagging"
    missed = "missed"
    not_evaluable = "not_evaluable"

    @property
    def zh(self) -> str:
        return _STATUS_ZH[self]

    @property
    def en(self) -> str:
        return _STATUS_EN[self]


_STATUS_ZH = {
    Status.achieved: "已实现",
    Status.ahead: "快于预期",
    Status.on_track: "基本符合预期",
    Status.lagging: "滞后",
    Status.seriously_lagging: "严重滞后",
    Status.missed: "未完成",
    Status.not_evaluable: "无法评估",
}
_STATUS_EN = {
    Status.achieved: "Achieved",
    Status.ahead: "Ahead",
    Status.on_track: "On track",
    Status.lagging: "Lagging",
    Status.seriously_lagging: "Seriously lagging",
    Status.missed: "Missed",
    Status.not_evaluable: "Not evaluable",
}


def time_progress(year: ArrayLike, base_year: ArrayLike, deadline: ArrayLike) -> FloatArray:
    """τ = (year − base year) / (deadline − base year), clipped to [0, 1].

    The share of the plan's time that has passed (序时进度). NaN where deadline <= base year.
    """
    year_a = np.asarray(year, dtype=float)
    base_a = np.asarray(base_year, dtype=float)
    span = np.asarray(deadline, dtype=float) - base_a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tau = np.where(span > 0, (year_a - base_a) / span, np.nan)
    return np.asarray(np.clip(tau, 0.0, 1.0), dtype=float)


def actual_progress(
    actual: ArrayLike,
    baseline: ArrayLike,
    target: ArrayLike,
    *,
    higher_is_better: ArrayLike,
    met: ArrayLike | None = None,
) -> FloatArray:
    """π = (actual − baseline) / (target − baseline), direction-aware.

    π is the share of the required change achieved so far. It is negative when the value moved
    the wrong way and above 1 when it went beyond the target. Where no change was required (the
    baseline already sat on or beyond the target), π is 1 while the target is met and 0 otherwise;
    ``met`` says whether it is (default: the actual value is on the good side of the target).
    """
    actual_a = np.asarray(actual, dtype=float)
    baseline_a = np.asarray(baseline, dtype=float)
    target_a = np.asarray(target, dtype=float)
    sign = np.where(np.asarray(higher_is_better, dtype=bool), 1.0, -1.0)
    required = (target_a - baseline_a) * sign
    achieved = (actual_a - baseline_a) * sign
    meets = (actual_a - target_a) * sign >= 0 if met is None else np.asarray(met, dtype=bool)
    # a required change of a subnormal size overflows to ±inf: far beyond the target, not an error
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pi = np.where(required > 0, achieved / required, np.where(meets, 1.0, 0.0))
    nan = np.isnan(actual_a) | np.isnan(baseline_a) | np.isnan(target_a)
    return np.asarray(np.where(nan, np.nan, pi), dtype=float)


def band_progress(
    actual: ArrayLike, baseline: ArrayLike, low: ArrayLike, high: ArrayLike, *, met: ArrayLike | None = None
) -> FloatArray:
    """π for a two-sided target (a range, ``=`` or ``~``): 1 − d(actual) / d(baseline), where d is
    the distance to the band [low, high] (0 inside it).

    Overshooting to the far side of the band is distance too, so it is never "ahead". If the
    baseline was already in the band, π is 1 while the target is met and 0 otherwise.
    """
    low_a, high_a = np.asarray(low, dtype=float), np.asarray(high, dtype=float)

    def distance(x: ArrayLike) -> FloatArray:
        x_a = np.asarray(x, dtype=float)
        return np.asarray(np.maximum(low_a - x_a, 0.0) + np.maximum(x_a - high_a, 0.0), dtype=float)

    d0, d = distance(baseline), distance(actual)
    inside = d == 0 if met is None else np.asarray(met, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pi = np.where(d0 > 0, 1.0 - d / d0, np.where(inside, 1.0, 0.0))
    nan = np.isnan(np.asarray(actual, dtype=float)) | np.isnan(np.asarray(baseline, dtype=float))
    return np.asarray(np.where(nan, np.nan, pi), dtype=float)


APPROX_TOLERANCE = 0.02
"""``~`` (左右/约/接近) is met within 2 % of the value."""

_COMPARE = {
    ">=": np.greater_equal,
    ">": np.greater,
    "<=": np.less_equal,
    "<": np.less,
}


def is_met(
    actual: ArrayLike,
    comparator: str,
    value: ArrayLike = np.nan,
    *,
    low: ArrayLike = np.nan,
    high: ArrayLike = np.nan,
    tolerance: float = APPROX_TOLERANCE,
) -> npt.NDArray[np.bool_]:
    """Whether ``actual`` meets the target ``comparator value`` (or lies in [low, high]).

    ``=`` is met within 1e-9 relative, ``~`` (左右/约) within ``tolerance`` relative (2 % by
    default). NaN actual values never meet a target.
    """
    actual_a = np.asarray(actual, dtype=float)
    low_a, high_a = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    if not np.all(np.isnan(low_a)) or not np.all(np.isnan(high_a)):
        met: Any = (actual_a >= low_a) & (actual_a <= high_a)
    elif comparator in _COMPARE:
        met = _COMPARE[comparator](actual_a, np.asarray(value, dtype=float))
    elif comparator in {"=", "~"}:
        value_a = np.asarray(value, dtype=float)
        rel = 1e-9 if comparator == "=" else tolerance
        met = np.abs(actual_a - value_a) <= rel * np.maximum(np.abs(value_a), 1e-12)
    else:
        msg = f"comparator {comparator!r} has no fixed value to meet; use a trend evaluation"
        raise ValueError(msg)
    return np.asarray(met & ~np.isnan(actual_a), dtype=bool)


def classify(
    tau: ArrayLike,
    pi: ArrayLike,
    met: ArrayLike,
    thresholds: StatusThresholds | None = None,
) -> npt.NDArray[np.str_]:
    """Status per element from τ, π and whether the target is met.

    ``achieved`` if met. Otherwise, once the deadline is reached (τ = 1), ``missed``; before it,
    by r = π / τ: ``ahead`` (r ≥ 1.05), ``on_track`` (0.95 ≤ r < 1.05), ``lagging``
    (0.7 ≤ r < 0.95), ``seriously_lagging`` (r < 0.7). With no time elapsed (τ = 0) or no π, the
    status is ``not_evaluable``. Thresholds are settings.
    """
    tau_a = np.asarray(tau, dtype=float)
    return classify_ratio(progress_ratio(tau_a, pi), met, final=tau_a >= 1, thresholds=thresholds)


def classify_ratio(
    ratio: ArrayLike,
    met: ArrayLike,
    *,
    final: ArrayLike,
    thresholds: StatusThresholds | None = None,
) -> npt.NDArray[np.str_]:
    """Status per element from a progress ratio r (achieved against expected by now).

    The one set of cut-offs every kind of target shares: r = π / τ for level-like targets, the
    achieved average annual rate over the required one, the achieved cumulative change over the
    compounding path. ``achieved`` if met; ``not_evaluable`` where r is NaN; ``missed`` where
    ``final`` (the deadline is reached) and not met; else ``ahead`` / ``on_track`` / ``lagging``
    / ``seriously_lagging`` by the thresholds.
    """
    t = thresholds or StatusThresholds()
    r = np.asarray(ratio, dtype=float)
    met_a = np.asarray(met, dtype=bool)
    status = np.select(
        [met_a, np.isnan(r), np.asarray(final, dtype=bool), r >= t.ahead, r >= t.on_track, r >= t.lagging],
        [
            Status.achieved.value,
            Status.not_evaluable.value,
            Status.missed.value,
            Status.ahead.value,
            Status.on_track.value,
            Status.lagging.value,
        ],
        default=Status.seriously_lagging.value,
    )
    return np.asarray(status, dtype=str)


def expected_change(rate: ArrayLike, tau: ArrayLike, *, higher_is_better: ArrayLike) -> FloatArray:
    """The cumulative change (in %, in the good direction) a rate-of-change target expects by τ.

    A target of r % over the plan (降低 13.5 %, 提高 10 %) is read as a constant yearly rate, so the
    expected path compounds: a reduction of r expects 1 − (1 − r)^τ by time progress τ, an increase
    (1 + r)^τ − 1. At τ = 1 both give r; halfway through, a 13.5 % reduction expects 7.0 %, not
    the linear 6.75 %.
    """
    r = np.asarray(rate, dtype=float) / 100.0
    tau_a = np.asarray(tau, dtype=float)
    with np.errstate(invalid="ignore"):
        down = 1.0 - np.power(1.0 - r, tau_a)
        up = np.power(1.0 + r, tau_a) - 1.0
    return np.asarray(np.where(np.asarray(higher_is_better, dtype=bool), up, down) * 100.0, dtype=float)


def annual_rate(first: ArrayLike, last: ArrayLike, years: ArrayLike) -> FloatArray:
    """Compound average annual growth in % from ``first`` to ``last`` over ``years`` years.

    NaN where it is undefined: no years elapsed, or the values are not both positive (a CAGR of a
    series that crosses zero means nothing).
    """
    a, b = np.asarray(first, dtype=float), np.asarray(last, dtype=float)
    n = np.asarray(years, dtype=float)
    ok = (a > 0) & (b > 0) & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rate = np.power(np.where(ok, b / a, np.nan), 1.0 / np.where(ok, n, np.nan)) - 1.0
    return np.asarray(np.where(ok, rate * 100.0, np.nan), dtype=float)


def trend_status(share: ArrayLike, overall: ArrayLike, *, final: ArrayLike) -> npt.NDArray[np.str_]:
    """Status of a trend target (持续下降/逐年提高) from the share of year-on-year changes that went
    the required way in the window and whether the latest value is on the required side of the
    baseline (``overall``).

    At the deadline: ``achieved`` when every change in the window went the required way and the
    value ended on the required side of the baseline, else ``missed``. Before it: ``on_track``
    when every change went the required way and the value is on the required side of the baseline
    (a trend has no "ahead"), ``lagging`` when at least half the changes went the required way or
    the value is on the required side of the baseline, else ``seriously_lagging``.
    NaN share: ``not_evaluable``.
    """
    s = np.asarray(share, dtype=float)
    right = np.asarray(overall, dtype=bool)
    final_a = np.asarray(final, dtype=bool)
    full = (s >= 1.0) & right
    status = np.select(
        [np.isnan(s), final_a & full, final_a, full, (s >= 0.5) | right],
        [
            Status.not_evaluable.value,
            Status.achieved.value,
            Status.missed.value,
            Status.on_track.value,
            Status.lagging.value,
        ],
        default=Status.seriously_lagging.value,
    )
    return np.asarray(status, dtype=str)


def progress_ratio(tau: ArrayLike, pi: ArrayLike) -> FloatArray:
    """r = π / τ; NaN where τ = 0."""
    tau_a = np.asarray(tau, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(np.where(tau_a > 0, np.asarray(pi, dtype=float) / tau_a, np.nan), dtype=float)
