"""Every route, called as every kind of caller [ACC-1, ACC-3, ACC-4], and canary secrets [LOG-4, PII-1].

Routes are enumerated from the app, and a route's permission is read from its ``requires(...)``
dependency, so a new route is swept without anyone editing this file; a new route with neither a
declared operation nor a place in PUBLIC/SIGNED_IN fails here until someone decides what it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from planwatch.accounts.policy import POLICY, Operation
from planwatch.db import make_engine, session_factory
from planwatch.models import Target, User
from planwatch.models.enums import Role
from planwatch.web.app import create_app
from tests.conftest import (
    LiveServer,
    build_demo_database,
    database_url,
    make_user,
    run_live_server,
    settings_for,
)

PUBLIC = {
    ("GET", "/"),
    ("GET", "/targets/{target_id}"),
    ("GET", "/docs"),
    ("GET", "/static/vendor/plotly.min.js"),
    ("GET", "/lang/{code}"),
    ("GET", "/api/targets"),
    ("GET", "/api/targets/{target_id}"),
    ("GET", "/api/targets/{target_id}/divisions"),
    ("GET", "/api/divisions"),
    ("GET", "/api/divisions/{code}"),
    ("GET", "/api/evaluation"),
    ("GET", "/api/evaluation-rounds"),
    ("GET", "/api/warnings"),
    ("GET", "/warnings"),
    ("GET", "/api/evaluation-rounds/{round_id}"),
    ("GET", "/api/evaluation-rounds/{round_id}/diff/{other_id}"),
    ("GET", "/api/targets/{target_id}/assessments"),
    ("GET", "/rounds"),
    ("GET", "/rounds/diff"),
    ("GET", "/rounds/{round_id}"),
    ("GET", "/api/coverage/runs"),
    ("GET", "/api/coverage/runs/{run}"),
    ("GET", "/api/coverage/runs/{run}/circles/{code}/divisions"),
    ("GET", "/api/coverage/runs/{run}/circles/{code}/map"),
    ("GET", "/api/coverage/runs/{run}/circles/{code}/facilities/{facility_id}/isochrones"),
    ("GET", "/api/coverage/siting"),
    ("GET", "/api/coverage/siting/{siting_id}"),
    ("GET", "/api/coverage/siting/{siting_id}/map"),
    ("GET", "/coverage"),
    ("GET", "/coverage/circles/{code}"),
    ("GET", "/coverage/siting"),
    ("GET", "/coverage/siting/{siting_id}"),
    ("GET", "/api/session"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/session"),
    # citizens' requests (市民诉求): filing one, following it (public steps only), the types
    ("GET", "/requests/new"),
    ("POST", "/requests/new"),
    ("GET", "/requests/{request_id}"),
    ("GET", "/api/requests/types"),
    ("GET", "/api/requests/{request_id}"),
    ("GET", "/api/requests/metrics"),
    ("GET", "/api/requests/hotspots"),
    ("GET", "/requests/metrics"),
    # demand surveys (需求调查) and supply–demand matching (供需对接)
    ("GET", "/api/surveys"),
    ("GET", "/api/surveys/{code}"),
    ("POST", "/api/surveys/{code}/responses"),
    ("GET", "/api/surveys/{code}/results"),
    ("GET", "/api/supply-demand/pairs"),
    ("GET", "/api/supply-demand"),
    ("GET", "/surveys"),
    ("GET", "/surveys/{code}"),
    ("POST", "/surveys/{code}"),
    ("GET", "/surveys/{code}/thanks"),
    ("GET", "/surveys/{code}/results"),
    ("GET", "/supply-demand"),
    # Open311 GeoReport v2 (read-only calls need no key, as the spec says)
    ("GET", "/open311/v2/discovery.{fmt}"),
    ("GET", "/open311/v2/services.{fmt}"),
    ("GET", "/open311/v2/services/{service_code}.{fmt}"),
    ("GET", "/open311/v2/requests.{fmt}"),
    ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"),
    ("GET", "/open311/v2/tokens/{token}.{fmt}"),
    ("GET", "/open311/v2/{path:path}"),
}
"""Routes the anonymous public may call (published, aggregated data; signing in; filing a
request and answering a survey)."""
PUBLIC_WRITES = {
    ("POST", "/login"),
    ("POST", "/api/session"),
    ("POST", "/requests/new"),
    ("POST", "/api/surveys/{code}/responses"),
    ("POST", "/surveys/{code}"),
}
"""The unsafe routes the anonymous public may call (``web.deps.ANONYMOUS_WRITES``)."""
KEY_AUTHENTICATED = {
    ("POST", "/open311/v2/requests.{fmt}"),
    ("GET", "/open311/v2/servicerequestupdates.{fmt}"),
    ("POST", "/open311/v2/servicerequestupdates.{fmt}"),
}
"""Open311 calls authenticated by the client's ``api_key`` (``web.deps.KEY_AUTHENTICATED_WRITES``):
refused to every caller of the sweep, which has no key, signed in or not."""
SIGNED_IN = {
    ("DELETE", "/api/session"),
    ("POST", "/api/session/password"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("POST", "/logout"),
}
"""Routes any signed-in user may call on their own account."""

CANARY_PASSWORD = "Canary!Pass-7f3k2q9z"
CANARY_PHONE = "13912345678"


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every route of the app, including those of included routers (FastAPI nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def route_table() -> list[tuple[str, str, Operation | None]]:
    app = create_app(settings_for("sqlite://"))
    table = []
    for route in api_routes(app.routes):
        operations = [getattr(d.call, "operation", None) for d in route.dependant.dependencies]
        operation = next((op for op in operations if op is not None), None)
        for method in sorted(route.methods - {"HEAD"}):
            table.append((method, route.path, operation))
    return table


def test_the_sweep_sees_every_route() -> None:
    paths = {path for _, path, _ in route_table()}
    assert {"/api/targets", "/api/users", "/admin/users", "/login", "/"} <= paths
    assert len(route_table()) >= 40


def test_every_route_is_classified() -> None:
    unclassified = [
        (method, path)
        for method, path, op in route_table()
        if op is None and (method, path) not in PUBLIC | SIGNED_IN | KEY_AUTHENTICATED
    ]
    assert unclassified == [], (
        "declare dependencies=[requires(Operation...)] or add the route to PUBLIC/SIGNED_IN"
    )


def test_every_unsafe_route_needs_an_operation_or_a_session() -> None:
    for method, path, op in route_table():
        if method != "GET":
            assert op is not None or (method, path) in SIGNED_IN | PUBLIC_WRITES | KEY_AUTHENTICATED


@dataclass
class World:
    server: LiveServer
    url: str
    passwords: dict[str, str]
    ids: dict[str, str]
    token: str


CALLERS = {
    "planner": ([Role.planner], ["510100"], []),
    "department": ([Role.department_reporter], ["510100"], []),
    "district": ([Role.district_reporter], ["510104"], []),
    "district_planner": ([Role.planner], ["510104"], []),
    "reviewer": ([Role.reviewer], [], ["510100"]),
    "sysadmin": ([Role.sys_admin], [], []),
    "secadmin": ([Role.security_admin], [], []),
    "auditadmin": ([Role.audit_admin], [], []),
}


@pytest.fixture(scope="module")
def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = database_url(backend, tmp_path_factory, "sweep")
    build_demo_database(url)
    passwords = {
        name: make_user(url, f"sweep_{name}", roles, capture=capture, view=view)
        for name, (roles, capture, view) in CALLERS.items()
    }
    make_user(url, "canary_user", [Role.reviewer], password=CANARY_PASSWORD, phone=CANARY_PHONE)
    make_user(
        url, "sweep_victim", [Role.reviewer], service_account=True
    )  # what the sweep disables and revokes
    make_user(url, "sweep_system", [Role.department_reporter], capture=["510100"], service_account=True)
    from planwatch.accounts import service
    from planwatch.audit.security_log import SYSTEM
    from planwatch.clock import system_clock
    from planwatch.db import transaction

    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        owner = session.scalar(select(User).where(User.username == "sweep_system"))
        assert owner is not None
        victim = session.scalar(select(User).where(User.username == "sweep_victim"))
        assert victim is not None
        _, victim_token = service.create_token(
            session,
            victim,
            name="victim",
            days=5,
            settings=settings_for(url),
            actor=SYSTEM,
            now=system_clock(),
        )
        token, _ = service.create_token(
            session, owner, name="sweep", days=5, settings=settings_for(url), actor=SYSTEM, now=system_clock()
        )
        ids = {
            "target_id": str(session.scalar(select(Target.id).order_by(Target.id))),
            "user_id": str(victim.id),
            "token_id": str(victim_token.id),
            "canary_id": str(session.scalar(select(User.id).where(User.username == "canary_user"))),
        }
    engine.dispose()
    for server in run_live_server(settings_for(url)):
        yield World(server, url, passwords, ids, token)


SAMPLES = {
    "code": "510104",
    "role": "reviewer",
    "kind": "view",
    # data collection: keys and ids that match nothing, so the sweep changes no data
    "indicator": "no_such_indicator",
    "division": "510104",
    "period": "2025",
    "import_id": "999999",
    "exception_id": "999999",
    "year": "2025",
    "action": "submit",
    # evaluation rounds: ids that match nothing (publishing is swept with an empty body: 422)
    "round_id": "999999",
    "other_id": "999999",
    # coverage (生活圈覆盖) and siting: the latest run (none in the sweep's database) and an unknown id
    "run": "latest",
    "siting_id": "999999",
    "facility_id": "no_such_facility",
    # citizens' requests and Open311: ids and codes that match nothing
    "request_id": "999999",
    "fmt": "json",
    "service_code": "no_such_type",
    "token": "no_such_token",
    "service_request_id": "999999",
}


def concrete(path: str, ids: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if path.startswith("/lang") and name == "code":
            return "en"
        return ids.get(name) or SAMPLES[name]

    return re.sub(r"\{(\w+)\}", fill, path)


def call(http: httpx.Client, method: str, path: str, csrf: str | None) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if method == "GET":
        return http.get(path, headers=headers)
    return http.request(method, path, json={}, headers=headers)


@contextmanager
def signed_in(world: World, name: str) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=world.server.url, timeout=30, follow_redirects=False) as http:
        response = http.post(
            "/api/session", json={"username": f"sweep_{name}", "password": world.passwords[name]}
        )
        assert response.status_code == 200, response.text
        yield http, str(response.json()["csrf_token"])


def forbidden(response: httpx.Response) -> bool:
    """Refused: 401/403, or a page that sends the visitor to sign in."""
    redirect = response.status_code in {302, 303, 307} and response.headers.get("location", "").startswith(
        "/login"
    )
    return response.status_code in {401, 403} or redirect


@pytest.mark.parametrize("caller", ["anonymous", *CALLERS])
def test_route_sweep(world: World, caller: str) -> None:
    """Each route answers the caller as the policy table says: 401/403 when not allowed, never a
    2xx; allowed callers are not refused (they may still get 404/409/422 for the sample input)."""
    roles = frozenset(CALLERS[caller][0]) if caller != "anonymous" else frozenset()
    wrong = []
    with ExitStack() as stack:
        if caller == "anonymous":
            http, csrf = stack.enter_context(httpx.Client(base_url=world.server.url, timeout=30)), None
        else:
            http, csrf = stack.enter_context(signed_in(world, caller))
        for method, path, op in route_table():
            if (method, path) in {("DELETE", "/api/session"), ("POST", "/logout")}:
                continue  # signing out would end the sweep's own session
            if (method, path) in KEY_AUTHENTICATED:
                allowed = False
            elif op is not None:
                allowed = caller != "anonymous" and any(op in POLICY[r] for r in roles)
            elif (method, path) in SIGNED_IN:
                allowed = caller != "anonymous"
            else:
                allowed = True
            response = call(http, method, concrete(path, world.ids), csrf)
            refused = forbidden(response)
            if allowed == refused or (not allowed and response.status_code < 300):
                wrong.append(f"{method} {path} as {caller}: {response.status_code}")
    assert wrong == []


def test_other_district_gets_404_with_nothing_of_the_object(world: World) -> None:
    with signed_in(world, "district_planner") as (http, csrf):
        target = http.get(f"/api/targets/{world.ids['target_id']}").json()
        response = http.patch(
            f"/api/targets/{target['id']}", json={"value": 1}, headers={"X-CSRF-Token": csrf}
        )
    assert response.status_code == 404
    assert target["code"] not in response.text
    assert target["source_sentence"] not in response.text


def test_a_token_never_yields_a_session(world: World) -> None:
    with httpx.Client(base_url=world.server.url, timeout=30) as http:
        response = http.get("/api/session", headers={"Authorization": f"Bearer {world.token}"})
        assert response.json()["via"] == "token"
        assert "set-cookie" not in response.headers
        assert http.get("/api/session", headers={"Authorization": "Bearer pw_not-a-token"}).status_code == 401


def test_a_session_cookie_of_another_user_is_just_that_user(world: World) -> None:
    with signed_in(world, "reviewer") as (http, _):
        assert http.get("/api/users").status_code == 403
        forged = httpx.Client(base_url=world.server.url, cookies={"pw_session": "forged-value"}, timeout=30)
        with forged:
            assert forged.get("/api/session").json()["via"] == "anonymous"


def test_unmasking_needs_the_permission_and_a_reason_and_is_audited(world: World) -> None:
    user_id = world.ids["canary_id"]
    with signed_in(world, "secadmin") as (http, csrf):
        listed = http.get(f"/api/users/{user_id}").json()
        assert listed["phone"] == "139****5678"
        assert (
            http.post(
                f"/api/users/{user_id}/unmask", json={"reason": "x"}, headers={"X-CSRF-Token": csrf}
            ).status_code
            == 422
        )
        full = http.post(
            f"/api/users/{user_id}/unmask", json={"reason": "回访核实身份"}, headers={"X-CSRF-Token": csrf}
        )
        assert full.json()["phone"] == CANARY_PHONE
    with signed_in(world, "auditadmin") as (auditor, _):
        log = auditor.get("/api/audit/security-log", params={"action": "pii.unmask"}).json()
        assert log
        assert log[0]["detail"]["reason"] == "回访核实身份"
        assert auditor.get("/api/audit/security-log/verify").json()["intact"] is True


def test_canaries_never_reach_the_database_file_or_the_logs(
    world: World, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=world.server.url, timeout=30) as http:
        http.post("/api/session", json={"username": "canary_user", "password": CANARY_PASSWORD})
        http.post("/api/session", json={"username": "canary_user", "password": CANARY_PASSWORD + "x"})
        http.get("/api/session", headers={"Authorization": f"Bearer {world.token}"})
    secrets = [CANARY_PASSWORD, CANARY_PHONE, world.token]
    assert not [s for s in secrets if s in caplog.text]
    if backend == "sqlite":
        database = Path(world.url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert not [s for s in secrets if s.encode() in raw]


@pytest.fixture(scope="module")
def unpublished(world: World) -> dict[str, str]:
    """A draft plan and one unapproved (submitted) value in 锦江区, added to the sweep's database."""
    from planwatch.db import transaction
    from planwatch.models import DataValue, Division, Indicator
    from planwatch.models.enums import ValueSource, ValueStatus
    from planwatch.plans.service import load_plan_file
    from tests.conftest import FIXTURES

    engine = make_engine(world.url)
    with transaction(session_factory(engine)) as session:
        load_plan_file(session, FIXTURES / "mini_plan.yaml")
        indicator = session.scalar(select(Indicator).where(Indicator.code == "nursing_bed_share"))
        jinjiang = session.scalar(select(Division).where(Division.code == "510104"))
        assert indicator is not None
        assert jinjiang is not None
        row = session.scalar(
            select(DataValue).where(
                DataValue.indicator_id == indicator.id,
                DataValue.division_id == jinjiang.id,
                DataValue.year == 2025,
            )
        )
        assert row is not None
        row.numerator, row.value, row.status, row.source = (
            row.denominator,
            100.0,
            ValueStatus.submitted,
            ValueSource.reported,
        )
        target_id = session.scalar(select(Target.id).where(Target.code == "CD14-T05"))
    engine.dispose()
    return {"target_id": str(target_id)}


