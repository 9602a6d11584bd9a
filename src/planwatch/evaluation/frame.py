"""Evaluate many indicators at every division at once: values as columns, roll-ups and statuses
computed with numpy group-bys instead of one target and one division at a time.

The rules are those of the per-target evaluation (``data.scope_series``, ``judges``) and of the scalar
:func:`planwatch.evaluation.rollup.aggregate` (``docs/evaluation.md`` §1 and §3); the tests check
that both give the same numbers. Only ``values_io.load_values`` touches the database.

Typical use::

    values = load_values(session, indicator_ids)  # values_io
    parent, level = tree_series(division_tree(session))
    population = {k: v[0] for k, v in population_by_division(session, year).items()}
    rolled = rollup_frame(values, parent=parent, level=level, specs=indicator_specs(indicators),
                          population=population)
    status = status_frame(rolled, targets)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from planwatch.config import StatusThresholds
from planwatch.divisions.tree import DivisionTree
from planwatch.evaluation.progress import (
    APPROX_TOLERANCE,
    Status,
    actual_progress,
    band_progress,
    classify,
    is_met,
    progress_ratio,
    time_progress,
)
from planwatch.models import Indicator
from planwatch.models.enums import DivisionLevel

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IdMapping = Mapping[int, Any] | pd.Series

ROLLED_COLUMNS = (
    "indicator_id",
    "division_id",
    "year",
    "value",
    "simulated",
    "rolled_from",
    "units_reported",
    "units_expected",
)
"""Columns of :func:`rollup_frame`."""

METHODS = ("sum", "ratio", "weighted_mean", "min", "max", "count_meeting")
"""The aggregations, in the order of their codes."""
_SUM, _RATIO, _MEAN, _MIN, _MAX, _COUNT = range(len(METHODS))

FIXED_COMPARATORS = frozenset({">=", ">", "<=", "<", "=", "~"})
STATUSES = tuple(status.value for status in Status)
"""The categories of ``status_frame``'s status column."""
STATUS_ORDER = ("seriously_lagging", "lagging", "on_track", "ahead", "achieved")
"""Statuses before the deadline from worst to best (``missed`` and ``not_evaluable`` lie outside)."""


def tree_series(tree: DivisionTree) -> tuple[pd.Series, pd.Series]:
    """``parent`` and ``level`` for :func:`rollup_frame` from a division tree.

    Returns
    -------
    tuple of pandas.Series
        Both indexed by division id: the parent's id (-1 for the root) and the level's depth
        (city 0, district 1, street 2, community 3, compound 4).
    """
    nodes = list(tree.nodes.values())
    index = pd.Index([n.id for n in nodes], dtype=np.int64, name="division_id")
    parent = pd.Series([-1 if n.parent_id is None else n.parent_id for n in nodes], index, np.int64)
    level = pd.Series([n.level.depth for n in nodes], index, np.int64)
    return parent, level


def indicator_specs(indicators: Iterable[Indicator]) -> pd.DataFrame:
    """The ``specs`` of :func:`rollup_frame` from indicators of the catalogue.

    Returns
    -------
    pandas.DataFrame
        Indexed by indicator id, with ``aggregation``, ``factor``, ``condition_comparator``,
        ``condition_threshold`` and ``levels`` (the depths where the indicator is reported).
    """
    rows = [
        {
            "indicator_id": i.id,
            "aggregation": i.aggregation.value,
            "factor": i.factor if i.factor is not None else 1.0,
            "condition_comparator": i.condition_comparator.value if i.condition_comparator else None,
            "condition_threshold": i.condition_threshold if i.condition_threshold is not None else np.nan,
            "levels": sorted(level.depth for level in i.level_enums),
        }
        for i in indicators
    ]
    columns = [
        "indicator_id",
        "aggregation",
        "factor",
        "condition_comparator",
        "condition_threshold",
        "levels",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("indicator_id")


# ---------------------------------------------------------------------------------------------
# array helpers


def _id_arrays(mapping: IdMapping) -> tuple[IntArray, FloatArray]:
    """Keys (int64) and values (float64, NaN for None) of a mapping or a Series."""
    if isinstance(mapping, pd.Series):
        keys = mapping.index.to_numpy(dtype=np.int64)
        values = pd.to_numeric(mapping, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return keys, values
    keys = np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))
    values = np.array([np.nan if v is None else v for v in mapping.values()], dtype=np.float64)
    return keys, values


