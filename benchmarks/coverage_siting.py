"""Siting 50 new facilities among 1,000 candidates for 10,000 demand points: planwatch's
``MaximalCovering`` (greedy + 1-swap, the same plus its local search, exact with HiGHS) beside
spopt's ``MCLP`` solved with CBC through PuLP.

Prints a table; asserts nothing. The instance is synthetic: demand points and candidate sites
uniform in a 20 km square, 50–2,000 people per point; travel distance is 1.25 × the straight line
(a street detour), stored for pairs up to 1.5 × the threshold as a bounded Dijkstra would give them,
and a site covers a point within 1,500 m (about 1 % of the pairs). spopt gets the same relation as
a dense cost matrix (unstored pairs infinite) and is timed from ``MCLP.from_cost_matrix`` (PuLP
building the model) to the end of ``solve(..., results=False)`` (its optional client/facility
lists are a pure-Python pass over the whole matrix); its covered population is counted here from
the sites it chose. spopt can take minutes: ``--spopt-seconds`` caps CBC (the model build is not
capped), ``--no-spopt`` skips it.

    .venv/bin/python benchmarks/coverage_siting.py [--exact-seconds S] [--spopt-seconds S | --no-spopt]
        [--lscp-seconds S]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.spatial import cKDTree

from planwatch.coverage.siting import MaximalCovering, Method, SetCovering

DEMAND, CANDIDATES, P = 10_000, 1_000, 50
SIDE_M, THRESHOLD_M, DETOUR = 20_000.0, 1_500.0, 1.25
SEED = 7


@dataclass
class Row:
    label: str
    seconds: float
    covered: float
    note: str = ""
    gap: float | None = None


def instance(seed: int = SEED) -> tuple[sparse.csr_array, npt.NDArray[np.float64]]:
    """Travel distances (demand × candidates, metres, stored up to 1.5 × the threshold) and people."""
    rng = np.random.default_rng(seed)
    demand = rng.random((DEMAND, 2)) * SIDE_M
    sites = rng.random((CANDIDATES, 2)) * SIDE_M
    weights = rng.integers(50, 2_001, DEMAND).astype(np.float64)
    limit = 1.5 * THRESHOLD_M / DETOUR
    straight = cKDTree(demand).sparse_distance_matrix(cKDTree(sites), limit, output_type="coo_matrix")
    times = sparse.csr_array(
        (straight.data * DETOUR, (straight.row, straight.col)), shape=(DEMAND, CANDIDATES)
    )
    return times, weights


def ours(times: sparse.csr_array, weights: npt.NDArray[np.float64], exact_seconds: float) -> list[Row]:
    """Each planwatch variant timed from the travel times (building the coverage relation included)."""
    variants: list[tuple[str, Callable[[MaximalCovering], MaximalCovering]]] = [
        ("planwatch greedy + 1-swap", lambda problem: problem.solve("greedy", search_seconds=0.0)),
        ("planwatch greedy + 1-swap + local search (1 s)", lambda problem: problem.solve("greedy")),
        (
            f"planwatch exact (HiGHS, limit {exact_seconds:g} s)",
            lambda problem: problem.solve("exact", time_limit=exact_seconds),
        ),
    ]
    rows = []
    for label, solve in variants:
        start = time.perf_counter()
        problem = solve(MaximalCovering.from_travel_times(times, weights, threshold=THRESHOLD_M, p=P))
        took = time.perf_counter() - start
        note = problem.status_
        if problem.objective_bound_ is not None:
            note += f", bound {problem.objective_bound_:,.0f}"
        rows.append(Row(label, took, problem.covered_weight_, note, problem.optimality_gap_))
    return rows


def spopt_mclp(times: sparse.csr_array, weights: npt.NDArray[np.float64], seconds: float | None) -> Row:
    import pulp
    from spopt.locate import MCLP

    cost = np.full(times.shape, np.inf)
    cost[times.nonzero()] = times.data
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PuLP 3.x deprecation notices about spopt's model building
        model = MCLP.from_cost_matrix(cost, weights, THRESHOLD_M, p_facilities=P)
        built = time.perf_counter() - start
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=seconds), results=False)
    took = time.perf_counter() - start
    chosen = [j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5]
    covered = float(weights[(cost[:, chosen] <= THRESHOLD_M).any(axis=1)].sum())
    status = pulp.LpStatus[model.problem.status]
    return Row(
        f"spopt MCLP + PuLP CBC{'' if seconds is None else f' (CBC limit {seconds:g} s)'}",
        took,
        covered,
        f"{status}, model build {built:.1f} s, {len(chosen)} sites",
    )


def set_covering(times: sparse.csr_array, weights: npt.NDArray[np.float64], seconds: float) -> None:
    """The fewest sites covering everyone reachable (LSCP): greedy variants and exact, ours only."""
    print(
        f"\nLSCP on the same instance (fewest new sites so that everyone reachable is covered; exact limit {seconds:g} s)"
    )
    print(f"  {'':<50} {'wall s':>9} {'sites':>7} {'lower bound':>12}  note")
    variants: tuple[tuple[str, Method, float], ...] = (
        ("planwatch greedy + redundancy + 1-for-2", "greedy", 0.0),
        ("planwatch greedy + local search (1 s)", "greedy", 1.0),
        ("planwatch exact (HiGHS)", "exact", 1.0),
    )
    for label, method, search in variants:
        start = time.perf_counter()
        problem = SetCovering.from_travel_times(times, weights, threshold=THRESHOLD_M)
        problem.solve(method, time_limit=seconds, search_seconds=search)
        took = time.perf_counter() - start
        bound = "" if problem.objective_bound_ is None else f"{problem.objective_bound_:,.0f}"
        gap = "" if problem.optimality_gap_ is None else f", gap {problem.optimality_gap_:.1%}"
        print(
            f"  {label:<50} {took:9.3f} {len(problem.selected_):7,} {bound:>12}  {problem.status_}{gap}, "
            f"{len(problem.uncoverable_)} points uncoverable"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--exact-seconds", type=float, default=300.0, help="HiGHS time limit (default 300)")
    parser.add_argument("--spopt-seconds", type=float, default=None, help="cap CBC's time (default: none)")
    parser.add_argument("--no-spopt", action="store_true", help="skip spopt")
    parser.add_argument("--lscp-seconds", type=float, default=60.0, help="HiGHS limit for LSCP (default 60)")
    args = parser.parse_args()

    times, weights = instance()
    reach = sparse.csr_array((times.data <= THRESHOLD_M, times.indices, times.indptr), shape=times.shape)
    density = reach.sum() / (DEMAND * CANDIDATES)
    total = float(weights.sum())
    print(
        f"MCLP: {DEMAND:,} demand points ({total:,.0f} people) × {CANDIDATES:,} candidates, p = {P}, "
        f"threshold {THRESHOLD_M:,.0f} m; {int(reach.sum()):,} covering pairs ({density:.2%}); "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    rows = ours(times, weights, args.exact_seconds)
    if not args.no_spopt:
        print("running spopt (PuLP model build + CBC) …", flush=True)
        rows.append(spopt_mclp(times, weights, args.spopt_seconds))

    exact = rows[2]
    optimal = exact.note.startswith("optimal")
    best = max(row.covered for row in rows)
    reference = exact.covered if optimal else best
    fastest = rows[0].seconds
    print(
        "  '% of optimum' is covered population ÷ "
        + ("planwatch exact's proven optimum" if optimal else "the best coverage found (exact not proven)")
    )
    print(f"  '× time' divides by planwatch greedy + 1-swap ({fastest:.3f} s)")
    print(
        f"  {'':<50} {'wall s':>9} {'× time':>9} {'covered people':>15} {'share':>8} {'% of optimum':>13}  note"
    )
    for row in rows:
        print(
            f"  {row.label:<50} {row.seconds:9.3f} {row.seconds / fastest:9.1f} {row.covered:15,.0f} "
            f"{row.covered / total:8.2%} {row.covered / reference:13.3%}  {row.note}"
            + ("" if row.gap is None else f", gap {row.gap:.2e}")
        )
    if not args.no_spopt:
        spopt = rows[-1]
        print(
            f"  spopt took {spopt.seconds / rows[0].seconds:,.0f}× the time of greedy + 1-swap, "
            f"{spopt.seconds / rows[1].seconds:,.1f}× that of greedy + local search and "
            f"{spopt.seconds / exact.seconds:,.1f}× that of the exact solve"
        )

    set_covering(times, weights, args.lscp_seconds)


if __name__ == "__main__":
    main()
