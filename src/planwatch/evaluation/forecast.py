"""Forecast a target's value at its deadline from its trend: projection, interval, probability, gap.

This is planwatch's version of UN ESCAP's *anticipated progress index* (``docs/evaluation.md``,
``../shared/reference/plan-monitoring-systems.md`` §c3): the value in the target year is projected by a
time-weighted linear regression in which recent years weigh more, and the *anticipated gap* is the
shortfall of the projection relative to the progress required between the base year and the target
year. planwatch adds a prediction interval and the probability of meeting the target.

Method, for each series (a division × indicator), all series at once:

1. **Data.** The years with a finite value; missing years (NaN) are skipped. At least 3 are needed,
   otherwise there is no forecast (reason "fewer than 3 data points"); a series without a deadline
   has none either ("no deadline").
2. **Model.** ``linear``: value = a + b·year. ``loglinear``: log(value) = a + b·year (constant growth
   rate), used only where every value used is > 0; otherwise the series is fitted ``linear`` and its
   ``note`` says so.
3. **Weights.** w(t) = 0.5 ** ((t_last − t) / h), with t_last the series' latest data year and the
   half-life h = 5 years by default (one plan period): the latest year weighs 1, a year 5 years
   older 0.5, 10 years older 0.25. ESCAP weighs recent years more (ESCAP Statistics Division working
   paper SD/WP/04, March 2017, "Weighted extrapolation method for measuring SDGs"; its exact
   weights are not reproduced here);
   planwatch chose exponential decay because the ratio of two years' weights depends only on how far
   apart they are, not on where the series starts, and it has one readable parameter
   (h = ∞ gives ordinary least squares).
4. **Fit.** Weighted least squares: with x̄ = Σwx/Σw, ȳ = Σwy/Σw, Sxx = Σw(x − x̄)²,
   slope b = Σw(x − x̄)(y − ȳ)/Sxx, fitted ŷ(x) = ȳ + b(x − x̄); the projection is ŷ at the deadline
   x₀ (for ``loglinear`` exp(ŷ), the median of the predicted value).
5. **Interval.** The weights are read as relative precisions (Var eᵢ = σ²/wᵢ), normalised so that
   the latest year has weight 1; the future value at the deadline gets that same weight 1.
   σ̂² = Σw(y − ŷ)²/(n − 2) with n the number of data points (the weights are not turned into an
   "effective" sample size), and the standard error of prediction is
   se = σ̂·√(1 + 1/Σw + (x₀ − x̄)²/Sxx) (the textbook WLS prediction interval for a new
   observation of weight 1: its own noise plus the fitted line's uncertainty at x₀). Scaling all
   weights, the new one included, changes nothing. The ``level`` (80 %) interval is
   ŷ(x₀) ± q·se with q the (1 + level)/2 quantile of Student's t with n − 2 degrees of freedom. For
   ``loglinear`` it is computed on the log scale and exponentiated.
6. **Probability** of meeting the target at the deadline, under the same predictive distribution
   Y = ŷ(x₀) + se·T(n − 2): P(Y ≥ target) where higher is better, P(Y ≤ target) where lower is
   better, P(low ≤ Y ≤ high) for a range. A perfect fit (σ̂ ≤ 1e-9 × (|ȳ| + weighted sd of y),
   i.e. only rounding left) has a zero-width interval and probability 1 or 0, comparing within 1e-9 relative.
7. **Anticipated gap** (ESCAP): the share of the required progress that the projection falls short
   by, (target − projected)/(target − baseline), signs flipped where lower is better; 0 when the
   projection meets the target, above 1 when it is projected to end worse than the baseline, NaN
   when no progress was required (the baseline already met the target) or there is no baseline.
   For a range it is d(projected)/d(baseline), d the distance to the band (as in ``band_progress``).

The Student t CDF is computed here in closed form for whole degrees of freedom (Abramowitz &
Stegun 26.7.3–4; n − 2 is always whole) and its quantiles by bisection on it, so the module needs
only numpy (scipy is not among planwatch's dependencies); both agree with ``scipy.stats.t`` to
about 1e-15.

All functions are pure: no database. ``forecast_many`` is vectorised across series: it loops only
over the T year columns and the degrees of freedom, never over series (1,000,000 series × 11 years
take about a second). ``forecast_series`` is the one-series convenience built on it.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
ArrayLike = npt.ArrayLike

DEFAULT_HALF_LIFE = 5.0
"""Years after which a data point weighs half as much as the latest one (one plan period)."""

DEFAULT_LEVEL = 0.8
"""Coverage of the prediction interval."""

MIN_POINTS = 3
"""Fewer data points than this are not forecast."""

PERFECT_FIT_TOLERANCE = 1e-9
"""A residual scale at or below this share of the values' size is rounding: the fit is exact."""