def _positions(ids: IntArray, keys: IntArray) -> IntArray:
    """The position of each key in the sorted, distinct ``ids``; -1 where it is not there."""
    out = np.full(len(keys), -1, dtype=np.int64)
    if len(ids) == 0 or len(keys) == 0:
        return out
    low, high = int(ids[0]), int(ids[-1])
    if low >= 0 and high <= 4 * len(ids) + 1_000_000:  # small ids: a direct look-up table
        table = np.full(high + 1, -1, dtype=np.int64)
        table[ids] = np.arange(len(ids))
        if int(keys.min()) >= 0 and int(keys.max()) <= high:
            return table[keys]
        inside = (keys >= 0) & (keys <= high)
        out[inside] = table[keys[inside]]
        return out
    at = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
    return np.where(ids[at] == keys, at, -1)


def _distinct(*arrays: IntArray) -> IntArray:
    """The sorted distinct values of int arrays (a counting pass for small non-negative ids)."""
    joined = np.concatenate(arrays)
    if len(joined) == 0:
        return joined
    low, high = int(joined.min()), int(joined.max())
    if low >= 0 and high <= 4 * len(joined) + 1_000_000:
        return np.flatnonzero(np.bincount(joined, minlength=high + 1)).astype(np.int64)
    return np.unique(joined)


def _compact(key: IntArray, space: int) -> tuple[IntArray, IntArray]:
    """Group codes 0..G-1 (in key order) for keys in [0, space), and the G distinct keys."""
    if space <= 2 * len(key) + 1_000_000:
        seen = np.zeros(space, dtype=bool)
        seen[key] = True
        distinct = np.flatnonzero(seen)
        remap = np.empty(space, dtype=np.int64)
        remap[distinct] = np.arange(len(distinct))
        return remap[key], distinct
    distinct, codes = np.unique(key, return_inverse=True)
    return codes.astype(np.int64), distinct


@dataclass
class _Tree:
    """Divisions by position: sorted ids, depth, parent position (-1: none) and, per depth d, each
    division's carrier: its highest ancestor-or-self at depth ≥ d (-1 above d)."""

    ids: IntArray
    depth: IntArray
    parent: IntArray
    carrier: list[IntArray]
    expected: IntArray
    """expected[L, node]: how many divisions of depth L lie under the node."""

    @classmethod
    def build(cls, parent: IdMapping, level: IdMapping) -> _Tree:
        level_ids, level_values = _id_arrays(level)
        if np.isnan(level_values).any():
            msg = "every division needs a level depth"
            raise ValueError(msg)
        order = np.argsort(level_ids, kind="stable")
        ids = level_ids[order]
        if len(ids) and (np.diff(ids) == 0).any():
            msg = "a division appears twice in `level`"
            raise ValueError(msg)
        depth = level_values[order].astype(np.int64)
        parent_ids, parent_values = _id_arrays(parent)
        parent_of = np.full(len(ids), -1, dtype=np.int64)
        has = ~np.isnan(parent_values)
        child = _positions(ids, parent_ids[has])
        known = child >= 0
        parent_of[child[known]] = _positions(ids, parent_values[has][known].astype(np.int64))
        top = int(depth.max()) + 1 if len(ids) else 0
        by_depth = [np.flatnonzero(depth == k) for k in range(top)]
        carrier: list[IntArray] = []
        for d in range(top):
            carry = np.full(len(ids), -1, dtype=np.int64)
            for k in range(d, top):
                nodes = by_depth[k]
                up = parent_of[nodes]
                climb = (up >= 0) & (depth[np.maximum(up, 0)] >= d) & (depth[np.maximum(up, 0)] < k)
                carry[nodes] = np.where(climb, carry[np.maximum(up, 0)], nodes)
            carrier.append(carry)
        expected = np.zeros((top, len(ids)), dtype=np.int64)
        for low in range(top):
            units = by_depth[low]
            for d in range(low):
                above = carrier[d][units]
                above = above[depth[above] == d]
                expected[low] += np.bincount(above, minlength=len(ids))
        return cls(ids, depth, parent_of, carrier, expected)


