"""Siting problems: the exact MIP against spopt and brute force, the heuristics against the optimum."""

from __future__ import annotations

import itertools
import json

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from planwatch.coverage import siting
from planwatch.coverage.siting import MaximalCovering, SetCovering
from planwatch.errors import InvalidValueError

RADIUS = 0.15

# PuLP 3.x warns (DeprecationWarning) about the way spopt builds its variables and constraints;
# spopt's code, not ours, and the models it builds are still solved correctly
pulp_deprecations = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulp")


def random_instance(
    seed: int, demand: int = 200, candidates: int = 40
) -> tuple[npt.NDArray[np.float64], sparse.csr_array, npt.NDArray[np.float64]]:
    """Points in the unit square: the dense distances (for spopt), the same as sparse travel
    times stored up to twice the radius (for us), and the population."""
    rng = np.random.default_rng(seed)
    points, sites = rng.random((demand, 2)), rng.random((candidates, 2))
    distance = np.linalg.norm(points[:, None] - sites[None], axis=2)
    rows, cols = np.nonzero(distance <= 2 * RADIUS)
    times = sparse.csr_array((distance[rows, cols], (rows, cols)), shape=distance.shape)
    return distance, times, rng.integers(50, 2_000, demand).astype(np.float64)


def spopt_sites(model: object) -> list[int]:
    return [j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5]  # type: ignore[attr-defined]


@pulp_deprecations
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_exact_mclp_equals_spopt_and_greedy_is_within_one_percent(seed: int) -> None:
    import pulp
    from spopt.locate import MCLP

    distance, times, weights = random_instance(seed)
    model = MCLP.from_cost_matrix(distance, weights, RADIUS, p_facilities=5)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    optimum = weights[(distance[:, spopt_sites(model)] <= RADIUS).any(axis=1)].sum()

    exact = MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=5).solve("exact")
    greedy = MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=5).solve("greedy")
    plain = MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=5)
    plain.solve("greedy", search_seconds=0)

    assert exact.covered_weight_ == pytest.approx(optimum, rel=1e-9)
    assert exact.status_ == "optimal"
    assert exact.optimality_gap_ == pytest.approx(0, abs=1e-6)
    assert exact.objective_bound_ == pytest.approx(optimum, rel=1e-6)
    assert optimum * 0.99 <= plain.covered_weight_ <= greedy.covered_weight_ <= optimum
    assert greedy.method_ == "greedy"
    assert greedy.objective_bound_ is None
    assert greedy.optimality_gap_ is None


@pulp_deprecations
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_lscp_uses_as_many_sites_as_spopt(seed: int) -> None:
    import pulp
    from spopt.locate import LSCP

    distance, times, weights = random_instance(seed)
    reachable = (distance <= RADIUS).any(axis=1)
    model = LSCP.from_cost_matrix(distance[reachable], RADIUS)  # spopt has no answer if some can't be
    model.solve(pulp.PULP_CBC_CMD(msg=False))

    exact = SetCovering.from_travel_times(times, weights, threshold=RADIUS).solve("exact")
    greedy = SetCovering.from_travel_times(times, weights, threshold=RADIUS).solve("greedy")

    assert len(exact.selected_) == len(spopt_sites(model))
    assert exact.status_ == "optimal"
    assert len(greedy.selected_) >= len(exact.selected_)
    for solved in (exact, greedy):
        assert solved.covered_[reachable].all()
        assert set(solved.uncoverable_) == set(np.flatnonzero(~reachable))
        assert solved.uncoverable_weight_ == pytest.approx(weights[~reachable].sum())
        assert solved.covered_weight_ == pytest.approx(weights[reachable].sum())


@st.composite
def tiny_instances(draw: st.DrawFn) -> tuple[sparse.csr_array, npt.NDArray[np.float64], list[int], int]:
    demand = draw(st.integers(1, 8))
    candidates = draw(st.integers(1, 6))
    cells = draw(st.lists(st.booleans(), min_size=demand * candidates, max_size=demand * candidates))
    matrix = sparse.csr_array(np.asarray(cells).reshape(demand, candidates))
    weights = np.asarray(draw(st.lists(st.integers(0, 100), min_size=demand, max_size=demand)), float)
    fixed = sorted(draw(st.sets(st.integers(0, candidates - 1), max_size=2)))
    p = draw(st.integers(0, candidates - len(fixed)))
    return matrix, weights, fixed, p


