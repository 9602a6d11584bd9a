"""Life-circle coverage (生活圈覆盖) of every resident, as a problem class.

``CoverageProblem.from_inputs(network, origins, facilities, standards).solve()`` runs one bounded
multi-source search per (facility type, mode, cost, direction) the circles need, locally or on a
Dask cluster, then judges every circle for every origin:

* ``share`` circles: whether the origin reaches the circle's facility types within its threshold
  (``each`` type on its own, ``all`` of them, or ``any`` of them);
* ``area_per_resident`` circles (shelter space): the residents are assigned to the shelters within
  reach up to each shelter's capacity (effective area ÷ the standard's m² per person) by a maximum
  flow, and each shelter's area is shared among the residents it takes in. A shelter nobody can
  reach counts for nobody, and one shelter's area is never counted twice.

``division_table`` then sums the results up the division tree. Everything here is pure: arrays in,
arrays out; the service layer reads files and writes the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, sparse

from planwatch.coverage.network import Mode, Network, Weight
from planwatch.coverage.points import Facilities, Origins
from planwatch.coverage.standards import Circle, StandardSet
from planwatch.coverage.travel import (
    Catchments,
    Direction,
    Nearest,
    Snapped,
    catchments,
    nearest_facility,
    snap_points,
)
from planwatch.errors import InvalidValueError

MAX_SNAP_M: Final = 500.0
"""An origin farther than this from every street is outside the network's area: reported, and
counted as not covered (never dropped from the denominator)."""

DISPLAY_REACH: Final = 2.0
"""Searches run to twice the largest threshold, so maps can show how far beyond it people are."""


@dataclass(frozen=True)
class Pass:
    """One bounded multi-source search."""

    facility_type: str
    mode: Mode
    weight: Weight
    direction: Direction
    limit: float
    """In the cost's unit: metres for ``length``, seconds for ``time``."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.facility_type, self.mode, self.weight, self.direction)


def plan_passes(circles: Sequence[Circle]) -> list[Pass]:
    """The searches ``circles`` need, one per (type, mode, cost, direction), each to the farthest
    reach any circle asks of it."""
    limits: dict[tuple[str, str, str, str], float] = {}
    for circle in circles:
        for need in circle.facilities:
            key = (need.type, circle.mode, circle.weight, circle.direction)
            limits[key] = max(limits.get(key, 0.0), circle.cutoff * DISPLAY_REACH)
    return [Pass(t, m, w, d, limit) for (t, m, w, d), limit in sorted(limits.items())]  # type: ignore[arg-type]


def run_pass(network: Network, origins: Snapped, facilities: Snapped, spec: Pass) -> Nearest:
    """One search (a top-level function so a Dask worker can run it)."""
    return nearest_facility(
        network,
        origins,
        facilities,
        mode=spec.mode,
        weight=spec.weight,
        limit=spec.limit,
        direction=spec.direction,
    )


def run_catchments(network: Network, origins: Snapped, facilities: Snapped, spec: Pass) -> Catchments:
    return catchments(
        network,
        origins,
        facilities,
        mode=spec.mode,
        weight=spec.weight,
        limit=spec.limit,
        direction=spec.direction,
    )


@dataclass
class CircleResult:
    """One circle judged for every origin."""

    circle: Circle
    parts: dict[str, npt.NDArray[np.bool_]]
    """``""`` → the circle as its rule defines it; each facility type → that type alone."""
    weights: npt.NDArray[np.float64]
    """Population of the circle's group at each origin."""
    costs: dict[str, npt.NDArray[np.float64]]
    """For each part: the cost (the circle's unit) at which it is reached; ``inf`` beyond the search."""
    part_weights: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    """For each part: the population it is a share of (a facility type's own age group, e.g. the
    elderly for a nursing home, the circle's group for the whole circle)."""
    area: npt.NDArray[np.float64] | None = None
    """``area_per_resident`` circles: shelter area assigned to each origin (m²)."""
    placed: npt.NDArray[np.float64] | None = None
    """``area_per_resident`` circles: persons of each origin given a place within reach."""