LINEAR = "linear"
LOGLINEAR = "loglinear"
MODELS = (LINEAR, LOGLINEAR)


class Reason(enum.StrEnum):
    """Why a series was not forecast (``ok``: it was)."""

    ok = ""
    too_few_points = "fewer than 3 data points"
    no_deadline = "no deadline"


LOGLINEAR_FALLBACK_NOTE = "loglinear needs every value > 0: fitted linear"

REASONS = tuple(Reason)
"""``ForecastBatch.reason_code`` indexes this tuple."""
_REASON_TEXT = np.array([r.value for r in REASONS])
_REASON_CODE = {r: i for i, r in enumerate(REASONS)}


@dataclass(frozen=True)
class ForecastBatch:
    """Forecasts of n series at their deadlines; every field is an array of length n.

    Series that could not be forecast have a non-empty ``reason`` and NaN in every float field.
    ``probability`` is NaN without a target; ``anticipated_gap`` is NaN without a baseline or when no
    progress was required.
    """

    projected: FloatArray
    """The value expected at the deadline (for ``loglinear``: the median)."""
    lower: FloatArray
    """Lower end of the ``level`` prediction interval at the deadline."""
    upper: FloatArray
    """Upper end of the ``level`` prediction interval at the deadline."""
    probability: FloatArray
    """Probability that the value at the deadline meets the target."""
    anticipated_gap: FloatArray
    """Share of the required progress the projection falls short by (0: meets the target)."""
    points: IntArray
    """Number of data points (years with a finite value)."""
    model: StrArray
    """``linear`` or ``loglinear``, the model actually fitted ("" where not forecast)."""
    reason_code: npt.NDArray[np.int8]
    """Why a series was not forecast: the index of its :class:`Reason` in ``REASONS`` (0: it was).
    Codes keep a million-series batch small; ``reason`` spells them out."""
    fallback: BoolArray
    """``loglinear`` was asked for but a value was ≤ 0, so ``linear`` was fitted (``note`` says so)."""
    slope: FloatArray
    """Fitted change per year: in the value's unit (``linear``) or in log units (``loglinear``)."""
    se: FloatArray
    """Standard error of prediction at the deadline, on the model's scale (log for ``loglinear``)."""
    df: IntArray
    """Degrees of freedom, points − 2 (0 where not forecast)."""
    deadline: FloatArray
    """The deadline year of each series."""

    def __len__(self) -> int:
        return int(self.projected.shape[0])

    @property
    def forecast(self) -> BoolArray:
        """Whether each series was forecast."""
        return np.asarray(self.reason_code == 0, dtype=bool)

    @property
    def reason(self) -> StrArray:
        """Why each series was not forecast ("" where it was): a :class:`Reason` value."""
        return np.asarray(_REASON_TEXT[self.reason_code], dtype=str)

    @property
    def note(self) -> StrArray:
        """ "" or a remark on a forecast made: that ``loglinear`` fell back to ``linear``."""
        return np.asarray(np.where(self.fallback, LOGLINEAR_FALLBACK_NOTE, ""), dtype=str)

    def fitted(self, years: ArrayLike) -> FloatArray:
        """The fitted trend line at ``years``: an (n, len(years)) array (NaN where not forecast)."""
        years_a = np.asarray(years, dtype=float).reshape(1, -1)
        log = (self.model == LOGLINEAR)[:, None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            at_deadline = np.where(
                log[:, 0], np.log(np.where(log[:, 0], self.projected, 1.0)), self.projected
            )
            line = at_deadline[:, None] + self.slope[:, None] * (years_a - self.deadline[:, None])
            return np.asarray(np.where(log, np.exp(line), line), dtype=float)


@dataclass(frozen=True)
class Forecast:
    """The forecast of one series (see :class:`ForecastBatch` for the fields)."""

    projected: float
    lower: float
    upper: float
    probability: float
    anticipated_gap: float
    points: int
    model: str
    note: str
    trajectory: dict[int, float]
    """Fitted value for every year from the first data year to the deadline, for charts."""


def _per_series(value: ArrayLike, n: int, name: str, dtype: type = float) -> npt.NDArray[np.generic]:
    arr: npt.NDArray[np.generic] = np.asarray(value, dtype=dtype)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] not in (1, n)):
        msg = f"{name} must be a scalar or have one value per series ({n}), not shape {arr.shape}"
        raise ValueError(msg)
    return np.broadcast_to(arr, (n,))