def covered_by(matrix: sparse.csr_array, sites: list[int]) -> npt.NDArray[np.bool_]:
    return np.asarray(matrix.toarray()[:, sites].any(axis=1)) if sites else np.zeros(matrix.shape[0], bool)


@settings(deadline=None, max_examples=150)
@given(tiny_instances())
def test_mclp_against_brute_force(
    instance: tuple[sparse.csr_array, npt.NDArray[np.float64], list[int], int],
) -> None:
    matrix, weights, fixed, p = instance
    free = [j for j in range(matrix.shape[1]) if j not in fixed]
    optimum = max(
        weights[covered_by(matrix, [*fixed, *choice])].sum() for choice in itertools.combinations(free, p)
    )
    exact = MaximalCovering.from_coverage(matrix, weights, p=p, fixed=fixed).solve("exact")
    greedy = MaximalCovering.from_coverage(matrix, weights, p=p, fixed=fixed).solve("greedy")

    assert exact.covered_weight_ == pytest.approx(optimum)
    assert greedy.covered_weight_ <= optimum + 1e-9
    for solved in (exact, greedy):
        chosen = solved.selected_.tolist()
        assert len(chosen) <= p
        assert not set(chosen) & set(fixed)
        assert (solved.covered_ == covered_by(matrix, [*fixed, *chosen])).all()
        assert solved.existing_weight_ == pytest.approx(weights[covered_by(matrix, fixed)].sum())
        assert solved.existing_weight_ + solved.added_weight_.sum() == pytest.approx(solved.covered_weight_)
        assert (solved.added_weight_ > 0).all()
        assert list(solved.added_weight_) == sorted(solved.added_weight_, reverse=True)  # greedy order
        assert set(solved.uncoverable_) == set(np.flatnonzero(matrix.sum(axis=1) == 0))


@settings(deadline=None, max_examples=150)
@given(tiny_instances())
def test_lscp_against_brute_force(
    instance: tuple[sparse.csr_array, npt.NDArray[np.float64], list[int], int],
) -> None:
    matrix, weights, fixed, _ = instance
    free = [j for j in range(matrix.shape[1]) if j not in fixed]
    reachable = np.asarray(matrix.sum(axis=1)) > 0
    fewest = next(
        k
        for k in range(len(free) + 1)
        for choice in itertools.combinations(free, k)
        if covered_by(matrix, [*fixed, *choice])[reachable].all()
    )
    exact = SetCovering.from_coverage(matrix, weights, fixed=fixed).solve("exact")
    greedy = SetCovering.from_coverage(matrix, weights, fixed=fixed).solve("greedy")

    assert len(exact.selected_) == fewest
    assert len(greedy.selected_) >= fewest
    for solved in (exact, greedy):
        assert not set(solved.selected_.tolist()) & set(fixed)
        assert solved.covered_[reachable].all()
        assert not solved.covered_[~reachable].any()
        assert set(solved.uncoverable_) == set(np.flatnonzero(~reachable))
        assert solved.existing_weight_ + solved.added_weight_.sum() == pytest.approx(solved.covered_weight_)
        assert solved.covered_weight_ + solved.uncoverable_weight_ == pytest.approx(weights.sum())


def test_explicit_zero_time_is_a_site_at_the_point() -> None:
    # demand 0 sits on site 0 (time 0.0 stored); demand 1 is 5 min from site 1, 20 min from site 0
    times = sparse.csr_array(
        (np.array([0.0, 20.0, 5.0]), np.array([0, 0, 1]), np.array([0, 1, 3, 3])), shape=(3, 2)
    )
    problem = MaximalCovering.from_travel_times(times, [10.0, 20.0, 30.0], threshold=5, p=1)
    assert problem.coverage.toarray().tolist() == [[True, False], [False, True], [False, False]]
    assert problem.uncoverable_.tolist() == [2]
    assert problem.uncoverable_weight_ == 30
    assert problem.solve().selected_.tolist() == [1]
    assert problem.covered_share_ == pytest.approx(20 / 60)


def test_fixed_sites_count_as_covered_and_are_not_chosen() -> None:
    coverage = sparse.csr_array(np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=bool))
    problem = MaximalCovering.from_coverage(coverage, [5.0, 1.0, 2.0, 3.0], p=1, fixed=[0]).solve()
    assert problem.existing_weight_ == 6
    assert problem.selected_.tolist() == [1]  # adds point 3 (3 people) over point 2 (2)
    assert problem.added_weight_.tolist() == [3.0]
    assert problem.covered_weight_ == 9


