"""The evaluation-round and assessment API over real HTTP: planners publish and assess, everyone
reads rounds of published plans, the public sees no account names, bad requests are refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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

QUALITATIVE = "CD14-T27"
LEVEL = "CD14-T05"


@dataclass
class Site:
    server: LiveServer
    passwords: dict[str, str]
    targets: dict[str, int]


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = database_url(backend, tmp_path_factory, "evaluation_api")
    build_demo_database(url)
    passwords = {
        "planner_e": make_user(url, "planner_e", [Role.planner], capture=["510100"]),
        "jinjiang_planner_e": make_user(url, "jinjiang_planner_e", [Role.planner], capture=["510104"]),
        "reporter_e": make_user(url, "reporter_e", [Role.district_reporter], capture=["510104"]),
        "reviewer_e": make_user(url, "reviewer_e", [Role.reviewer], view=["510100"]),
    }
    for server in run_live_server(settings_for(url)):
        listed = httpx.get(server.url + "/api/targets", timeout=60).json()
        yield Site(server, passwords, {t["code"]: t["id"] for t in listed})


@contextmanager
def client(site: Site, username: str | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.server.url, timeout=120) as http:
        if username is not None:
            response = http.post(
                "/api/session", json={"username": username, "password": site.passwords[username]}
            )
            assert response.status_code == 200, response.text
            http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield http


def test_only_planners_of_the_plan_scope_publish(site: Site) -> None:
    body = {"kind": "annual", "year": 2021}
    with client(site) as anonymous:
        assert anonymous.post("/api/evaluation-rounds", json=body).status_code == 403
    for name in ("reporter_e", "reviewer_e"):
        with client(site, name) as http:
            refused = http.post("/api/evaluation-rounds", json=body)
            assert refused.status_code == 403, name
            assert "evaluation.publish" in refused.json()["error"]["message"]
    with client(site, "jinjiang_planner_e") as http:
        assert http.post("/api/evaluation-rounds", json=body).status_code == 404  # the city is not theirs
    with client(site) as anonymous:
        assert all(r["year"] != 2021 for r in anonymous.get("/api/evaluation-rounds").json())


def test_publish_read_supersede_and_compare(site: Site) -> None:
    with client(site, "planner_e") as http:
        created = http.post("/api/evaluation-rounds", json={"kind": "midterm", "note": "中期评估初稿"})
        assert created.status_code == 201, created.text
        midterm = created.json()
        assert (midterm["kind"], midterm["kind_zh"], midterm["year"]) == ("midterm", "中期评估", 2023)
        assert midterm["published_by"] == "planner_e"
        assert midterm["simulated"] is True
        again = http.post("/api/evaluation-rounds", json={"kind": "midterm", "year": 2023})
        assert again.status_code == 409
        assert "supersede" in again.json()["error"]["message"]
        corrected = http.post("/api/evaluation-rounds", json={"kind": "midterm", "supersede": True})
        assert corrected.status_code == 201, corrected.text
        assert (corrected.json()["revision"], corrected.json()["supersedes"]) == (2, midterm["id"])
        final = http.post("/api/evaluation-rounds", json={"kind": "final"}).json()

    with client(site) as anonymous:
        listed = anonymous.get("/api/evaluation-rounds", params={"plan": "CD-14FYP"}).json()
        assert {midterm["id"], corrected.json()["id"], final["id"]} <= {r["id"] for r in listed}
        first = next(r for r in listed if r["id"] == midterm["id"])
        assert first["superseded_by"] == corrected.json()["id"]
        assert first["published_by"] is None  # account names are not for the public
        shown = anonymous.get(f"/api/evaluation-rounds/{midterm['id']}").json()
        assert shown["targets"] == midterm["targets"]
        target = next(t for t in shown["targets"] if t["code"] == LEVEL)
        assert target["evaluation"]["status"] == target["status"]
        assert target["data"]["values"]
        diff = anonymous.get(f"/api/evaluation-rounds/{midterm['id']}/diff/{final['id']}").json()
        assert diff["changed"]
        assert diff["status_changes"] >= 1
        assert anonymous.get("/api/evaluation-rounds/999999").status_code == 404
        assert anonymous.get(f"/api/evaluation-rounds/{midterm['id']}/diff/999999").status_code == 404
    with client(site, "reviewer_e") as reviewer:
        assert reviewer.get(f"/api/evaluation-rounds/{midterm['id']}").json()["published_by"] == "planner_e"


def test_publish_requests_are_checked(site: Site) -> None:
    with client(site, "planner_e") as http:
        for body in (
            {},
            {"kind": "quarterly"},
            {"kind": "annual", "published_by": "someone"},
            {"kind": "annual", "year": 3000},
            {"kind": "annual", "year": "二〇二三"},
        ):
            refused = http.post("/api/evaluation-rounds", json=body)
            assert refused.status_code == 422, body
            assert refused.json()["error"]["type"] == "ValidationError"
        outside = http.post("/api/evaluation-rounds", json={"kind": "annual", "year": 2020})
        assert outside.status_code == 422
        assert "choose a year from 2021 to 2025" in outside.json()["error"]["message"]
        wrong_final = http.post("/api/evaluation-rounds", json={"kind": "final", "year": 2024})
        assert wrong_final.status_code == 422


def test_assessments_over_http(site: Site) -> None:
    qualitative, level = site.targets[QUALITATIVE], site.targets[LEVEL]
    body = {"year": 2023, "status": "on_track", "evidence": "2023年工作总结", "assessor": "市发改委规划处"}
    with client(site) as anonymous:
        assert anonymous.post(f"/api/targets/{qualitative}/assessments", json=body).status_code == 403
    with client(site, "reporter_e") as http:
        assert http.post(f"/api/targets/{qualitative}/assessments", json=body).status_code == 403
    with client(site, "planner_e") as http:
        created = http.post(f"/api/targets/{qualitative}/assessments", json=body)
        assert created.status_code == 201, created.text
        assert (created.json()["target"], created.json()["channel"]) == (QUALITATIVE, "api")
        later = http.post(
            f"/api/targets/{qualitative}/assessments",
            json={**body, "status": "ahead", "assessed_on": "2024-02-01"},
        )
        assert later.status_code == 201
        refused = http.post(f"/api/targets/{level}/assessments", json=body)
        assert refused.status_code == 422
        assert "only qualitative targets" in refused.json()["error"]["message"]
        for bad in (
            {**body, "evidence": ""},
            {**body, "recorded_by": "x"},
            {**body, "status": "not_evaluable"},
        ):
            assert http.post(f"/api/targets/{qualitative}/assessments", json=bad).status_code == 422, bad
    with client(site) as anonymous:
        history = anonymous.get(f"/api/targets/{qualitative}/assessments").json()
        assert [a["status"] for a in history[:2]] == ["ahead", "on_track"]
        assert history[0]["recorded_by"] is None
        assert history[0]["assessed_on"] == "2024-02-01"
        assert anonymous.get("/api/targets/999999/assessments").status_code == 404