def forecast_many(
    years: ArrayLike,
    values: ArrayLike,
    *,
    deadline: ArrayLike,
    target: ArrayLike,
    higher_is_better: ArrayLike,
    baseline: ArrayLike,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    model: str | ArrayLike = LINEAR,
    level: float = DEFAULT_LEVEL,
    half_life: float = DEFAULT_HALF_LIFE,
) -> ForecastBatch:
    """Forecast many series at their deadlines at once (method: see the module docstring).

    Parameters
    ----------
    years
        The T data years, distinct (any order), shared by all series.
    values
        An (n, T) array: one row per series, NaN where a year has no value.
    deadline
        The year to project to, per series (or one for all). NaN: not forecast.
    target
        The one-sided target value per series (ignored for a range; NaN: no probability or gap).
    higher_is_better
        Per series: the target is met at or above ``target`` (True) or at or below it (False).
    baseline
        The base-year value the required progress is measured from (NaN: no gap).
    low, high
        Two-sided targets: the band [low, high], per series; NaN on both sides for a one-sided
        target, NaN on one side for an open band.
    model
        ``"linear"`` or ``"loglinear"``, for all series or per series.
    level
        Coverage of the prediction interval, in (0, 1).
    half_life
        Years after which a point weighs half as much as the latest one (``math.inf``: equal weights).

    Returns
    -------
    ForecastBatch
        Arrays of length n.
    """
    years_a = np.asarray(years, dtype=float)
    vals = np.asarray(values, dtype=float)
    if years_a.ndim != 1 or not np.all(np.isfinite(years_a)):
        msg = "years must be a 1-D array of finite years"
        raise ValueError(msg)
    if np.unique(years_a).shape[0] != years_a.shape[0]:
        msg = "years must be distinct"
        raise ValueError(msg)
    if vals.ndim != 2 or vals.shape[1] != years_a.shape[0]:
        msg = f"values must be an (n series, {years_a.shape[0]} years) array, not shape {vals.shape}"
        raise ValueError(msg)
    if not 0.0 < level < 1.0:
        msg = f"level must lie strictly between 0 and 1, not {level}"
        raise ValueError(msg)
    if not half_life > 0.0:
        msg = f"half_life must be > 0 years, not {half_life}"
        raise ValueError(msg)
    n = vals.shape[0]
    deadline_a = np.asarray(_per_series(deadline, n, "deadline"), dtype=float)
    target_a = np.asarray(_per_series(target, n, "target"), dtype=float)
    better = np.asarray(_per_series(higher_is_better, n, "higher_is_better", bool), dtype=bool)
    baseline_a = np.asarray(_per_series(baseline, n, "baseline"), dtype=float)
    low_a = np.asarray(_per_series(np.nan if low is None else low, n, "low"), dtype=float)
    high_a = np.asarray(_per_series(np.nan if high is None else high, n, "high"), dtype=float)
    if np.any(low_a > high_a):
        msg = "a range target needs low <= high"
        raise ValueError(msg)
    want_log = _wants_loglinear(model, n)

    # Work on (T, n): each year is a contiguous row, sums over years add whole rows.
    y = np.array(vals.T, order="C")  # a copy: the caller's array is never written to
    valid = np.isfinite(y)
    points = valid.sum(axis=0).astype(np.int64)
    reason = np.zeros(n, dtype=np.int8)
    reason[points < MIN_POINTS] = _REASON_CODE[Reason.too_few_points]
    reason[np.isnan(deadline_a) & (points >= MIN_POINTS)] = _REASON_CODE[Reason.no_deadline]
    ok = reason == 0

    positive = np.all(~valid | (y > 0), axis=0)
    use_log = want_log & positive & ok
    fallback = want_log & ~positive & ok
    np.copyto(y, 0.0, where=~valid)
    if use_log.any():
        np.log(y, out=y, where=valid & use_log[None, :])

    t_last, x_bar, y_bar, slope, rss, sw, sxx, size = _weighted_fit(years_a, y, valid, half_life)
    del y, valid

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        df = np.where(ok, points - 2, 0)
        s2 = rss / np.maximum(df, 1)
        s2[(np.sqrt(s2) <= PERFECT_FIT_TOLERANCE * size) & np.isfinite(size)] = 0.0
        x0 = deadline_a - t_last
        mu = y_bar + slope * (x0 - x_bar)
        se = np.sqrt(s2 * (1.0 + 1.0 / sw + (x0 - x_bar) ** 2 / sxx))
        q = _t_quantile_table(level, max(int(df.max(initial=0)), 1))[np.maximum(df, 1)]
        lo_m, hi_m = mu - q * se, mu + q * se
        projected = np.where(use_log, np.exp(mu), mu)
        lower = np.where(use_log, np.exp(lo_m), lo_m)
        upper = np.where(use_log, np.exp(hi_m), hi_m)

        is_range = ~(np.isnan(low_a) & np.isnan(high_a))
        band_lo = np.where(np.isnan(low_a), -np.inf, low_a)
        band_hi = np.where(np.isnan(high_a), np.inf, high_a)
        probability = _probability(
            mu, se, projected, use_log, target_a, better, is_range, band_lo, band_hi, df
        )
        gap = _anticipated_gap(projected, baseline_a, target_a, better, is_range, band_lo, band_hi)

    nan = np.full(n, np.nan)
    model_used = np.where(use_log, LOGLINEAR, np.where(ok, LINEAR, ""))
    return ForecastBatch(
        projected=np.where(ok, projected, nan),
        lower=np.where(ok, lower, nan),
        upper=np.where(ok, upper, nan),
        probability=np.where(ok, probability, nan),
        anticipated_gap=np.where(ok, gap, nan),
        points=points,
        model=np.asarray(model_used, dtype=str),
        reason_code=reason,
        fallback=np.asarray(fallback, dtype=bool),
        slope=np.where(ok, slope, nan),
        se=np.where(ok, se, nan),
        df=np.asarray(df, dtype=np.int64),
        deadline=deadline_a.copy(),
    )