def test_the_public_sees_no_draft_plans(world: World, unpublished: dict[str, str]) -> None:
    with httpx.Client(base_url=world.server.url, timeout=30) as http:
        assert http.get("/api/targets", params={"plan": "TEST-PLAN"}).status_code == 404
        assert http.get("/", params={"plan": "TEST-PLAN"}).status_code == 404
    with signed_in(world, "planner") as (http, _):
        assert http.get("/api/targets", params={"plan": "TEST-PLAN"}).status_code == 200


def test_unapproved_values_count_only_for_those_who_may_see_them(
    world: World, unpublished: dict[str, str]
) -> None:
    path = f"/api/targets/{unpublished['target_id']}/divisions"
    with httpx.Client(base_url=world.server.url, timeout=30) as http:
        public = {u["code"]: u["value"] for u in http.get(path, params={"year": 2025}).json()["units"]}
    with signed_in(world, "planner") as (http, _):
        internal = {u["code"]: u["value"] for u in http.get(path, params={"year": 2025}).json()["units"]}
    with signed_in(world, "district") as (http, _):
        jinjiang_reporter = {
            u["code"]: u["value"] for u in http.get(path, params={"year": 2025}).json()["units"]
        }
    assert internal["510104"] == 100.0
    assert jinjiang_reporter["510104"] == 100.0  # their own district
    assert public["510104"] != 100.0  # the public sees the last approved value, not the submitted one
    assert public["510105"] == internal["510105"]


def test_parallel_denials_keep_the_chain_whole(world: World) -> None:
    """Twenty refusals at once (each logged in its own transaction) never fork the log."""
    from concurrent.futures import ThreadPoolExecutor

    def refused(_: int) -> int:
        with httpx.Client(base_url=world.server.url, timeout=60) as http:
            return http.post("/api/users", json={}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(refused, range(20)))
    assert set(statuses) == {403}
    with signed_in(world, "auditadmin") as (http, _):
        verdict = http.get("/api/audit/security-log/verify").json()
    assert verdict["intact"] is True, verdict["message"]