def test_result_is_serialisable_with_names_and_cumulative_shares() -> None:
    _, times, weights = random_instance(5)
    names = [f"候选点{j}" for j in range(times.shape[1])]
    problem = MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=4, fixed=[0], names=names)
    rows = problem.solve().result()
    assert json.loads(json.dumps(rows, ensure_ascii=False)) == rows
    assert [row["site"] for row in rows] == problem.selected_.tolist()
    assert [row["name"] for row in rows] == [names[j] for j in problem.selected_]
    assert rows[0]["cumulative_share"] == pytest.approx(
        (problem.existing_weight_ + rows[0]["population_added"]) / weights.sum()
    )
    assert rows[-1]["cumulative_share"] == pytest.approx(problem.covered_share_)
    assert (
        "name"
        not in MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=2).solve().result()[0]
    )


def test_auto_is_exact_when_small_and_greedy_when_large(monkeypatch: pytest.MonkeyPatch) -> None:
    _, times, weights = random_instance(6)
    problem = MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=3)
    assert problem.solve().method_ == "exact"
    monkeypatch.setattr(siting, "AUTO_EXACT_MAX_NNZ", 10)
    assert problem.solve().method_ == "greedy"
    assert problem.status_ == "heuristic"
    assert SetCovering.from_travel_times(times, weights, threshold=RADIUS).solve().method_ == "greedy"


def test_same_seed_same_sites() -> None:
    _, times, weights = random_instance(8, demand=300, candidates=60)
    runs = [
        MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=6)
        .solve("greedy", seed=3)
        .selected_
        for _ in range(2)
    ]
    assert runs[0].tolist() == runs[1].tolist()


def test_p_zero_chooses_nothing() -> None:
    _, times, weights = random_instance(9)
    for method in ("greedy", "exact"):
        problem = MaximalCovering.from_travel_times(times, weights, threshold=RADIUS, p=0, fixed=[1, 2])
        problem.solve(method)  # type: ignore[arg-type]
        assert problem.selected_.tolist() == []
        assert problem.covered_weight_ == pytest.approx(problem.existing_weight_)


def small() -> tuple[sparse.csr_array, npt.NDArray[np.float64]]:
    return sparse.csr_array(np.array([[3.0, 0.0], [1.0, 2.0]])), np.array([10.0, 20.0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"p": -1}, r"p \(the number of new sites\) must be an integer from 0 to 2"),
        ({"p": 2, "fixed": [0]}, r"from 0 to 1, the number of candidate sites that are not fixed"),
        ({"p": 1.5}, "must be an integer"),
        ({"weights": np.array([1.0, 2.0, 3.0])}, r"shape \(2,\).*got shape \(3,\)"),
        ({"weights": np.array([1.0, -2.0])}, "must be ≥ 0; demand point 1 has -2"),
        ({"weights": np.array([1.0, np.nan])}, "NaN or infinite"),
        (
            {"times": sparse.csr_array(np.array([[np.nan, 1.0], [1.0, 1.0]]))},
            "1 NaN value.*demand point 0, site 0",
        ),
        ({"times": sparse.csr_array(np.array([[-1.0, 1.0], [1.0, 1.0]]))}, "negative"),
        ({"times": np.ones((2, 2))}, "must be a 2-D scipy.sparse matrix"),
        ({"threshold": float("nan")}, "threshold must be a number ≥ 0"),
        ({"fixed": [5]}, "fixed site index 5 is out of range: there are 2"),
        ({"names": ["a"]}, r"names must name every candidate column \(2\); got 1"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(change: dict[str, object], message: str) -> None:
    times, weights = small()
    arguments: dict[str, object] = {"times": times, "weights": weights, "threshold": 2.5, "p": 1, **change}
    with pytest.raises(InvalidValueError, match=message):
        MaximalCovering.from_travel_times(**arguments)  # type: ignore[arg-type]


def test_bad_solve_options_are_refused() -> None:
    times, weights = small()
    problem = MaximalCovering.from_travel_times(times, weights, threshold=2.5, p=1)
    with pytest.raises(InvalidValueError, match="method must be 'auto', 'greedy' or 'exact'"):
        problem.solve("fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="time_limit must be a positive"):
        problem.solve(time_limit=0)
    with pytest.raises(InvalidValueError, match="search_seconds must be ≥ 0"):
        problem.solve(search_seconds=-1)
    with pytest.raises(InvalidValueError, match="NaN"):
        SetCovering.from_travel_times(sparse.csr_array(np.array([[np.nan]])), [1.0], threshold=1)