def forecast_series(
    series: Mapping[int, float],
    *,
    deadline: int,
    target: float | None,
    baseline: float | None,
    higher_is_better: bool,
    low: float | None = None,
    high: float | None = None,
    model: str = LINEAR,
    level: float = DEFAULT_LEVEL,
    half_life: float = DEFAULT_HALF_LIFE,
) -> Forecast | None:
    """Forecast one series ``{year: value}`` at ``deadline``; None when it cannot be (< 3 points).

    Values that are NaN are skipped. ``target`` may be None for a range target (``low``/``high``);
    the other arguments are those of :func:`forecast_many`.
    """
    years = sorted(series)
    values = np.array([[series[year] for year in years]], dtype=float).reshape(1, len(years))
    batch = forecast_many(
        np.array(years, dtype=float),
        values,
        deadline=deadline,
        target=np.nan if target is None else target,
        higher_is_better=higher_is_better,
        baseline=np.nan if baseline is None else baseline,
        low=np.nan if low is None else low,
        high=np.nan if high is None else high,
        model=model,
        level=level,
        half_life=half_life,
    )
    if not batch.forecast[0]:
        return None
    data_years = [year for year in years if math.isfinite(series[year])]
    chart_years = list(range(data_years[0], max(deadline, data_years[-1]) + 1))
    line = batch.fitted(chart_years)[0]
    return Forecast(
        projected=float(batch.projected[0]),
        lower=float(batch.lower[0]),
        upper=float(batch.upper[0]),
        probability=float(batch.probability[0]),
        anticipated_gap=float(batch.anticipated_gap[0]),
        points=int(batch.points[0]),
        model=str(batch.model[0]),
        note=str(batch.note[0]),
        trajectory={year: float(v) for year, v in zip(chart_years, line, strict=True)},
    )


