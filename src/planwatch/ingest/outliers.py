"""Outlier check on reported values: a warning for the reviewer, never a reason to refuse data.

Method
------
The modified z-score of Iglewicz and Hoaglin (1993, *How to Detect and Handle Outliers*, ASQC
Basic References in Quality Control 16)::

    M = 0.6745 * (x - median) / MAD,    MAD = median(|x_i - median|)

0.6745 is the 0.75 quantile of the standard normal, so that M matches an ordinary z-score on
normal data; the median and MAD ignore the extreme values that inflate a mean and a standard
deviation. Iglewicz and Hoaglin recommend labelling ``|M| > 3.5`` as a potential outlier, hence
:data:`THRESHOLD`. When most of the sample sits exactly on its median, MAD is 0 and the score falls
back to the mean absolute deviation around the median, ``M = (x - median) / (1.253314 * meanAD)``
(1.253314 ≈ √(π/2) makes meanAD estimate the standard deviation of normal data).

A value is compared with two samples, like DHIS2's outlier analysis:

* ``history``: the same division's other periods of the indicator;
* ``siblings``: the other divisions under the same parent, in the same period.

The sample never contains the value being judged (leave one out), in :func:`outliers_many` too;
DHIS2 includes the value in its own sample, which lets one wild value in a small group inflate the
spread that is supposed to expose it. The sample's non-finite values (NaN: missing) are dropped;
with fewer than ``min_n`` finite values left (default :data:`MIN_N`), there is no score.

Edge cases, decided here: a sample with no spread at all (MAD and meanAD both 0) scores a value
equal to its median as 0.0 (it *is* the typical value: checked and fine, rather than unknown), and
any other value as ±inf (a perfectly steady series that suddenly changes is worth a look).

Why it only warns
-----------------
DHIS2's manual warns that z-score methods assume roughly normal data: seasonal series, heavily
skewed and zero-inflated data (a new facility, an indicator that is mostly 0) produce false alarms.
A flagged value is therefore a question for the department that reported it, shown next to the
value; it never blocks a submission.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["MIN_N", "THRESHOLD", "Outlier", "modified_z", "outliers", "outliers_many"]

THRESHOLD = 3.5
"""Iglewicz and Hoaglin's cut-off for ``|modified z|``."""
MIN_N = 4
"""Fewest finite values a sample needs (the value itself not counted) to score a value."""

_MAD_SCALE = 0.6745
_MEAN_AD_SCALE = 1.253314

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Outlier:
    """A value whose modified z-score against one sample is beyond the threshold."""

    basis: Literal["history", "siblings"]
    """``history``: the division's own other periods; ``siblings``: the other divisions under the
    same parent in the same period."""
    value: float
    z: float
    """Modified z-score; ±inf when the sample has no spread and the value differs from it."""
    median: float
    """Median of the sample: what a typical value looks like."""
    n: int
    """Size of the sample (finite values, the value itself not counted)."""


def _check_min_n(min_n: int) -> None:
    if min_n < 1:
        raise ValueError(f"min_n must be 1 or more, not {min_n}")


def _score(diff: float, mad: float, mean_ad: float) -> float:
    if mad > 0:
        return _MAD_SCALE * diff / mad
    if mean_ad > 0:
        return diff / (_MEAN_AD_SCALE * mean_ad)
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def _modified_z(value: float, sample: Sequence[float], min_n: int) -> tuple[float, float, int] | None:
    """(z, median, n), or None when there is no score."""
    _check_min_n(min_n)
    if not math.isfinite(value):
        return None
    finite = [float(x) for x in sample if math.isfinite(x)]
    if len(finite) < min_n:
        return None
    median = statistics.median(finite)
    deviations = [abs(x - median) for x in finite]
    mad = statistics.median(deviations)
    mean_ad = math.fsum(deviations) / len(finite)
    return _score(value - median, mad, mean_ad), median, len(finite)


