"""Roll values of child units up to a parent, per the indicator's aggregation.

A ratio indicator rolls up as Σnumerator / Σdenominator × factor, never as a mean of the units'
percentages: a street of 100 people must not weigh as much as one of 100,000.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from planwatch.evaluation.progress import is_met

ArrayLike = npt.ArrayLike


def aggregate(
    method: str,
    values: ArrayLike,
    *,
    numerators: ArrayLike | None = None,
    denominators: ArrayLike | None = None,
    factor: float = 1.0,
    weights: ArrayLike | None = None,
    comparator: str | None = None,
    threshold: float | None = None,
) -> float:
    """One parent value from the child units' values (NaN where nothing can be computed).

    Parameters
    ----------
    method
        ``sum``, ``ratio``, ``weighted_mean``, ``min``, ``max`` or ``count_meeting``.
    values
        The units' values (used by every method but ``ratio``).
    numerators, denominators
        ``ratio`` only: the units' numerators and denominators; units missing either are skipped.
    factor
        ``ratio`` only: 100 for a percentage, 10000 for "per 10,000 people" …
    weights
        ``weighted_mean`` only: usually the units' population.
    comparator, threshold
        ``count_meeting`` only: the condition a unit's value must meet to be counted.
    """
    vals = np.asarray(values, dtype=float)
    if method == "ratio":
        if numerators is None or denominators is None:
            msg = "a ratio roll-up needs numerators and denominators"
            raise ValueError(msg)
        num = np.asarray(numerators, dtype=float)
        den = np.asarray(denominators, dtype=float)
        ok = ~(np.isnan(num) | np.isnan(den))
        total = den[ok].sum()
        return float(num[ok].sum() / total * factor) if ok.any() and total != 0 else float("nan")
    present = ~np.isnan(vals)
    if not present.any():
        return float("nan")
    if method == "sum":
        return float(vals[present].sum())
    if method == "min":
        return float(vals[present].min())
    if method == "max":
        return float(vals[present].max())
    if method == "weighted_mean":
        if weights is None:
            msg = "a weighted mean needs weights (the units' population)"
            raise ValueError(msg)
        w = np.asarray(weights, dtype=float)
        ok = present & ~np.isnan(w)
        return float(np.average(vals[ok], weights=w[ok])) if ok.any() and w[ok].sum() > 0 else float("nan")
    if method == "count_meeting":
        if comparator is None or threshold is None:
            msg = "count_meeting needs a comparator and a threshold"
            raise ValueError(msg)
        return float(is_met(vals[present], comparator, threshold).sum())
    msg = f"unknown aggregation {method!r}"
    raise ValueError(msg)


def share_meeting(values: ArrayLike, comparator: str, threshold: float) -> float:
    """Share (0–1) of units whose value meets the condition; units with no value do not meet it."""
    vals = np.asarray(values, dtype=float)
    if vals.size == 0:
        return float("nan")
    return float(is_met(vals, comparator, threshold).sum() / vals.size)
