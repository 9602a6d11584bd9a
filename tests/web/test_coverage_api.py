"""GET /api/coverage/... (生活圈覆盖, 选址) over HTTP against the running app on the demo database."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest
import shapely

from tests.conftest import LiveServer

CHILD = "cd_child_5min_activity"  # two facility types, sited with p=20 children_complex in the demo
FIRE = "cd_fire_5min"  # one facility type, sited with p=10 fire_station
SHELTER = "cd_shelter_area"  # an area-per-resident circle


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def latest(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/api/coverage/runs/latest")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_runs_list_names_the_latest_run(client: httpx.Client, latest: dict[str, Any]) -> None:
    runs = client.get("/api/coverage/runs").json()
    assert runs[0]["id"] == latest["id"]
    assert runs[0]["simulated"] is True
    assert runs[0]["circles"] == len(latest["circles"]) == 12


def test_a_run_by_id_is_the_latest(client: httpx.Client, latest: dict[str, Any]) -> None:
    assert client.get(f"/api/coverage/runs/{latest['id']}").json() == latest
    assert latest["simulated"] is True
    assert {"network", "origins", "facilities"} <= set(latest["inputs"])
    assert all(len(latest["inputs"][k]["sha256"]) == 64 for k in ("network", "origins", "facilities"))
    # where the files lie on the server is not published
    assert all("path" not in latest["inputs"][k] for k in ("network", "origins", "facilities"))
    circles = {c["code"]: c for c in latest["circles"]}
    assert circles[CHILD]["facilities"] == ["children_complex", "children_play"]
    assert circles[SHELTER]["measure"] == "area_per_resident"
    assert {c["verified"] for c in latest["circles"]} <= {"checked", "secondary", "unverified"}


@pytest.mark.parametrize("level", ["city", "district", "street", "community"])
def test_divisions_at_each_level_have_shares_in_range(client: httpx.Client, level: str) -> None:
    rows = client.get(f"/api/coverage/runs/latest/circles/{CHILD}/divisions", params={"level": level}).json()
    assert rows, level
    assert {r["level"] for r in rows} == {level}
    for row in rows:
        assert 0 <= row["covered"] <= row["population"] + 1e-6
        assert row["share"] is None or 0 <= row["share"] <= 100
    if level == "city":
        assert len(rows) == 1


def test_district_populations_sum_to_the_city(client: httpx.Client, latest: dict[str, Any]) -> None:
    url = f"/api/coverage/runs/{latest['id']}/circles/{FIRE}/divisions"
    city = client.get(url, params={"level": "city"}).json()[0]
    districts = client.get(url, params={"level": "district"}).json()
    assert len(districts) == 20
    assert sum(d["population"] for d in districts) == pytest.approx(city["population"])
    assert sum(d["covered"] for d in districts) == pytest.approx(city["covered"])
    circle = next(c for c in latest["circles"] if c["code"] == FIRE)
    assert city["share"] == pytest.approx(circle["share"])


def test_every_level_without_a_filter(client: httpx.Client) -> None:
    rows = client.get(f"/api/coverage/runs/latest/circles/{FIRE}/divisions").json()
    assert {"city", "district", "street", "community"} == {r["level"] for r in rows}


def test_a_facility_type_is_kept_down_to_streets(client: httpx.Client) -> None:
    url = f"/api/coverage/runs/latest/circles/{CHILD}/divisions"
    assert client.get(url, params={"level": "street", "part": "children_play"}).json()
    assert client.get(url, params={"level": "community", "part": "children_play"}).json() == []


def test_area_circles_carry_area_per_resident(client: httpx.Client) -> None:
    rows = client.get(
        f"/api/coverage/runs/latest/circles/{SHELTER}/divisions", params={"level": "district"}
    ).json()
    assert all(r["area_per_resident"] is not None and r["area_per_resident"] >= 0 for r in rows)
    assert all(r["placed_share"] is None or 0 <= r["placed_share"] <= 100 for r in rows)


def test_map_columns_have_equal_lengths(client: httpx.Client) -> None:
    body = client.get(
        f"/api/coverage/runs/latest/circles/{CHILD}/map", params={"part": "children_complex"}
    ).json()
    assert body["simulated"] is True
    assert body["unit"] == "min"
    assert body["threshold"] == 5
    origins, facilities = body["origins"], body["facilities"]
    assert {len(v) for v in origins.values()} == {len(origins["lon"])}
    assert len(origins["lon"]) > 1000
    assert {len(v) for v in facilities.values()} == {len(facilities["lon"])}
    assert set(facilities["type"]) == {"children_complex"}
    beyond = sum(
        p
        for c, p in zip(origins["cost"], origins["population"], strict=True)
        if c is None or c > body["threshold"]
    )
    assert body["uncovered_population"] == pytest.approx(beyond, rel=1e-3)


def test_the_whole_circle_map_shows_every_type(client: httpx.Client) -> None:
    body = client.get(f"/api/coverage/runs/latest/circles/{CHILD}/map").json()
    assert body["part"] == ""
    assert set(body["facilities"]["type"]) == {"children_complex", "children_play"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/coverage/runs/999999",
        "/api/coverage/runs/999999/circles/cd_fire_5min/divisions",
        "/api/coverage/runs/latest/circles/no_such_circle/divisions",
        "/api/coverage/runs/latest/circles/no_such_circle/map",
        "/api/coverage/runs/latest/circles/cd_fire_5min/map?part=kindergarten",
        "/api/coverage/runs/latest/circles/cd_fire_5min/divisions?part=kindergarten",
        "/api/coverage/siting/999999",
        "/api/coverage/siting/999999/map",
    ],
)
def test_unknown_runs_circles_and_parts_are_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "NotFoundError"


@pytest.mark.parametrize(
    "path",
    [
        "/api/coverage/runs/latest/circles/cd_fire_5min/divisions?level=province",
        "/api/coverage/runs/last",
        "/api/coverage/runs/0",
        "/api/coverage/runs/99999999999999999999/circles/cd_fire_5min/map",
        "/api/coverage/siting/0",
        "/api/coverage/siting/latest",
    ],
)
def test_bad_levels_and_ids_are_422(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "ValidationError"


def test_siting_runs_list_and_one(client: httpx.Client, latest: dict[str, Any]) -> None:
    sitings = client.get("/api/coverage/siting").json()
    assert {(s["circle"], s["facility_type"], s["p"]) for s in sitings} == {
        (CHILD, "children_complex", 20),
        (FIRE, "fire_station", 10),
    }
    child = next(s for s in sitings if s["circle"] == CHILD)
    one = client.get(f"/api/coverage/siting/{child['id']}").json()
    assert one == child
    assert one["simulated"] is True
    assert one["coverage_run"] == latest["id"]
    assert [s["order"] for s in one["sites"]] == list(range(1, 21))
    assert one["share_before"] <= one["share_after"] <= 100
    assert one["sites"][-1]["cumulative_share"] == pytest.approx(one["share_after"])
    shares = [s["cumulative_share"] for s in one["sites"]]
    assert shares == sorted(shares)


def test_siting_map_is_the_circle_map_for_its_type(client: httpx.Client) -> None:
    sitings = {s["circle"]: s for s in client.get("/api/coverage/siting").json()}
    child = client.get(f"/api/coverage/siting/{sitings[CHILD]['id']}/map").json()
    assert child["part"] == "children_complex"
    assert set(child["facilities"]["type"]) == {"children_complex"}
    fire = client.get(f"/api/coverage/siting/{sitings[FIRE]['id']}/map").json()
    assert fire["part"] == ""  # a one-type circle keeps the whole circle only
    assert set(fire["facilities"]["type"]) == {"fire_station"}


def test_coverage_routes_are_in_the_openapi_schema(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/coverage/runs",
        "/api/coverage/runs/{run}",
        "/api/coverage/runs/{run}/circles/{code}/divisions",
        "/api/coverage/runs/{run}/circles/{code}/map",
        "/api/coverage/runs/{run}/circles/{code}/facilities/{facility_id}/isochrones",
        "/api/coverage/siting",
        "/api/coverage/siting/{siting_id}",
        "/api/coverage/siting/{siting_id}/map",
    } <= set(paths)
    assert "生活圈" in paths["/api/coverage/runs/{run}"]["get"]["summary"]


CHENGDU_LON = (102.9, 105.0)  # the city's bounding box, with a margin
CHENGDU_LAT = (30.0, 31.5)


def isochrones_url(circle: str, facility_id: str) -> str:
    return f"/api/coverage/runs/latest/circles/{circle}/facilities/{facility_id}/isochrones"


@pytest.mark.parametrize("steps", [3, 1])
def test_a_facility_s_isochrones_are_nested_polygons_in_chengdu(client: httpx.Client, steps: int) -> None:
    facilities = client.get(f"/api/coverage/runs/latest/circles/{FIRE}/map").json()["facilities"]
    assert {len(v) for v in facilities.values()} == {len(facilities["id"])}
    facility_id, name = facilities["id"][0], facilities["name"][0]
    response = client.get(isochrones_url(FIRE, facility_id), params={"steps": steps})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["simulated"] is True
    features = body["features"]
    assert len(features) == steps
    limits = [f["properties"]["limit"] for f in features]
    assert limits == sorted(limits)
    assert limits[-1] == pytest.approx(5)  # the circle's threshold, in minutes
    for feature in features:
        props = feature["properties"]
        assert props["unit"] == "min"
        assert (props["facility_id"], props["facility_name"]) == (facility_id, name)
        assert props["facility_type"] == "fire_station"
        assert props["circle"] == FIRE
        assert props["simulated"] is True
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
    assert shapes[-1].area > 0  # a fire engine reaches some streets within five minutes
    for smaller, larger in pairwise(shapes):
        assert larger.area >= smaller.area
        assert larger.buffer(1e-6).covers(smaller)
    lon, lat = shapely.get_coordinates(shapes[-1]).T
    assert CHENGDU_LON[0] < lon.min() <= lon.max() < CHENGDU_LON[1]
    assert CHENGDU_LAT[0] < lat.min() <= lat.max() < CHENGDU_LAT[1]
    assert all(len(str(v).split(".")[-1]) <= 6 for v in [*lon, *lat])  # rounded to 6 decimals
    # the facility lies within (or right by) its largest band
    i = facilities["id"].index(facility_id)
    assert shapes[-1].distance(shapely.Point(facilities["lon"][i], facilities["lat"][i])) < 0.01


def test_isochrones_of_unknown_facilities_are_404(client: httpx.Client) -> None:
    response = client.get(isochrones_url(FIRE, "no_such_facility"))
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "NotFoundError"
    assert "no_such_facility" in response.json()["error"]["message"]
    assert client.get(isochrones_url("no_such_circle", "no_such_facility")).status_code == 404


def test_isochrones_of_a_facility_of_another_type_are_refused(client: httpx.Client) -> None:
    child = client.get(f"/api/coverage/runs/latest/circles/{CHILD}/map").json()["facilities"]
    response = client.get(isochrones_url(FIRE, child["id"][0]))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "InvalidValueError"
    assert "fire_station" in response.json()["error"]["message"]


@pytest.mark.parametrize("steps", ["0", "7", "x"])
def test_isochrone_steps_out_of_range_are_422(client: httpx.Client, steps: str) -> None:
    facilities = client.get(f"/api/coverage/runs/latest/circles/{FIRE}/map").json()["facilities"]
    response = client.get(isochrones_url(FIRE, facilities["id"][0]), params={"steps": steps})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "ValidationError"