def modified_z(value: float, sample: Sequence[float], *, min_n: int = MIN_N) -> float | None:
    """Modified z-score of ``value`` against ``sample`` (Iglewicz–Hoaglin).

    Parameters
    ----------
    value
        The value judged; not part of ``sample``.
    sample
        The values it is compared with; non-finite ones (NaN) are dropped.
    min_n
        Fewest finite values ``sample`` needs.

    Returns
    -------
    float or None
        ``None`` when ``value`` is not finite or the sample is too small; 0.0 when the sample has
        no spread and ``value`` equals its median, ±inf when it has none and ``value`` differs.
    """
    scored = _modified_z(value, sample, min_n)
    return None if scored is None else scored[0]


def outliers(
    value: float,
    *,
    history: Sequence[float],
    siblings: Sequence[float],
    threshold: float = THRESHOLD,
    min_n: int = MIN_N,
) -> list[Outlier]:
    """The ways in which ``value`` stands out: against its history, its siblings, both or neither.

    Parameters
    ----------
    value
        The reported value.
    history
        The same division's values of the indicator in its other periods.
    siblings
        The values of the other divisions under the same parent, in the same period.
    threshold
        A value is an outlier when ``|modified z| > threshold``.
    min_n
        Fewest finite values a sample needs to be used.

    Returns
    -------
    list of Outlier
        History first, then siblings; empty when the value does not stand out (or cannot be
        judged). A warning to show, never a reason to refuse the value.
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be above 0, not {threshold}")
    found: list[Outlier] = []
    samples: tuple[tuple[Literal["history", "siblings"], Sequence[float]], ...] = (
        ("history", history),
        ("siblings", siblings),
    )
    for basis, sample in samples:
        scored = _modified_z(value, sample, min_n)
        if scored is not None and abs(scored[0]) > threshold:
            z, median, n = scored
            found.append(Outlier(basis, float(value), z, median, n))
    return found


# --- the vectorised batch ------------------------------------------------------------------------
#
# Every array below is in "segment order": sorted by group, then by value within each group, so a
# group is a contiguous segment. ``segment`` numbers them 0, 1, 2, ... in that order.


def _order_within(group: IntArray, key: FloatArray) -> IntArray:
    """The order sorting by ``group``, then ``key``: one sort of ``key`` and one of a unique int
    composite, faster than ``np.lexsort`` on a million elements."""
    n = key.size
    key_rank = np.empty(n, dtype=np.int64)
    key_rank[np.argsort(key)] = np.arange(n)
    return np.argsort(group.astype(np.int64) * n + key_rank)


def _layout(segment: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(first position of each segment, its size, each element's rank in its segment)."""
    n = segment.size
    first = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    sizes = np.diff(np.r_[first, n])
    rank = np.arange(n) - np.repeat(first, sizes)
    return first, sizes, rank


def _without_one_median(ordered: FloatArray, start: IntArray, size: IntArray, rank: IntArray) -> FloatArray:
    """Median of each element's segment of ``ordered`` (sorted within segments) without the
    element at ``rank``: position k of the shortened segment is k, or k + 1 from ``rank`` on."""
    others = size - 1
    k1 = (others - 1) // 2
    k2 = others // 2
    low = ordered[start + k1 + (k1 >= rank)]
    high = ordered[start + k2 + (k2 >= rank)]
    median: FloatArray = (low + high) / 2
    return median