@dataclass
class CoverageProblem:
    """Coverage of every origin by every circle of a standard set.

    Build with ``from_inputs``; ``solve`` fills the attributes ending in ``_``.
    """

    network: Network
    origins: Origins
    facilities: Facilities
    circles: list[Circle]
    max_snap_m: float = MAX_SNAP_M
    type_groups: dict[str, str] = field(default_factory=dict)
    """The age group each facility type serves (``facility_types.yaml``): a type's own share is
    taken of that group (the elderly for elderly services, children for children's services)."""
    snapped_: dict[str, Snapped] = field(default_factory=dict)
    facility_snapped_: dict[str, Snapped] = field(default_factory=dict)
    nearest_: dict[tuple[str, str, str, str], Nearest] = field(default_factory=dict)
    results_: dict[str, CircleResult] = field(default_factory=dict)
    warnings_: list[str] = field(default_factory=list)
    outside_: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    """Per mode: origins farther than ``max_snap_m`` from every street open to it."""
    seconds_: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_inputs(
        cls,
        network: Network,
        origins: Origins,
        facilities: Facilities,
        standards: StandardSet,
        *,
        circles: Sequence[str] | None = None,
        max_snap_m: float = MAX_SNAP_M,
    ) -> CoverageProblem:
        """The problem for ``circles`` (codes; all circles of ``standards`` when None)."""
        chosen = [standards.circle(code) for code in circles] if circles else list(standards.circles.values())
        groups = {code: str(t.group) for code, t in standards.facility_types.items() if t.group}
        return cls(network, origins, facilities, chosen, max_snap_m, groups)

    @property
    def simulated(self) -> bool:
        """Whether any input is synthetic (模拟数据)."""
        return self.network.simulated or self.origins.simulated or self.facilities.simulated

    @property
    def passes(self) -> list[Pass]:
        return plan_passes(self.circles)

    def _snap(self) -> None:
        for mode in sorted({c.mode for c in self.circles}):
            self.snapped_[mode] = snap_points(self.network, self.origins.x, self.origins.y, mode=mode)
            self.facility_snapped_[mode] = snap_points(
                self.network, self.facilities.x, self.facilities.y, mode=mode
            )
        for mode_name, snapped in self.snapped_.items():
            # outside is per mode: a footpath may reach a home no drivable road comes near
            outside = np.flatnonzero(snapped.access_m > self.max_snap_m)
            self.outside_[mode_name] = outside
            if len(outside):
                people = float(self.origins.weights("total")[outside].sum())
                sample = ", ".join(self.origins.ids[outside[:5]])
                self.warnings_.append(
                    f"{len(outside)} origin(s) ({people:,.0f} residents) lie more than {self.max_snap_m:g} m from any street"
                    f" open to {mode_name} ({sample}{' …' if len(outside) > 5 else ''}): outside the network's area, counted"
                    " as not covered; extend the network or check their coordinates"
                )
        for mode_name, snapped in self.facility_snapped_.items():
            far_f = np.flatnonzero(snapped.access_m > self.max_snap_m)
            if len(far_f):
                self.warnings_.append(
                    f"{len(far_f)} facilit(ies) lie more than {self.max_snap_m:g} m from any street open to {mode_name}"
                    f" ({', '.join(self.facilities.ids[far_f[:5]])}); their walk to the street is counted"
                )

    def solve(
        self,
        *,
        client: Any = None,
        progress: Callable[[str], None] | None = None,
    ) -> CoverageProblem:
        """Run every search (on ``client``, a ``distributed.Client``, when given) and judge every
        circle. ``progress`` is called with a label after each step."""
        started = time.perf_counter()
        self.warnings_, self.nearest_, self.results_, self.outside_ = [], {}, {}, {}
        self._snap()
        self.seconds_["snap"] = time.perf_counter() - started
        passes = self.passes
        jobs: list[tuple[Pass, Snapped]] = []
        missing: set[str] = set()
        for spec in passes:
            index = self.facilities.of_type(spec.facility_type)
            if len(index) == 0 and spec.facility_type not in missing:
                missing.add(spec.facility_type)
                self.warnings_.append(
                    f"no facility of type {spec.facility_type} in {self.facilities.source}: its coverage is 0 %; add them to the facilities file"
                )
            jobs.append((spec, self.facility_snapped_[spec.mode].take(index)))
        started = time.perf_counter()
        if client is not None:
            network = client.scatter(self.network, broadcast=True)
            origins = {m: client.scatter(s, broadcast=True) for m, s in self.snapped_.items()}
            futures = [client.submit(run_pass, network, origins[s.mode], f, s, pure=False) for s, f in jobs]
            for (spec, _), future in zip(jobs, futures, strict=True):
                self._keep(spec, future.result())
                if progress:
                    progress(spec.facility_type)
        else:
            for spec, fac in jobs:
                self._keep(spec, run_pass(self.network, self.snapped_[spec.mode], fac, spec))
                if progress:
                    progress(spec.facility_type)
        self.seconds_["search"] = time.perf_counter() - started
        started = time.perf_counter()
        for circle in self.circles:
            self.results_[circle.code] = self._judge(circle)
        self.seconds_["judge"] = time.perf_counter() - started
        return self

    def _keep(self, spec: Pass, nearest: Nearest) -> None:
        outside = self.outside_[spec.mode]
        nearest.cost[outside] = np.inf
        nearest.facility[outside] = -1
        index = self.facilities.of_type(spec.facility_type)
        # facility index within its type → index in the facilities file
        nearest.facility[:] = np.where(
            nearest.facility >= 0, index[np.maximum(nearest.facility, 0)] if len(index) else -1, -1
        )
        self.nearest_[spec.key] = nearest

    def cost(self, circle: Circle, facility_type: str) -> npt.NDArray[np.float64]:
        """Cost from every origin to the nearest facility of ``facility_type`` in the circle's unit
        (metres or minutes); ``inf`` beyond the search."""
        nearest = self.nearest_[(facility_type, circle.mode, circle.weight, circle.direction)]
        return nearest.cost / (60.0 if circle.threshold_kind == "minutes" else 1.0)

    def _judge(self, circle: Circle) -> CircleResult:
        weights = self.origins.weights(circle.group)
        threshold = float(circle.threshold_value)
        each = {need.type: self.cost(circle, need.type) <= threshold for need in circle.facilities}
        if circle.rule == "any":  # one listed type is enough (e.g. any children's facility)
            whole = np.vstack(list(each.values())).any(axis=0)
        else:  # each / all: the circle is complete when every required type is within reach
            whole = np.vstack([each[code] for code in circle.required_codes or circle.facility_codes]).all(
                axis=0
            )
        parts: dict[str, npt.NDArray[np.bool_]] = {"": np.asarray(whole, dtype=bool)}
        if len(each) > 1:
            parts |= {code: np.asarray(hit, dtype=bool) for code, hit in each.items()}
        costs = {code: self.cost(circle, code) for code in circle.facility_codes}
        needed = (
            circle.facility_codes if circle.rule == "any" else circle.required_codes or circle.facility_codes
        )
        stacked = np.vstack([costs[code] for code in needed])
        # the cost of completing the circle: the nearest listed type (any), or the farthest of the
        # nearest required types (each, all)
        part_costs = {
            "": np.asarray(
                stacked.min(axis=0) if circle.rule == "any" else stacked.max(axis=0), dtype=np.float64
            )
        }
        if len(each) > 1:
            part_costs |= costs
        part_weights = {"": weights}
        if len(each) > 1:
            part_weights |= {
                code: self._group_weights(self.type_groups.get(code, circle.group), circle) for code in each
            }
        result = CircleResult(circle, parts, weights, part_costs, part_weights)
        if circle.measure == "area_per_resident":
            self._assign_area(circle, result)
        return result

    def _group_weights(self, group: str, circle: Circle) -> npt.NDArray[np.float64]:
        if group in self.origins.population:
            return self.origins.population[group]
        warning = (
            f"{self.origins.source} has no population of age group {group}: the facility types serving it are"
            f" weighted by the circle's group ({circle.group}); add the age band column"
        )
        if warning not in self.warnings_:
            self.warnings_.append(warning)
        return self.origins.weights(circle.group)

    def _assign_area(self, circle: Circle, result: CircleResult) -> None:
        facility_type = circle.facilities[0].type
        index = self.facilities.of_type(facility_type)
        n = len(self.origins)
        result.area, result.placed = np.zeros(n), np.zeros(n)
        if len(index) == 0:
            return
        area = self.facilities.capacity[index]
        if np.isnan(area).any():
            missing = self.facilities.ids[index[np.isnan(area)]][:5]
            self.warnings_.append(
                f"{int(np.isnan(area).sum())} {facility_type} facilit(ies) have no capacity (effective area, m²)"
                f" ({', '.join(missing)}): they count as 0 m²; fill the capacity column"
            )
            area = np.nan_to_num(area)
        spec = Pass(facility_type, circle.mode, circle.weight, circle.direction, circle.cutoff)
        reach = run_catchments(
            self.network, self.snapped_[circle.mode], self.facility_snapped_[circle.mode].take(index), spec
        )
        keep = ~np.isin(reach.origin, self.outside_[circle.mode])
        reach = Catchments(reach.facility[keep], reach.origin[keep], reach.cost[keep])
        per_person = float(circle.per_resident_m2 or 1.0)
        flow = assign_capacity(reach, result.weights, area / per_person, len(index))
        result.placed = np.bincount(reach.origin, weights=flow, minlength=n).astype(np.float64)
        # each person placed holds the standard's area of the shelter: a shelter's spare room
        # counts for nobody, and residents without a place within reach get none
        result.area = np.bincount(reach.origin, weights=flow * per_person, minlength=n).astype(np.float64)


