"""The JSON API over HTTP against the running app (uvicorn on a local port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from planwatch.models.enums import Role
from tests.conftest import (
    LiveServer,
    build_demo_database,
    database_url,
    make_user,
    run_live_server,
    settings_for,
)


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield http


def test_targets_list(client: httpx.Client) -> None:
    response = client.get("/api/targets")
    assert response.status_code == 200
    targets = response.json()
    assert len(targets) >= 35
    first = targets[0]
    assert first["source_sentence"]
    assert first["evaluation"]["year"] == 2025
    assert any(t["incomplete"] for t in targets)
    assert any(t["evaluation"] and t["evaluation"]["simulated"] for t in targets)


def test_targets_for_a_year(client: httpx.Client) -> None:
    targets = client.get("/api/targets", params={"year": 2023}).json()
    assert {t["evaluation"]["year"] for t in targets} == {2023}


def test_one_target(client: httpx.Client) -> None:
    some = client.get("/api/targets").json()[0]
    response = client.get(f"/api/targets/{some['id']}", params={"year": 2022})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == some["code"]
    assert body["evaluation"]["year"] == 2022


def test_unknown_target_is_404_with_a_message(client: httpx.Client) -> None:
    response = client.get("/api/targets/999999")
    assert response.status_code == 404
    assert "no target with id 999999" in response.json()["error"]["message"]


def test_unknown_year_is_404_with_a_message(client: httpx.Client) -> None:
    response = client.get("/api/evaluation", params={"year": 2040})
    assert response.status_code == 404
    assert "choose a year from 2020 to 2025" in response.json()["error"]["message"]


def test_non_numeric_year_is_422(client: httpx.Client) -> None:
    assert client.get("/api/evaluation", params={"year": "next"}).status_code == 422


def test_evaluation_counts_add_up(client: httpx.Client) -> None:
    body = client.get("/api/evaluation", params={"year": 2023}).json()
    assert body["simulated"] is True
    assert sum(body["counts"].values()) == len(body["targets"])
    assert {"achieved", "lagging"} & set(body["counts"])


def test_divisions(client: httpx.Client) -> None:
    districts = client.get("/api/divisions", params={"level": "district"}).json()
    assert len(districts) == 20
    assert "新津区" in {d["name_zh"] for d in districts}
    assert all(d["has_boundary"] for d in districts)
    streets = client.get("/api/divisions", params={"level": "street", "limit": 5000}).json()
    assert len(streets) == 261
    jinjiang = client.get("/api/divisions", params={"parent": "510104"}).json()
    assert jinjiang
    assert {d["parent_code"] for d in jinjiang} == {"510104"}


def test_one_division_and_unknown_division(client: httpx.Client) -> None:
    assert client.get("/api/divisions/510100").json()["level"] == "city"
    response = client.get("/api/divisions/000000")
    assert response.status_code == 404
    assert "no division with code '000000'" in response.json()["error"]["message"]


def test_openapi_and_offline_docs(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/targets" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/api/evaluation" in docs.text
    assert "cdn" not in docs.text.lower()
    assert "https://" not in docs.text


def test_plotly_is_served_locally(client: httpx.Client) -> None:
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert len(response.content) > 1_000_000


def test_patch_needs_a_signed_in_planner(client: httpx.Client) -> None:
    response = client.patch("/api/targets/1", json={"value": 1})
    assert response.status_code == 403
    assert "sign in first" in response.json()["error"]["message"]


@pytest.fixture(scope="module")
def writable(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    url = database_url(backend, tmp_path_factory, "writable")
    build_demo_database(url)
    yield from ((server, url) for server in run_live_server(settings_for(url)))


def sign_in(http: httpx.Client, username: str, password: str) -> str:
    """Sign in through the API; return the session's CSRF token."""
    response = http.post("/api/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_planner_fills_in_a_target_over_the_api(writable: tuple[LiveServer, str]) -> None:
    server, url = writable
    password = make_user(url, "planner_api", [Role.planner], capture=["510100"])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        csrf = sign_in(http, "planner_api", password)
        targets = http.get("/api/targets").json()
        lost = next(t for t in targets if t["incomplete"] and t["kind"] == "level")
        path = f"/api/targets/{lost['id']}"
        assert http.patch(path, json={"value": 90}).status_code == 403  # no CSRF token
        unknown = http.patch(path, json={"value": 90, "incomplete": False}, headers={"X-CSRF-Token": csrf})
        assert unknown.status_code == 422
        ok = http.patch(path, json={"value": 90, "note": "纲要表"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200, ok.text
        assert ok.json()["value"] == 90
        assert ok.json()["incomplete"] is False
        assert http.get(path).json()["value"] == 90


def test_district_reporter_cannot_edit_a_city_target(writable: tuple[LiveServer, str]) -> None:
    server, url = writable
    password = make_user(url, "jinjiang_api", [Role.planner], capture=["510104"])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        csrf = sign_in(http, "jinjiang_api", password)
        target = http.get("/api/targets").json()[0]
        response = http.patch(
            f"/api/targets/{target['id']}", json={"value": 2}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 404  # out of scope looks like missing
        assert response.json()["error"]["type"] == "NotFoundError"


def test_docs_page_lists_patch(client: httpx.Client, tmp_path: Path) -> None:
    assert "PATCH" in client.get("/docs").text


def test_every_ui_string_has_both_languages() -> None:
    from planwatch.web.i18n import MESSAGES

    assert all(set(entry) == {"zh", "en"} and all(entry.values()) for entry in MESSAGES.values())


def test_english_pages_use_english_vocabulary(client: httpx.Client) -> None:
    page = client.get("/", params={"lang": "en", "year": 2023}).text
    assert "at least" in page
    assert "per unit coverage" in page
    assert "不低于" not in page
    chinese = client.get("/", params={"lang": "zh", "year": 2023}).text
    assert "不低于" in chinese
    assert "单元覆盖" in chinese


def test_invalid_query_uses_the_error_format(client: httpx.Client) -> None:
    response = client.get("/api/evaluation", params={"year": "next"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "ValidationError"
    assert "year" in error["message"]


def test_unknown_api_path_is_json_404(client: httpx.Client) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no page at /api/nothing-here"


def test_unknown_page_is_an_html_404(client: httpx.Client) -> None:
    response = client.get("/targets/abc")
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "no page at /no/such/page" in missing.text


def test_target_by_district_with_map(client: httpx.Client) -> None:
    targets = client.get("/api/targets").json()
    ratio = next(t for t in targets if t["indicator"]["aggregation"] == "ratio" and t["evaluation"]["series"])
    body = client.get(f"/api/targets/{ratio['id']}/divisions", params={"year": 2023}).json()
    assert body["level"] == "district"
    assert len(body["units"]) == 20
    assert body["map"] is not None
    assert set(body["map"]["paths"]) == {u["code"] for u in body["units"]}
    assert all(u["simulated"] for u in body["units"] if u["value"] is not None)


def test_target_by_district_unknown_target_and_year(client: httpx.Client) -> None:
    assert client.get("/api/targets/999999/divisions").status_code == 404
    some = client.get("/api/targets").json()[0]
    response = client.get(f"/api/targets/{some['id']}/divisions", params={"year": 2019})
    assert response.status_code == 404
    assert "choose a year from 2020 to 2025" in response.json()["error"]["message"]


def test_anonymous_write_is_403_even_with_a_bad_body(client: httpx.Client) -> None:
    assert client.patch("/api/targets/1", json={"nonsense": True}).status_code == 403


def test_breakdown_of_a_district_coverage_target_shows_counts(client: httpx.Client) -> None:
    targets = client.get("/api/targets").json()
    per_district = next(
        t for t in targets if t["kind"] == "per_unit_coverage" and t["per_unit_level"] == "district"
    )
    body = client.get(f"/api/targets/{per_district['id']}/divisions").json()
    assert body["level"] == "district"
    assert "%" not in body["measure_en"] or "share" not in body["measure_en"]
    per_street = next(
        t for t in targets if t["kind"] == "per_unit_coverage" and t["per_unit_level"] == "street"
    )
    shares = client.get(f"/api/targets/{per_street['id']}/divisions").json()
    assert shares["measure_en"] == "share of units meeting it (%)"


def test_evaluation_counts_list_every_status(client: httpx.Client) -> None:
    counts = client.get("/api/evaluation", params={"year": 2025}).json()["counts"]
    assert set(counts) == {
        "achieved",
        "ahead",
        "on_track",
        "lagging",
        "seriously_lagging",
        "missed",
        "not_evaluable",
    }