@dataclass
class _Groups:
    """Partial roll-up statistics per (indicator, node, year) group: rows ``n``, usable units ``c``,
    ``a`` and ``b`` (sum, count_meeting: Σ value or Σ meeting in ``a``; ratio: Σ numerator and
    Σ denominator; weighted_mean: Σ value × population and Σ population; min, max: the smallest or
    largest value in ``a``) and whether any row behind the group was simulated."""

    ind: IntArray
    node: IntArray
    year: IntArray
    n: FloatArray
    c: FloatArray
    a: FloatArray
    b: FloatArray
    sim: BoolArray

    @classmethod
    def of_units(
        cls,
        key: IntArray,
        space: _Space,
        ind: IntArray,
        node: IntArray,
        value: FloatArray,
        numerator: FloatArray,
        denominator: FloatArray,
        simulated: BoolArray,
        weights: FloatArray,
        spec: _Specs,
    ) -> _Groups:
        """Group reported units (one row each) by ``key``: what they add to their aggregation."""
        codes, distinct = _compact(key, space.size)
        size = len(distinct)
        c, a, b = np.zeros(size), np.zeros(size), np.zeros(size)

        def add(target: FloatArray, where: IntArray, x: FloatArray | None = None) -> None:
            target += np.bincount(where, weights=x, minlength=size)

        kind = spec.method[ind]
        for method in np.flatnonzero(np.bincount(kind, minlength=len(METHODS))).tolist():
            rows = np.flatnonzero(kind == method)
            groups, i, x = codes[rows], ind[rows], value[rows]
            ok = ~np.isnan(x)
            if method == _RATIO:
                num, den = numerator[rows], denominator[rows]
                ok = ~(np.isnan(num) | np.isnan(den))
                add(b, groups[ok], den[ok])
                x = num
            elif method == _MEAN:
                w = weights[node[rows]]
                ok &= ~np.isnan(w)
                add(b, groups[ok], w[ok])
                x = x * w
            elif method == _COUNT:
                met = np.zeros(len(rows))
                condition = spec.comparator_code[i]
                for code, comparator in enumerate(spec.comparators):
                    these = condition == code
                    if these.any():
                        met[these] = is_met(x[these], comparator, spec.threshold[i[these]])
                x = met
            add(c, groups[ok])
            if method in {_MIN, _MAX}:
                a[groups] = np.inf if method == _MIN else -np.inf
                (np.minimum if method == _MIN else np.maximum).at(a, groups[ok], x[ok])
            else:
                add(a, groups[ok], x[ok])
        sim = np.zeros(size, dtype=bool)
        sim[codes[simulated]] = True
        n = np.bincount(codes, minlength=size).astype(np.float64)
        return cls(*space.split(distinct), n, c, a, b, sim)

    def regroup(self, node: IntArray, space: _Space, method: IntArray) -> _Groups:
        """The same statistics per (indicator, ``node``, year)."""
        codes, distinct = _compact(space.key(self.ind, node, self.year), space.size)
        size = len(distinct)

        def total(x: FloatArray) -> FloatArray:
            return np.asarray(np.bincount(codes, weights=x, minlength=size), dtype=np.float64)

        kind = method[self.ind]
        extreme = (kind == _MIN) | (kind == _MAX)
        a = total(np.where(extreme, 0.0, self.a))
        for which, ufunc, start in ((_MIN, np.minimum, np.inf), (_MAX, np.maximum, -np.inf)):
            rows = np.flatnonzero(kind == which)
            if rows.size:
                a[codes[rows]] = start
                ufunc.at(a, codes[rows], self.a[rows])
        sim = np.zeros(size, dtype=bool)
        sim[codes[self.sim]] = True
        return _Groups(*space.split(distinct), total(self.n), total(self.c), a, total(self.b), sim)

    def subset(self, mask: BoolArray) -> _Groups:
        return _Groups(
            self.ind[mask],
            self.node[mask],
            self.year[mask],
            self.n[mask],
            self.c[mask],
            self.a[mask],
            self.b[mask],
            self.sim[mask],
        )

    def values(self, method: IntArray, factor: FloatArray) -> FloatArray:
        """The rolled-up value per group, as :func:`rollup.aggregate` computes it."""
        kind = method[self.ind]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.a / self.b
        return np.select(
            [self.c == 0, kind == _RATIO, kind == _MEAN],
            [
                np.nan,
                np.where(self.b != 0, ratio * factor[self.ind], np.nan),
                np.where(self.b > 0, ratio, np.nan),
            ],
            default=self.a,  # sum, count_meeting, min, max
        )