def _shift(size: IntArray, rank: IntArray) -> IntArray:
    """How many of the two median positions move when the element at ``rank`` is left out: 0, 1
    or 2. The median without an element depends only on this, so a group has at most three."""
    others = size - 1
    return ((others - 1) // 2 >= rank).astype(np.intp) + (others // 2 >= rank)


def _spread_without_one(s: FloatArray, segment: IntArray, shift: int) -> tuple[FloatArray, FloatArray]:
    """MAD and mean absolute deviation of each element's segment without it, around the median
    the segment has without an element of the given ``shift``."""
    first, sizes, rank = _layout(segment)
    seg = np.repeat(np.arange(first.size), sizes)
    start, size = first[seg], sizes[seg]
    others = sizes - 1
    low = first + (others - 1) // 2 + (shift >= 2)  # the lower position moves only when both do
    high = first + others // 2 + (shift >= 1)
    median = (s[low] + s[high]) / 2
    deviation = np.abs(s - median[seg])
    order = _order_within(seg, deviation)
    ordered = deviation[order]
    dev_rank = np.empty_like(rank)
    dev_rank[order] = rank
    mad = _without_one_median(ordered, start, size, dev_rank)
    # The others' deviations sum to the total less one's own: exact enough, unless one's own is
    # the largest and dwarfs the rest; then take the sum of all but the top instead.
    top = np.zeros(s.size, dtype=bool)
    top[first + sizes - 1] = True
    total = np.add.reduceat(ordered, first)[seg]
    without_top = np.add.reduceat(np.where(top, 0.0, ordered), first)[seg]
    others_sum = np.where(dev_rank == size - 1, without_top, total - deviation)
    return mad, others_sum / (size - 1)


def _group_codes(labels: npt.NDArray[Any]) -> IntArray:
    """Dense group numbers for labels (one column) or rows of labels (several); -1 where a label
    is missing."""
    columns = [labels] if labels.ndim == 1 else list(labels.T)
    codes: IntArray = pd.factorize(columns[0], use_na_sentinel=True)[0].astype(np.intp)
    for column in columns[1:]:
        column_codes, uniques = pd.factorize(column, use_na_sentinel=True)
        missing = (codes < 0) | (column_codes < 0)
        combined = codes.astype(np.int64) * len(uniques) + column_codes
        codes = np.full(labels.shape[0], -1, dtype=np.intp)
        codes[~missing] = pd.factorize(combined[~missing])[0]
    return codes


def outliers_many(values: npt.ArrayLike, groups: npt.ArrayLike, *, min_n: int = MIN_N) -> FloatArray:
    """Modified z-score of every value among the *other* values of its group, for a whole batch.

    Element for element the same as ``modified_z(values[i], [the other finite values of its
    group], min_n=min_n)``, computed with a few sorts over the whole batch (a million values take
    about a second). Compare the result with :data:`THRESHOLD` to flag outliers.

    Parameters
    ----------
    values
        One-dimensional values; non-finite ones (NaN: missing) score NaN and are left out of
        every sample.
    groups
        The group of each value: one label per value, or one row of labels per value (shape
        ``(n, k)``, e.g. columns parent and period for siblings, division and indicator for
        history). Any hashable labels; a missing label (None, NaN) puts the value in no group.
    min_n
        Fewest finite *other* values a group needs.

    Returns
    -------
    numpy.ndarray of float64
        z per element; NaN where the value is not finite, has no group or its group is too small.
    """
    _check_min_n(min_n)
    x = np.asarray(values, dtype=np.float64)
    labels = np.asarray(groups)
    if x.ndim != 1 or labels.ndim not in (1, 2) or labels.shape[:1] != x.shape:
        raise ValueError(
            "values must be one-dimensional and groups must have one label (or one row of labels) "
            f"per value, not shapes {x.shape} and {labels.shape}"
        )
    z = np.full(x.shape, np.nan)
    codes = _group_codes(labels)
    where = np.flatnonzero(np.isfinite(x) & (codes >= 0))
    where = where[np.bincount(codes[where])[codes[where]] > min_n] if where.size else where
    if where.size == 0:
        return z
    where = where[_order_within(codes[where], x[where])]
    s = x[where]
    group = codes[where]
    segment = np.cumsum(np.r_[True, group[1:] != group[:-1]]) - 1

    first, sizes, rank = _layout(segment)
    start, size = np.repeat(first, sizes), np.repeat(sizes, sizes)
    median = _without_one_median(s, start, size, rank)
    shift = _shift(size, rank)
    mad = np.empty_like(s)
    mean_ad = np.empty_like(s)
    for which in (0, 1, 2):
        mine = shift == which
        if not mine.any():
            continue
        involved = np.zeros(first.size, dtype=bool)
        involved[segment[mine]] = True
        inside = involved[segment]  # whole segments: the spread needs every member
        part_mad, part_mean_ad = _spread_without_one(s[inside], segment[inside], which)
        keep = mine[inside]
        mad[mine] = part_mad[keep]
        mean_ad[mine] = part_mean_ad[keep]

    diff = s - median
    scored = np.where(diff == 0, 0.0, np.copysign(np.inf, diff))
    np.divide(diff, _MEAN_AD_SCALE * mean_ad, out=scored, where=(mad == 0) & (mean_ad > 0))
    np.divide(_MAD_SCALE * diff, mad, out=scored, where=mad > 0)
    z[where] = scored
    return z
