"""The simulated life-circle demo: reproducible, exact population totals, inside Chengdu, labelled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import shape

from planwatch.coverage.network import ROAD_CLASSES, Network
from planwatch.datasets import chengdu_path
from planwatch.datasets.coverage_demo import (
    CANDIDATE_MIX,
    FACILITY_TYPES,
    CoverageDemo,
    CoverageDemoError,
    build_coverage_demo,
    round_by_group,
    write_coverage_demo,
)

TYPES = [
    "kindergarten",
    "nursery",
    "primary_school",
    "junior_middle_school",
    "health_station",
    "health_center",
    "elderly_day_care",
    "nursing_home",
    "community_service_station",
    "community_service_center",
    "culture_station",
    "culture_center",
    "sports_small",
    "sports_medium",
    "sports_large",
    "outdoor_fitness",
    "market",
    "community_canteen",
    "public_toilet",
    "waste_station",
    "children_complex",
    "children_play",
    "community_park",
    "country_park",
    "fire_station",
    "shelter",
    "bus_stop",
]
CENTRAL = ("510104", "510105", "510106", "510107", "510108")


@pytest.fixture(scope="module")
def demo() -> CoverageDemo:
    return build_coverage_demo(seed=14, scale=0.1)


@pytest.fixture(scope="module")
def divisions() -> pd.DataFrame:
    return pd.read_csv(chengdu_path("divisions.csv"), dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    frame = pd.read_csv(chengdu_path("population.csv"), dtype={"division_code": str})
    return frame[frame["year"] == 2020]


@pytest.fixture(scope="module")
def chengdu() -> shapely.Geometry:
    features = json.loads(chengdu_path("districts.geojson").read_text(encoding="utf-8"))["features"]
    union = shapely.union_all([shapely.make_valid(shape(f["geometry"])) for f in features])
    shapely.prepare(union)
    return union


def test_same_seed_same_demo_other_seed_other_demo(demo: CoverageDemo) -> None:
    again = build_coverage_demo(seed=14, scale=0.1)
    pd.testing.assert_frame_equal(demo.origins, again.origins)
    pd.testing.assert_frame_equal(demo.facilities, again.facilities)
    pd.testing.assert_frame_equal(demo.candidates, again.candidates)
    for name in ("x", "y", "edge_u", "edge_v", "length", "road_class", "oneway"):
        assert np.array_equal(getattr(demo.network, name), getattr(again.network, name))
    other = build_coverage_demo(seed=15, scale=0.1)
    assert not demo.origins[["lon", "lat"]].equals(other.origins[["lon", "lat"]])


def test_street_totals_are_exactly_the_2020_street_totals(
    demo: CoverageDemo, divisions: pd.DataFrame, population: pd.DataFrame
) -> None:
    streets = divisions.loc[divisions["level"] == "street", "code"]
    expected = population[(population["age_band"] == "total") & population["division_code"].isin(streets)]
    got = demo.origins.groupby(demo.origins["division_code"].str[:9])["population"].sum()
    assert got.to_dict() == dict(zip(expected["division_code"], expected["population"], strict=True))
    city = population.loc[(population["division_code"] == "510100") & (population["age_band"] == "total")]
    assert demo.origins["population"].sum() == int(city["population"].iloc[0])


def test_district_age_bands_are_exactly_the_2020_bands(demo: CoverageDemo, population: pd.DataFrame) -> None:
    columns = {"0-14": "age_0_14", "15-59": "age_15_59", "60+": "age_60_plus", "65+": "age_65_plus"}
    got = demo.origins.groupby(demo.origins["division_code"].str[:6])[list(columns.values())].sum()
    bands = population[population["division_code"].str.len() == 6].pivot_table(
        index="division_code", columns="age_band", values="population"
    )
    bands = bands.drop(index="510100")
    for band, column in columns.items():
        assert got[column].to_dict() == bands[band].astype(int).to_dict(), band


def test_every_point_has_consistent_bands(demo: CoverageDemo) -> None:
    o = demo.origins
    assert (o["population"] >= 1).all()
    assert (o["age_0_14"] + o["age_15_59"] + o["age_60_plus"] == o["population"]).all()
    assert (o[["age_0_14", "age_15_59", "age_60_plus", "age_65_plus"]] >= 0).all().all()
    assert (o["age_65_plus"] <= o["age_60_plus"]).all()


def test_age_structure_varies_by_place(demo: CoverageDemo) -> None:
    o = demo.origins
    village = o["division_code"].str[9] == "2"
    share = o.groupby(village)[["age_60_plus", "population"]].sum()
    assert share.loc[True, "age_60_plus"] / share.loc[True, "population"] > (
        share.loc[False, "age_60_plus"] / share.loc[False, "population"]
    )


def test_origins_are_community_points_and_every_community_has_some(
    demo: CoverageDemo, divisions: pd.DataFrame
) -> None:
    communities = set(divisions.loc[divisions["level"] == "community", "code"])
    assert set(demo.origins["division_code"]) == communities
    assert demo.origins["id"].is_unique


def test_every_facility_type_is_there_with_its_capacity(demo: CoverageDemo) -> None:
    f = demo.facilities
    assert set(FACILITY_TYPES) == set(TYPES)
    assert set(f["type"]) == set(TYPES)
    assert f["id"].is_unique
    assert f["name"].str.endswith("（模拟）").all()
    shelters = f.loc[f["type"] == "shelter", "capacity"]
    assert shelters.between(5000, 200000).all()
    for kind in ("kindergarten", "nursing_home", "shelter"):
        assert f.loc[f["type"] == kind, "capacity"].notna().all(), kind
    assert f.loc[f["type"] == "bus_stop", "capacity"].isna().all()
    assert 100 <= (f["type"] == "fire_station").sum() <= 600
    assert 100 <= (f["type"] == "shelter").sum() <= 800


def test_facilities_have_gaps_the_core_is_well_served(demo: CoverageDemo) -> None:
    f, o = demo.facilities, demo.origins
    per_10k = (
        f[f["type"] == "kindergarten"].groupby(f["division_code"].str[:6]).size()
        / o.groupby(o["division_code"].str[:6])["population"].sum()
        * 1e4
    ).fillna(0)
    core = per_10k[per_10k.index.isin(CENTRAL)]
    assert core.min() > per_10k.min() * 1.5  # some districts lag far behind the core
    stations = f.loc[f["type"] == "community_service_station", "division_code"]
    assert 0.5 < stations.nunique() / o["division_code"].nunique() < 0.98  # most, not all


def test_everything_lies_inside_chengdu(demo: CoverageDemo, chengdu: shapely.Geometry) -> None:
    for frame in (demo.origins, demo.facilities, demo.candidates):
        assert shapely.contains_xy(chengdu, frame["lon"], frame["lat"]).all()
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(demo.network.crs, "EPSG:4326", always_xy=True).transform(
        demo.network.x, demo.network.y
    )
    assert shapely.contains_xy(chengdu, lon, lat).mean() > 0.9999


def test_points_are_near_the_network(demo: CoverageDemo) -> None:
    from pyproj import Transformer
    from scipy.spatial import cKDTree

    x, y = Transformer.from_crs("EPSG:4326", demo.network.crs, always_xy=True).transform(
        demo.origins["lon"], demo.origins["lat"]
    )
    gap = cKDTree(np.column_stack([demo.network.x, demo.network.y])).query(np.column_stack([x, y]))[0]
    assert np.quantile(gap, 0.99) < 100


def test_network_is_simulated_and_one_piece(demo: CoverageDemo) -> None:
    net = demo.network
    assert net.simulated
    assert net.name == "chengdu-demo"
    assert "模拟" in net.source
    assert net.crs == "EPSG:32648"
    assert net.components("walk").largest_share >= 0.95
    assert net.components("drive").largest_share >= 0.95
    classes = {ROAD_CLASSES[c] for c in np.unique(net.road_class)}
    assert {"trunk", "primary", "secondary", "tertiary", "residential", "footway"} <= classes
    assert net.oneway.any()
    assert (net.length > 0).all()


def test_candidates_are_network_nodes(demo: CoverageDemo, divisions: pd.DataFrame) -> None:
    c = demo.candidates
    assert set(c["type"]) == set(CANDIDATE_MIX)
    assert c["id"].is_unique
    assert c["division_code"].isin(divisions.loc[divisions["level"] == "community", "code"]).all()
    assert len(c) == sum(CANDIDATE_MIX.values())


def test_written_files_have_the_exact_headers(demo: CoverageDemo, tmp_path: Path) -> None:
    paths = write_coverage_demo(demo, tmp_path / "demo")
    assert [p.name for p in paths] == [
        "network.npz",
        "origins.csv",
        "facilities.csv",
        "candidates.csv",
        "SIMULATED.md",
    ]
    heads = {p.name: p.read_text(encoding="utf-8").splitlines()[0] for p in paths[1:4]}
    assert (
        heads["origins.csv"]
        == "id,lon,lat,division_code,population,age_0_14,age_15_59,age_60_plus,age_65_plus,simulated"
    )
    assert heads["facilities.csv"] == "id,type,name,lon,lat,capacity,division_code,simulated"
    assert heads["candidates.csv"] == "id,type,lon,lat,division_code,simulated"
    note = paths[4].read_text(encoding="utf-8")
    assert "模拟数据" in note
    assert "SIMULATED" in note
    loaded = Network.load(paths[0])
    assert loaded.simulated
    assert loaded.node_count == demo.network.node_count
    back = pd.read_csv(paths[1], dtype={"division_code": str})
    assert back["population"].sum() == demo.origins["population"].sum()
    facilities = pd.read_csv(paths[2], dtype={"division_code": str})
    assert facilities.loc[facilities["type"] == "bus_stop", "capacity"].isna().all()


def test_summary_counts(demo: CoverageDemo) -> None:
    summary = demo.summary()
    assert summary["simulated"] is True
    assert summary["population"] == 20937757
    assert summary["origins"] == len(demo.origins)
    by_type = summary["facilities_by_type"]
    assert isinstance(by_type, dict)
    assert sum(by_type.values()) == len(demo.facilities)


def test_full_scale_sizes_and_speed() -> None:
    started = time.perf_counter()
    demo = build_coverage_demo()
    seconds = time.perf_counter() - started
    assert 150_000 <= demo.network.node_count <= 300_000
    assert 40_000 <= len(demo.origins) <= 80_000
    assert demo.network.components("walk").largest_share >= 0.95
    assert seconds < 15


def test_a_scale_out_of_range_is_refused() -> None:
    with pytest.raises(CoverageDemoError, match="scale"):
        build_coverage_demo(scale=0)


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0.01, 100)), min_size=1, max_size=40))
def test_grouped_rounding_keeps_every_group_total(items: list[tuple[int, float]]) -> None:
    group = np.array([g for g, _ in items])
    weights = np.array([w for _, w in items])
    totals = np.array([int(weights[group == g].sum() * 3) for g in range(4)])
    share = weights / np.bincount(group, weights, minlength=4)[group]
    rounded = round_by_group(totals[group] * share, group, totals)
    assert np.array_equal(np.bincount(group, rounded, minlength=4).astype(int), totals)
    assert (np.abs(rounded - totals[group] * share) < 1 + 1e-9).all()