def assign_capacity(
    reach: Catchments, demand: npt.NDArray[np.float64], capacity: npt.NDArray[np.float64], n_facilities: int
) -> npt.NDArray[np.float64]:
    """Persons of each origin placed at each facility within reach (one number per pair of
    ``reach``): as many people as the capacities allow, and among such placements the one with the
    least total travel, so nobody is sent past a nearer place with room and the result does not
    depend on the order of the rows. Two linear programmes solved by HiGHS (a transport problem:
    fractional persons are allowed, as population points often carry them)."""
    n_pairs = len(reach.origin)
    if n_pairs == 0:
        return np.zeros(0)
    origins, pair_origin = np.unique(reach.origin, return_inverse=True)
    pairs = np.arange(n_pairs)
    a_ub = sparse.vstack(
        [
            sparse.csr_array((np.ones(n_pairs), (pair_origin, pairs)), shape=(len(origins), n_pairs)),
            sparse.csr_array((np.ones(n_pairs), (reach.facility, pairs)), shape=(n_facilities, n_pairs)),
        ],
        format="csr",
    )
    b_ub = np.concatenate([np.maximum(demand[origins], 0.0), np.maximum(capacity, 0.0)])
    most = optimize.linprog(-np.ones(n_pairs), A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if most.status != 0:
        raise InvalidValueError(f"the shelter assignment could not be solved ({most.message})")
    placed = -float(most.fun)
    # second: the same number of people placed (to a relative 1e-9), with the least travel
    keep = sparse.csr_array(-np.ones((1, n_pairs)))
    nearest = optimize.linprog(
        reach.cost,
        A_ub=sparse.vstack([a_ub, keep], format="csr"),
        b_ub=np.concatenate([b_ub, [-placed * (1 - 1e-9)]]),
        bounds=(0, None),
        method="highs",
    )
    flow = nearest.x if nearest.status == 0 else most.x
    return np.maximum(np.asarray(flow, dtype=np.float64), 0.0)


def division_table(
    columns: Mapping[str, npt.NDArray[np.float64]],
    division_codes: npt.NDArray[np.str_],
    ancestors: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """Sum per-origin ``columns`` into every division that contains the origins: the origin's own
    division and each ancestor (``ancestors[code]`` lists them, the division itself included).

    Returns a frame indexed by division code with one column per input column."""
    frame = pd.DataFrame(dict(columns))
    frame["code"] = division_codes
    own = frame.groupby("code", sort=False).sum()
    chains = pd.Series({code: list(ancestors.get(code, [code])) for code in own.index}, name="division")
    spread = own.join(chains).explode("division")
    return spread.groupby("division").sum(numeric_only=True)
