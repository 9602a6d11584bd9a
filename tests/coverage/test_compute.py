"""Life-circle coverage as a problem class: circles' rules, capacitated shelter space, origins
outside the network, missing facility types, sums up the division tree, and a Dask cluster."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planwatch.coverage.compute import CoverageProblem, assign_capacity, division_table
from planwatch.coverage.network import ROAD_CLASSES, Network
from planwatch.coverage.points import Facilities, Origins
from planwatch.coverage.standards import StandardSet, load_standards
from planwatch.coverage.travel import Catchments

RESIDENTIAL = ROAD_CLASSES.index("residential")


def grid(side: int = 11, spacing: float = 100.0) -> Network:
    """A side × side street grid, 100 m blocks, origin of coordinates at (0, 0)."""
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()]).astype(np.int32)
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()]).astype(np.int32)
    gx, gy = np.meshgrid(np.arange(side) * spacing, np.arange(side) * spacing)
    return Network(
        gx.ravel().astype(float),
        gy.ravel().astype(float),
        u,
        v,
        np.full(len(u), spacing),
        np.full(len(u), RESIDENTIAL, dtype=np.int8),
        np.zeros(len(u), dtype=bool),
        "EPSG:32648",
    )


def origins(
    xy: list[tuple[float, float]], people: list[float], codes: list[str], children: list[float] | None = None
) -> Origins:
    n = len(xy)
    population = {"total": np.array(people, dtype=float)}
    if children is not None:
        population["0-14"] = np.array(children, dtype=float)
    return Origins(
        ids=np.array([f"o{i}" for i in range(n)]),
        lon=np.zeros(n),
        lat=np.zeros(n),
        x=np.array([p[0] for p in xy], dtype=float),
        y=np.array([p[1] for p in xy], dtype=float),
        source="origins.csv",
        sha256="-",
        simulated=False,
        division_code=np.array(codes),
        population=population,
    )


def facilities(rows: list[tuple[str, float, float, float]]) -> Facilities:
    n = len(rows)
    return Facilities(
        ids=np.array([f"f{i}" for i in range(n)]),
        lon=np.zeros(n),
        lat=np.zeros(n),
        x=np.array([r[1] for r in rows], dtype=float),
        y=np.array([r[2] for r in rows], dtype=float),
        source="facilities.csv",
        sha256="-",
        simulated=False,
        type=np.array([r[0] for r in rows]),
        name=np.array([r[0] for r in rows]),
        capacity=np.array([r[3] for r in rows], dtype=float),
        division_code=np.full(n, ""),
    )


@pytest.fixture(scope="module")
def standards() -> StandardSet:
    return load_standards()


def test_rule_any_needs_one_listed_type_and_rule_all_every_required_one(standards: StandardSet) -> None:
    net = grid()
    # children's 5-minute walk (375 m): a children's complex near the first child, a play area near
    # the second, nothing near the third
    people = origins(
        [(0, 0), (1000, 1000), (500, 500)], [100, 100, 100], ["c1", "c1", "c1"], children=[10, 20, 30]
    )
    fac = facilities([("children_complex", 100, 0, np.nan), ("children_play", 1000, 900, np.nan)])
    problem = CoverageProblem.from_inputs(
        net, people, fac, standards, circles=["cd_child_5min_activity"]
    ).solve()
    result = problem.results_["cd_child_5min_activity"]
    assert list(result.parts[""]) == [True, True, False]
    assert list(result.weights) == [10, 20, 30]
    assert list(result.parts["children_complex"]) == [True, False, False]
    # the life-service circle (rule all) is complete nowhere: most required types are missing
    problem = CoverageProblem.from_inputs(
        net, people, fac, standards, circles=["cd_life_service_15min"]
    ).solve()
    assert not problem.results_["cd_life_service_15min"].parts[""].any()
    assert any("no facility of type" in w for w in problem.warnings_)


def test_the_threshold_is_inclusive_and_measured_on_the_network(standards: StandardSet) -> None:
    net = grid()
    # GB 50180's 5-minute circle: 300 m. A kindergarten at the corner; the origin 300 m away along
    # the streets (200 m east + 100 m north) is in, one 400 m away is out although 283 m straight
    people = origins([(200, 100), (200, 200)], [50, 70], ["c1", "c1"])
    fac = facilities([("kindergarten", 0, 0, np.nan)])
    problem = CoverageProblem.from_inputs(net, people, fac, standards, circles=["gb50180_5min"]).solve()
    cost = problem.cost(standards.circle("gb50180_5min"), "kindergarten")
    assert cost == pytest.approx([300.0, 400.0])
    assert list(problem.results_["gb50180_5min"].parts["kindergarten"]) == [True, False]


def test_shelter_space_counts_only_shelters_within_reach_and_their_capacity(standards: StandardSet) -> None:
    net = grid(side=41)  # 4 km square
    # 1,000 people next to a 1,000 m² shelter; the Chengdu circle asks 2 m² per person within 3 km,
    # so the shelter holds 500 of them. 800 people 4 km away reach nothing. A 100,000 m² shelter
    # 3.9 km from the first group is out of reach for them and has nobody within reach.
    people = origins([(0, 0), (4000, 4000)], [1000, 800], ["a", "b"])
    fac = facilities([("shelter", 0, 100, 1000.0), ("shelter", 3900, 0, 100_000.0)])
    problem = CoverageProblem.from_inputs(net, people, fac, standards, circles=["cd_shelter_area"]).solve()
    result = problem.results_["cd_shelter_area"]
    assert result.placed is not None
    assert result.area is not None
    assert result.placed == pytest.approx([500.0, 0.0])
    assert result.area == pytest.approx([1000.0, 0.0])  # its whole area, shared by those it takes in
    assert list(result.parts[""]) == [True, False]  # within reach of a shelter at all


def test_origins_off_the_network_are_reported_and_stay_in_the_denominator(standards: StandardSet) -> None:
    net = grid()
    people = origins([(0, 0), (5000, 5000)], [100, 40], ["c1", "c1"])
    fac = facilities([("kindergarten", 0, 0, np.nan)])
    problem = CoverageProblem.from_inputs(net, people, fac, standards, circles=["gb50180_5min"]).solve()
    assert list(problem.outside_["walk"]) == [1]
    assert any("1 origin(s) (40 residents)" in w and "o1" in w for w in problem.warnings_)
    result = problem.results_["gb50180_5min"]
    assert result.weights.sum() == 140
    assert list(result.parts["kindergarten"]) == [True, False]


def test_a_facility_type_without_facilities_covers_nobody_with_a_warning(standards: StandardSet) -> None:
    net = grid()
    people = origins([(0, 0)], [100], ["c1"])
    problem = CoverageProblem.from_inputs(
        net, people, facilities([("kindergarten", 0, 0, np.nan)]), standards, circles=["cd_fire_5min"]
    ).solve()
    assert not problem.results_["cd_fire_5min"].parts[""].any()
    assert any("no facility of type fire_station" in w for w in problem.warnings_)


def test_division_table_sums_into_every_ancestor() -> None:
    table = division_table(
        {"population": np.array([1.0, 2.0, 4.0]), "covered": np.array([1.0, 0.0, 4.0])},
        np.array(["c1", "c2", "c3"]),
        {"c1": ["city", "d1", "c1"], "c2": ["city", "d1", "c2"], "c3": ["city", "d2", "c3"]},
    )
    assert table.loc["city", "population"] == 7
    assert table.loc["d1", "covered"] == 1
    assert table.loc["d2", "population"] == 4
    assert table.loc["c2", "covered"] == 0


@st.composite
def reach_instances(draw: st.DrawFn) -> tuple[Catchments, np.ndarray, np.ndarray, int]:
    n_o, n_f = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    pairs = draw(
        st.sets(st.tuples(st.integers(0, n_o - 1), st.integers(0, n_f - 1)), min_size=1, max_size=n_o * n_f)
    )
    pairs = sorted(pairs, key=lambda p: (p[1], p[0]))
    reach = Catchments(
        np.array([f for _, f in pairs], dtype=np.int64),
        np.array([o for o, _ in pairs], dtype=np.int64),
        np.array(draw(st.lists(st.floats(0, 3000), min_size=len(pairs), max_size=len(pairs)))),
    )
    # population points often carry fractions of a person (grid cells, census splits)
    # (hundredths, so the reference max flow below can run on exact integers)
    demand = np.array(draw(st.lists(st.integers(0, 100_000), min_size=n_o, max_size=n_o))) / 100
    capacity = np.array(draw(st.lists(st.integers(0, 100_000), min_size=n_f, max_size=n_f))) / 100
    return reach, demand, capacity, n_f


@settings(max_examples=150, deadline=None)
@given(reach_instances())
def test_capacity_assignment_places_as_many_people_as_a_maximum_flow(instance) -> None:
    reach, demand, capacity, n_f = instance
    flow = assign_capacity(reach, demand, capacity, n_f)
    assert (flow >= 0).all()
    assert (np.bincount(reach.origin, weights=flow, minlength=len(demand)) <= demand + 1e-9).all()
    assert (np.bincount(reach.facility, weights=flow, minlength=n_f) <= capacity + 1e-9).all()
    graph = nx.DiGraph()
    for o, d in enumerate(demand):
        graph.add_edge("s", ("o", o), capacity=round(d * 100))
    for f, c in enumerate(capacity):
        graph.add_edge(("f", f), "t", capacity=round(c * 100))
    for o, f in zip(reach.origin, reach.facility, strict=True):
        graph.add_edge(("o", int(o)), ("f", int(f)), capacity=round(demand[o] * 100))
    assert flow.sum() == pytest.approx(nx.maximum_flow_value(graph, "s", "t") / 100, rel=1e-6, abs=1e-6)


def test_places_go_to_the_nearer_residents_whatever_the_row_order() -> None:
    # one shelter with room for 100; 100 residents 200 m away and 100 residents 2 km away
    for order in ([0, 1], [1, 0]):
        origin = np.array(order, dtype=np.int64)
        cost = np.array([200.0, 2000.0])[origin]
        reach = Catchments(np.zeros(2, dtype=np.int64), origin, cost)
        flow = assign_capacity(reach, np.array([100.0, 100.0]), np.array([100.0]), 1)
        placed = np.bincount(origin, weights=flow, minlength=2)
        assert placed == pytest.approx([100.0, 0.0])


@pytest.mark.filterwarnings(
    "ignore:Port 8787 is already in use:UserWarning"
)  # the dashboard port, when taken
def test_a_dask_cluster_gives_the_same_results_as_a_local_run(standards: StandardSet) -> None:
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(5)
    net = grid(side=21)
    people = origins(
        [tuple(p) for p in rng.uniform(0, 2000, (200, 2))],
        list(rng.integers(10, 500, 200).astype(float)),
        ["c1"] * 200,
        children=list(rng.integers(0, 50, 200).astype(float)),
    )
    kinds = ["kindergarten", "children_play", "children_complex", "fire_station", "shelter"]
    fac = facilities([(kinds[i % 5], *rng.uniform(0, 2000, 2), 5000.0) for i in range(25)])
    circles = ["gb50180_5min", "cd_child_5min_activity", "cd_fire_5min", "cd_shelter_area"]
    local = CoverageProblem.from_inputs(net, people, fac, standards, circles=circles).solve()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        remote = CoverageProblem.from_inputs(net, people, fac, standards, circles=circles).solve(
            client=client
        )
    assert local.nearest_.keys() == remote.nearest_.keys()
    for key, nearest in local.nearest_.items():
        np.testing.assert_array_equal(nearest.cost, remote.nearest_[key].cost)
        np.testing.assert_array_equal(nearest.facility, remote.nearest_[key].facility)
    for code in circles:
        for part, hit in local.results_[code].parts.items():
            np.testing.assert_array_equal(hit, remote.results_[code].parts[part])


def test_a_facility_types_own_share_is_taken_of_the_age_group_it_serves(standards: StandardSet) -> None:
    net = grid()
    people = origins([(0, 0), (1000, 1000)], [100, 300], ["c1", "c1"], children=[20, 60])
    people.population["60+"] = np.array([40.0, 10.0])
    fac = facilities([("kindergarten", 0, 0, np.nan), ("elderly_day_care", 1000, 1000, np.nan)])
    problem = CoverageProblem.from_inputs(net, people, fac, standards, circles=["gb50180_5min"]).solve()
    result = problem.results_["gb50180_5min"]
    assert list(result.part_weights[""]) == [100, 300]  # the whole circle: everyone
    assert list(result.part_weights["kindergarten"]) == [20, 60]  # children
    assert list(result.part_weights["elderly_day_care"]) == [40, 10]  # the elderly
    assert list(result.parts["elderly_day_care"]) == [False, True]
    # without the elderly's column the type falls back to the circle's group, and the run says so
    del people.population["60+"]
    problem = CoverageProblem.from_inputs(net, people, fac, standards, circles=["gb50180_5min"]).solve()
    assert list(problem.results_["gb50180_5min"].part_weights["elderly_day_care"]) == [100, 300]
    assert sum("no population of age group 60+" in w for w in problem.warnings_) == 1