def _weighted_fit(
    years: FloatArray, y: FloatArray, valid: BoolArray, half_life: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The weighted least-squares line of every series: y is (T, n), zero where not ``valid``.

    Loops over the T year rows (three passes: means, slope, residuals), with x = year − t_last so the
    numbers stay small. Returns t_last, x̄, ȳ, slope, Σw·resid², Σw, Sxx and the values' size
    |ȳ| + weighted sd (for the perfect-fit test); NaN where a series has no data.
    """
    with np.errstate(all="ignore"):  # huge or empty series end as inf/NaN, not warnings
        return _weighted_fit_passes(years, y, valid, half_life)


def _weighted_fit_passes(
    years: FloatArray, y: FloatArray, valid: BoolArray, half_life: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    n = y.shape[1]
    t_last = np.full(n, -np.inf)
    for j in np.argsort(years, kind="stable"):
        np.copyto(t_last, years[j], where=valid[j])
    t_last[np.isinf(t_last)] = 0.0
    w = np.empty_like(y)
    sw, swx, swy = np.zeros(n), np.zeros(n), np.zeros(n)
    x, tmp = np.empty(n), np.empty(n)
    for j in range(y.shape[0]):
        np.subtract(years[j], t_last, out=x)  # ≤ 0 where there is data
        np.multiply(x, 1.0 / half_life, out=tmp)
        np.exp2(tmp, out=w[j])  # 0.5 ** ((t_last − t) / half_life)
        w[j] *= valid[j]
        sw += w[j]
        swx += np.multiply(w[j], x, out=tmp)
        swy += np.multiply(w[j], y[j], out=tmp)
    x_bar, y_bar = swx / sw, swy / sw
    x_ref = t_last + x_bar  # the weighted mean year
    sxx, sxy, syy = np.zeros(n), np.zeros(n), np.zeros(n)
    dx, dy = np.empty(n), np.empty(n)
    for j in range(y.shape[0]):
        np.subtract(years[j], x_ref, out=dx)
        np.subtract(y[j], y_bar, out=dy)
        np.multiply(w[j], dx, out=tmp)
        sxx += np.multiply(tmp, dx, out=x)
        sxy += np.multiply(tmp, dy, out=x)
        np.multiply(w[j], dy, out=tmp)
        syy += np.multiply(tmp, dy, out=x)
    slope = sxy / sxx
    rss = np.zeros(n)
    for j in range(y.shape[0]):
        np.subtract(years[j], x_ref, out=dx)
        np.subtract(y[j], y_bar, out=dy)
        dy -= np.multiply(slope, dx, out=tmp)  # the residual
        np.multiply(dy, dy, out=tmp)
        rss += np.multiply(tmp, w[j], out=x)
    size = np.abs(y_bar) + np.sqrt(syy / sw)
    return t_last, x_bar, y_bar, slope, rss, sw, sxx, size


def _wants_loglinear(model: str | ArrayLike, n: int) -> BoolArray:
    if isinstance(model, str):
        if model not in MODELS:
            msg = f"model must be one of {MODELS}, not {model!r}"
            raise ValueError(msg)
        return np.full(n, model == LOGLINEAR)
    models = np.asarray(_per_series(model, n, "model", str))
    log = models == LOGLINEAR
    if not np.all(log | (models == LINEAR)):
        bad = sorted({str(m) for m in np.unique(models[~log & (models != LINEAR)])})
        msg = f"model must be one of {MODELS}, not {bad}"
        raise ValueError(msg)
    return np.asarray(log, dtype=bool)


def _probability(
    mu: FloatArray,
    se: FloatArray,
    projected: FloatArray,
    use_log: BoolArray,
    target: FloatArray,
    better: BoolArray,
    is_range: BoolArray,
    band_lo: FloatArray,
    band_hi: FloatArray,
    df: IntArray,
) -> FloatArray:
    """P(lo ≤ Y ≤ hi) under Y = mu + se·T(df), with the bounds on the value's scale."""
    lo = np.where(is_range, band_lo, np.where(better, target, -np.inf))
    hi = np.where(is_range, band_hi, np.where(better, np.inf, target))

    def to_model(bound: FloatArray) -> FloatArray:
        logged = np.log(np.where(bound > 0, bound, 1.0))
        return np.asarray(np.where(use_log, np.where(bound > 0, logged, -np.inf), bound), dtype=float)

    z_lo = (to_model(lo) - mu) / se
    z_hi = (to_model(hi) - mu) / se
    p = np.clip(_t_cdf(z_hi, df) - _t_cdf(z_lo, df), 0.0, 1.0)
    # A perfect fit: the value at the deadline is the projection, compared within 1e-9 relative.
    size = np.maximum(np.abs(projected), np.maximum(_finite_abs(lo), _finite_abs(hi)))
    tol = PERFECT_FIT_TOLERANCE * size
    exact = (projected >= lo - tol) & (projected <= hi + tol)
    p = np.where(se == 0, exact.astype(float), p)
    missing = ~is_range & np.isnan(target)
    return np.asarray(np.where(missing | np.isnan(mu), np.nan, p), dtype=float)


def _finite_abs(v: FloatArray) -> FloatArray:
    return np.asarray(np.where(np.isfinite(v), np.abs(v), 0.0), dtype=float)


def _anticipated_gap(
    projected: FloatArray,
    baseline: FloatArray,
    target: FloatArray,
    better: BoolArray,
    is_range: BoolArray,
    band_lo: FloatArray,
    band_hi: FloatArray,
) -> FloatArray:
    sign = np.where(better, 1.0, -1.0)
    required = (target - baseline) * sign
    short = np.maximum((target - projected) * sign, 0.0)
    one_sided = np.where(required > 0, short / required, np.nan)

    def distance(v: FloatArray) -> FloatArray:
        return np.asarray(np.maximum(band_lo - v, 0.0) + np.maximum(v - band_hi, 0.0), dtype=float)

    d0 = distance(baseline)
    band = np.where(d0 > 0, distance(projected) / d0, np.nan)
    gap = np.where(is_range, band, one_sided)
    nan = np.isnan(projected) | np.isnan(baseline) | (~is_range & np.isnan(target))
    return np.asarray(np.where(nan, np.nan, gap), dtype=float)


def _t_cdf(z: FloatArray, df: IntArray) -> FloatArray:
    """Student t CDF for whole degrees of freedom ≥ 1 (closed form, Abramowitz & Stegun 26.7.3–4).

    With θ = arctan(|z|/√ν), P(|T| ≤ |z|) is sinθ·Σ_{j<ν/2} c_j cos^{2j}θ (c_0 = 1,
    c_j = c_{j−1}(2j − 1)/(2j)) for even ν, and (2/π)(θ + sinθ·Σ_{j≤(ν−3)/2} d_j cos^{2j+1}θ)
    (d_0 = 1, d_j = d_{j−1}·2j/(2j + 1)) for odd ν. NaN stays NaN; ±inf give 0 and 1.
    """
    nu = np.maximum(np.asarray(df, dtype=np.int64), 1)
    z_a = np.asarray(z, dtype=float)
    a = np.minimum(np.abs(z_a), 1e150)  # a² stays finite; at 1e150 the CDF is 1 to double precision
    root_nu = np.sqrt(nu.astype(float))
    hyp = np.sqrt(nu + a * a)
    sin, cos = a / hyp, root_nu / hyp
    cos2 = cos * cos
    odd = nu % 2 == 1
    total = np.zeros_like(a)
    term = np.where(odd, cos, 1.0)
    for j in range(int(nu.max(initial=1)) // 2 + 1):
        # even ν: terms j = 0 … ν/2 − 1; odd ν: terms j = 0 … (ν − 3)/2
        used = np.where(odd, 2 * j + 3 <= nu, 2 * j + 2 <= nu)
        total += np.where(used, term, 0.0)
        k = j + 1
        term = term * cos2 * np.where(odd, (2 * k) / (2 * k + 1), (2 * k - 1) / (2 * k))
    theta = np.arctan2(a, root_nu)
    inside = np.where(odd, (2.0 / np.pi) * (theta + sin * total), sin * total)
    inside = np.minimum(inside, 1.0)
    cdf = np.where(z_a >= 0, 0.5 + 0.5 * inside, 0.5 - 0.5 * inside)
    return np.asarray(np.where(np.isnan(z_a), np.nan, cdf), dtype=float)


@functools.lru_cache(maxsize=64)
def _t_quantile_table(level: float, max_df: int) -> FloatArray:
    """q[ν] = the (1 + level)/2 quantile of Student's t with ν degrees of freedom, ν = 0 … max_df.

    Found by bisection on the closed-form CDF (to the last bit); q[0] is unused (NaN).
    """
    p = 0.5 + level / 2.0
    nu = np.arange(1, max_df + 1, dtype=np.int64)
    lo = np.zeros(max_df)
    hi = np.ones(max_df)
    while np.any(_t_cdf(hi, nu) < p):
        hi = np.where(_t_cdf(hi, nu) < p, hi * 2.0, hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        below = _t_cdf(mid, nu) < p
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    table = np.concatenate([[np.nan], 0.5 * (lo + hi)])
    table.setflags(write=False)
    return np.asarray(table, dtype=float)