@dataclass(frozen=True)
class _Space:
    """Keys of (indicator, node, year) groups: (indicator × years + year) × nodes + node (values
    usually arrive by indicator and year, so neighbouring rows touch neighbouring keys)."""

    indicators: int
    nodes: int
    years: int

    @property
    def size(self) -> int:
        return self.indicators * self.nodes * self.years

    def key(self, ind: IntArray, node: IntArray, year: IntArray) -> IntArray:
        key = ind * self.years  # in place from here: these arrays can have millions of rows
        key += year
        key *= self.nodes
        key += node
        return key

    def split(self, key: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        return key // (self.nodes * self.years), key % self.nodes, (key // self.nodes) % self.years


def _depth(level: object) -> int:
    """The depth of a level given as a depth, a name or a :class:`DivisionLevel`."""
    if isinstance(level, int | np.integer):
        return int(level)
    return DivisionLevel(str(level)).depth


@dataclass
class _Specs:
    ids: IntArray
    method: IntArray
    factor: FloatArray
    comparator_code: IntArray
    """count_meeting: the condition's comparator per indicator, as a position in ``comparators``."""
    comparators: list[str]
    threshold: FloatArray
    reports: BoolArray
    """reports[indicator, depth]: the indicator is reported at that level."""

    @classmethod
    def build(cls, specs: pd.DataFrame, top: int) -> _Specs:
        frame = specs.set_index("indicator_id") if "indicator_id" in specs.columns else specs
        frame = frame.sort_index()
        ids = frame.index.to_numpy(dtype=np.int64)
        if len(ids) and (np.diff(ids) == 0).any():
            msg = "an indicator appears twice in `specs`"
            raise ValueError(msg)
        names = frame["aggregation"].astype(str)
        method = np.asarray(pd.Index(METHODS).get_indexer(pd.Index(names)), dtype=np.int64)
        if (method < 0).any():
            unknown = sorted(set(names[method < 0]))
            msg = f"unknown aggregation(s) {', '.join(map(repr, unknown))}; use one of {', '.join(METHODS)}"
            raise ValueError(msg)
        factor = np.nan_to_num(_optional(frame, "factor"), nan=1.0)
        comparator = (
            frame["condition_comparator"].to_numpy(dtype=object)
            if "condition_comparator" in frame.columns
            else np.full(len(ids), None, dtype=object)
        )
        threshold = _optional(frame, "condition_threshold")
        counting = method == _COUNT
        if (counting & (pd.isna(comparator) | np.isnan(threshold))).any():
            msg = "count_meeting needs a comparator and a threshold"
            raise ValueError(msg)
        listed = frame["levels"].reset_index(drop=True).explode().dropna()
        depths = listed.map({item: _depth(item) for item in pd.unique(listed)}).to_numpy(dtype=np.int64)
        width = max(top, len(DivisionLevel), int(depths.max()) + 1 if len(depths) else 0)
        reports = np.zeros((len(ids), width), dtype=bool)
        reports[listed.index.to_numpy(dtype=np.int64), depths] = True
        codes, uniques = pd.factorize(pd.Series(comparator).astype("string"), use_na_sentinel=True)
        comparators = [str(u) for u in uniques]
        return cls(ids, method, factor, np.asarray(codes, dtype=np.int64), comparators, threshold, reports)


# ---------------------------------------------------------------------------------------------
# roll-up


def rollup_frame(
    values: pd.DataFrame,
    *,
    parent: IdMapping,
    level: IdMapping,
    specs: pd.DataFrame,
    population: IdMapping,
) -> pd.DataFrame:
    """Each indicator's value at every division that has one, per year: reported there, or rolled
    up from the units below.

    For a division and a year, a value reported for the division itself (not missing) is used;
    otherwise the values of its units at the nearest level below where the indicator is reported
    (``specs.levels``) and where at least one unit has a row are rolled up by the indicator's
    aggregation, as ``data.scope_series`` and :func:`rollup.aggregate` do:

    ``sum``
        Σ values (missing values skipped).
    ``ratio``
        Σ numerators / Σ denominators × factor over the units that have both parts — never a mean
        of the units' percentages; NaN when no unit has both or the denominators sum to 0.
    ``weighted_mean``
        Σ value × population / Σ population over units with a value and a population.
    ``min``, ``max``
        The smallest / largest value (missing values skipped).
    ``count_meeting``
        How many units' values meet the indicator's condition (comparator and threshold).

    Every method gives NaN when no unit has what it needs. The computation is vectorised: one
    group-by over the reported units per reporting level, then level by level up the tree over the
    partial sums (Σ, counts, min, max), so a loop runs only over the ≤ 5 levels and 2 methods.

    Parameters
    ----------
    values
        Annual values as :func:`load_values` gives them: one row per (indicator, division, year);
        ``numerator`` and ``denominator`` are needed for ratios, ``simulated`` is optional.
        Rows of divisions missing from ``level`` are ignored.
    parent
        Division id → parent id (None, NaN or -1 for the root), a mapping or a Series.
    level
        Division id → depth of its level (city 0, district 1, street 2, community 3, compound 4);
        its keys are the divisions of the tree (see :func:`tree_series`).
    specs
        One row per indicator (indexed by, or with a column, ``indicator_id``): ``aggregation``,
        ``factor`` (ratio; default 1), ``condition_comparator`` and ``condition_threshold``
        (count_meeting) and ``levels`` (depths or level names where it is reported); see
        :func:`indicator_specs`.
    population
        Division id → population, the weights of ``weighted_mean`` (units without one are skipped).

    Returns
    -------
    pandas.DataFrame
        One row per (indicator, division, year) with a value, in no particular order, with the
        columns of :data:`ROLLED_COLUMNS`: ``value`` (NaN when units reported but nothing could be
        computed, e.g. every value missing), ``simulated`` (any value behind it was simulated),
        ``rolled_from`` (depth of the units rolled up; <NA> for a value reported for the division
        itself), ``units_reported`` (units at that level under the division with a row that year)
        and ``units_expected`` (units at that level under the division in the tree).
    """
    tree = _Tree.build(parent, level)
    top = tree.expected.shape[0]
    spec = _Specs.build(specs, top)
    if len(values) == 0:
        return _empty_rolled()
    indicator_ids = values["indicator_id"].to_numpy(dtype=np.int64)
    ind = _positions(spec.ids, indicator_ids)
    if (ind < 0).any():
        missing = sorted(set(indicator_ids[ind < 0].tolist()))[:10]
        msg = f"no spec for indicator(s) {missing}"
        raise ValueError(msg)
    division_ids = values["division_id"].to_numpy(dtype=np.int64)
    node = _positions(tree.ids, division_ids)
    years = values["year"].to_numpy(dtype=np.int64)
    value = values["value"].to_numpy(dtype=np.float64)
    numerator, denominator = _optional(values, "numerator"), _optional(values, "denominator")
    simulated = (
        values["simulated"].to_numpy(dtype=bool)
        if "simulated" in values.columns
        else np.zeros(len(values), bool)
    )
    known = node >= 0
    if not known.all():  # divisions outside the tree (e.g. no longer valid) take no part
        ind, node, years, value = ind[known], node[known], years[known], value[known]
        numerator, denominator, simulated = numerator[known], denominator[known], simulated[known]
        indicator_ids, division_ids = indicator_ids[known], division_ids[known]
        if len(ind) == 0:
            return _empty_rolled()
    first_year = int(years.min())
    space = _Space(len(spec.ids), len(tree.ids), int(years.max()) - first_year + 1)
    year = years - first_year
    depth = tree.depth.astype(np.int8)[node]
    weights = np.full(len(tree.ids), np.nan)
    pop_ids, pop_values = _id_arrays(population)
    at = _positions(tree.ids, pop_ids)
    weights[at[at >= 0]] = pop_values[at >= 0]

    # roll up from each reporting level: one group-by over its units, then level by level up
    emitted: list[tuple[_Groups, int]] = []
    for low in range(1, top):
        units = (depth == low) & spec.reports[:, low][ind]
        if not units.any():
            continue
        rows: slice | IntArray = slice(None) if units.all() else np.flatnonzero(units)
        u_ind, u_node = ind[rows], node[rows]
        groups = _Groups.of_units(
            space.key(u_ind, tree.carrier[low - 1][u_node], year[rows]),
            space,
            u_ind,
            u_node,
            value[rows],
            numerator[rows],
            denominator[rows],
            simulated[rows],
            weights,
            spec,
        )
        del u_ind, u_node
        for d in range(low - 1, -1, -1):
            if d < low - 1:
                groups = groups.regroup(tree.carrier[d][groups.node], space, spec.method)
            here = tree.depth[groups.node] == d
            if here.any():
                emitted.append((groups.subset(here), low))

    # a value reported for the division itself wins over a rolled-up one
    width = spec.reports.shape[1]
    deepest = np.where(spec.reports.any(axis=1), width - 1 - np.argmax(spec.reports[:, ::-1], axis=1), -1)
    own = ~np.isnan(value)
    clash = own & (depth < deepest.astype(np.int8)[ind])  # reported where a roll-up may exist too
    plain = own & ~clash
    c_ind = np.concatenate([ind[clash], *(g.ind for g, _ in emitted)])
    c_node = np.concatenate([node[clash], *(g.node for g, _ in emitted)])
    c_year = np.concatenate([year[clash], *(g.year for g, _ in emitted)])
    c_from = np.concatenate(
        [np.full(int(clash.sum()), -1), *(np.full(len(g.ind), low) for g, low in emitted)]
    )
    key = space.key(c_ind, c_node, c_year)
    order = np.lexsort((c_from, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    pick = order[first]  # per (indicator, division, year): its own value, else the nearest level
    c_value = np.concatenate([value[clash], *(g.values(spec.method, spec.factor) for g, _ in emitted)])
    c_sim = np.concatenate([simulated[clash], *(g.sim for g, _ in emitted)])
    c_reported = np.concatenate([np.zeros(int(clash.sum())), *(g.n for g, _ in emitted)])

    plain_rows = np.flatnonzero(plain)
    n_plain = len(plain_rows)
    size = n_plain + len(pick)
    out_indicator = np.empty(size, dtype=np.int64)
    out_division = np.empty(size, dtype=np.int64)
    out_year = np.empty(size, dtype=np.int64)
    out_value = np.empty(size, dtype=np.float64)
    out_sim = np.empty(size, dtype=bool)
    for target, reported, rolled in (
        (out_indicator, indicator_ids, spec.ids[c_ind[pick]]),
        (out_division, division_ids, tree.ids[c_node[pick]]),
        (out_year, years, c_year[pick] + first_year),
        (out_value, value, c_value[pick]),
        (out_sim, simulated, c_sim[pick]),
    ):
        np.take(reported, plain_rows, out=target[:n_plain])
        target[n_plain:] = rolled
    from_level = np.zeros(size, dtype=np.int8)
    from_level[n_plain:] = np.maximum(c_from[pick], 0)
    is_own = np.ones(size, dtype=bool)
    is_own[n_plain:] = c_from[pick] < 0
    counts = np.zeros(size, dtype=np.int32)
    counts[n_plain:] = c_reported[pick]
    expected = np.zeros(size, dtype=np.int32)
    expected[n_plain:] = tree.expected[np.maximum(c_from[pick], 0), c_node[pick]]
    return pd.DataFrame(
        {
            "indicator_id": out_indicator,
            "division_id": out_division,
            "year": out_year,
            "value": out_value,
            "simulated": out_sim,
            "rolled_from": pd.arrays.IntegerArray(from_level, is_own),
            "units_reported": pd.arrays.IntegerArray(counts, is_own.copy()),
            "units_expected": pd.arrays.IntegerArray(expected, is_own.copy()),
        },
        copy=False,
    )


def _empty_rolled() -> pd.DataFrame:
    nothing = np.empty(0, dtype=np.int64)
    empty_int = pd.arrays.IntegerArray(np.empty(0, dtype=np.int32), np.empty(0, dtype=bool))
    return pd.DataFrame(
        {
            "indicator_id": nothing,
            "division_id": nothing,
            "year": nothing,
            "value": np.empty(0),
            "simulated": np.empty(0, dtype=bool),
            "rolled_from": pd.arrays.IntegerArray(np.empty(0, dtype=np.int8), np.empty(0, dtype=bool)),
            "units_reported": empty_int.copy(),
            "units_expected": empty_int.copy(),
        }
    )


# ---------------------------------------------------------------------------------------------
# status


def status_frame(
    rolled: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    thresholds: StatusThresholds | None = None,
) -> pd.DataFrame:
    """The status of level targets at many divisions at once, as the per-target evaluation gives it.

    Parameters
    ----------
    rolled
        Values per (indicator, division, year), as :func:`rollup_frame` gives them (``value``; the
        ``units_*`` columns are carried over when present).
    targets
        One row per target: ``indicator_id``, ``baseline_year``, ``deadline_year``, ``comparator``
        (``>=``, ``>``, ``<=``, ``<``, ``=``, ``~``), ``value``, ``higher_is_better`` and ``year``
        (the evaluation year). Optional: ``division_id`` (the target's scope; without it the target
        is judged at every division that has a value of its indicator), ``baseline_value`` (else the
        value in the baseline year at the same division), ``range_low`` and ``range_high`` (a
        two-sided target).
    thresholds
        The cut-offs on r = π / τ (default: the settings).

    Returns
    -------
    pandas.DataFrame
        One row per (target, division): ``target`` (the label of the target's row), ``indicator_id``,
        ``division_id``, ``year``, ``data_year`` (the latest year after the baseline year, up to the
        evaluation year or the deadline if earlier, with a value; <NA> if none), ``actual``,
        ``baseline``, ``goal`` (the target value, or the near edge of a band), ``tau``, ``pi``,
        ``ratio`` (π / τ), ``met``, ``status`` (a :class:`progress.Status` value) and, where
        ``rolled`` has them, ``units_reported`` and ``units_expected`` in the data year.

    Notes
    -----
    As in the per-target evaluation (``judges``): a target is ``not_evaluable`` when its comparator has no fixed
    value and it has no range, when the evaluation year or the deadline is not after the baseline
    year, and when no value exists after the baseline year up to the horizon (the evaluation year,
    or the deadline if earlier). Without a baseline it is judged on its value alone once the
    deadline year has data (``achieved`` or ``missed``, τ = 1), else it is ``not_evaluable``.
    Otherwise τ, π and the status follow :func:`progress.time_progress`,
    :func:`progress.actual_progress` (:func:`progress.band_progress` for a range, ``=`` and ``~``)
    and :func:`progress.classify`.
    """
    r_ind = rolled["indicator_id"].to_numpy(dtype=np.int64)
    r_div = rolled["division_id"].to_numpy(dtype=np.int64)
    r_year = rolled["year"].to_numpy(dtype=np.int64)
    t_ind_ids = targets["indicator_id"].to_numpy(dtype=np.int64)
    t_year = targets["year"].to_numpy(dtype=np.int64)
    base_year = targets["baseline_year"].to_numpy(dtype=np.int64)
    deadline_year = targets["deadline_year"].to_numpy(dtype=np.int64)
    known = np.concatenate([r_year, base_year, t_year])
    first_year = int(known.min()) if len(known) else 0
    n_years = int(known.max()) - first_year + 1 if len(known) else 1

    # the values as a matrix: one row per (indicator, division) pair, one column per year
    ind_ids = _distinct(r_ind, t_ind_ids)
    scoped = "division_id" in targets.columns
    t_div_ids = targets["division_id"].to_numpy(dtype=np.int64) if scoped else np.empty(0, np.int64)
    div_ids = _distinct(r_div, t_div_ids)
    n_div = max(len(div_ids), 1)
    pair_code, pairs = _compact(
        _positions(ind_ids, r_ind) * n_div + _positions(div_ids, r_div), len(ind_ids) * n_div
    )
    column = r_year - first_year
    matrix = np.full((len(pairs), n_years), np.nan)
    matrix[pair_code, column] = rolled["value"].to_numpy(dtype=np.float64)
    units = [name for name in ("units_reported", "units_expected") if name in rolled.columns]
    if units:  # where each (pair, year) sits in ``rolled``
        position = np.full((len(pairs), n_years), -1, dtype=np.int64)
        position[pair_code, column] = np.arange(len(rolled))

    # one row per (target, division)
    t_ind = _positions(ind_ids, t_ind_ids)
    if scoped:
        row_target = np.arange(len(targets))
        row_pair = _positions(pairs, t_ind * n_div + _positions(div_ids, t_div_ids))
        row_div = t_div_ids
    else:  # every division with a value of the target's indicator
        pair_ind = pairs // n_div  # sorted, as the pairs are
        start = np.searchsorted(pair_ind, t_ind, side="left")
        count = np.searchsorted(pair_ind, t_ind, side="right") - start
        row_target = np.repeat(np.arange(len(targets)), count)
        row_pair = np.repeat(start - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
        row_div = div_ids[pairs[row_pair] % n_div]
    has_pair = row_pair >= 0
    n_rows = len(row_target)
    values = matrix[np.maximum(row_pair, 0)] if len(pairs) else np.full((n_rows, n_years), np.nan)
    values[~has_pair] = np.nan
    base, deadline, year = base_year[row_target], deadline_year[row_target], t_year[row_target]

    # the data year: the latest year after the base year, up to the horizon, with a value
    years = np.arange(first_year, first_year + n_years)
    horizon = np.minimum(year, deadline)
    usable = (years > base[:, None]) & (years <= horizon[:, None]) & ~np.isnan(values)
    any_data = usable.any(axis=1)
    data_column = n_years - 1 - np.argmax(usable[:, ::-1], axis=1)
    rows = np.arange(n_rows)
    actual = np.where(any_data, values[rows, data_column], np.nan)
    data_year = data_column + first_year
    stock = values[rows, np.clip(base - first_year, 0, n_years - 1)]
    given = _optional(targets, "baseline_value")[row_target]
    baseline = np.where(np.isnan(given), stock, given)

    comparators = sorted(FIXED_COMPARATORS)
    comparator = pd.Index(comparators).get_indexer(pd.Index(targets["comparator"].astype(str)))[row_target]
    goal_value = _optional(targets, "value")[row_target]
    higher = targets["higher_is_better"].to_numpy(dtype=bool)[row_target]
    range_low = _optional(targets, "range_low")[row_target]
    range_high = _optional(targets, "range_high")[row_target]
    ranged = ~np.isnan(range_low) & ~np.isnan(range_high)
    met = np.zeros(n_rows, dtype=bool)
    if ranged.any():
        met[ranged] = is_met(actual[ranged], "=", low=range_low[ranged], high=range_high[ranged])
    for code, name in enumerate(comparators):
        these = (comparator == code) & ~ranged
        if these.any():
            met[these] = is_met(actual[these], name, goal_value[these])

    # a two-sided target (a range, "=" or "~" with a value) must land in a band
    spread = np.abs(goal_value) * APPROX_TOLERANCE
    approx = comparator == comparators.index("~")
    banded = ranged | (((comparator == comparators.index("=")) | approx) & ~np.isnan(goal_value))
    band_low = np.select([ranged, approx], [range_low, goal_value - spread], goal_value)
    band_high = np.select([ranged, approx], [range_high, goal_value + spread], goal_value)

    tau = time_progress(data_year, base, deadline)
    with np.errstate(invalid="ignore"):
        pi = np.where(
            banded,
            band_progress(actual, baseline, band_low, band_high, met=met),
            actual_progress(actual, baseline, goal_value, higher_is_better=higher, met=met),
        )
    labels = classify(tau, pi, met, thresholds)
    status = np.zeros(n_rows, dtype=np.int8)
    for code, name in enumerate(STATUSES):
        status[labels == name] = code

    fixed = (comparator >= 0) | ranged
    early = ~fixed | (year <= base) | (deadline <= base) | ~any_data
    no_baseline = np.isnan(baseline)
    by_value = ~early & no_baseline & (data_year >= deadline)  # judged on the value alone
    judged = ~early & ~no_baseline
    status[by_value] = np.where(met[by_value], STATUSES.index("achieved"), STATUSES.index("missed"))
    status[~judged & ~by_value] = STATUSES.index("not_evaluable")
    goal = np.where(banded, np.where(baseline < band_low, band_low, band_high), goal_value)

    out: dict[str, Any] = {
        "target": targets.index.to_numpy()[row_target],
        "indicator_id": t_ind_ids[row_target],
        "division_id": row_div,
        "year": year,
        "data_year": pd.arrays.IntegerArray(np.where(any_data, data_year, 0).astype(np.int64), ~any_data),
        "actual": actual,
        "baseline": baseline,
        "goal": np.where(judged, goal, np.where(by_value, goal_value, np.nan)),
        "tau": np.where(judged, tau, np.where(by_value, 1.0, np.nan)),
        "pi": np.where(judged, pi, np.nan),
        "ratio": np.where(judged, progress_ratio(tau, pi), np.nan),
        "met": met,
        "status": pd.Categorical.from_codes(status, categories=pd.Index(STATUSES)),
    }
    if units:
        where = np.where(has_pair & any_data, position[np.maximum(row_pair, 0), data_column], -1)
        for name in units:
            picked = rolled[name].array.take(where, allow_fill=True)
            out[name] = (
                picked if isinstance(picked, pd.arrays.IntegerArray) else pd.array(picked, dtype="Int64")
            )
    return pd.DataFrame(out)


def _optional(frame: pd.DataFrame, name: str) -> FloatArray:
    """A numeric column as float64 (NaN for missing), or all NaN when the frame lacks it."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    column = frame[name]
    if column.dtype == np.float64:
        return column.to_numpy()
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def status_rank(status: pd.Series | npt.ArrayLike) -> IntArray:
    """Position in :data:`STATUS_ORDER` (−1 for ``missed`` and ``not_evaluable``), for comparing."""
    codes = pd.Categorical(np.asarray(status, dtype=object), categories=list(STATUS_ORDER)).codes
    return np.asarray(codes, dtype=np.int64)
