"""schemathesis against the app's own OpenAPI, as the public and as each role [API-1]: no 5xx, and
every documented response matches its schema and content type."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

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

ROLES = [None, *Role]


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, dict[str, dict[str, str]]]]:
    """A demo database with one signed-in person per role; yields the server and each role's
    request headers (session cookie and CSRF token)."""
    # once, on SQLite: the route sweep (tests/web/test_security.py) covers both databases
    url = database_url("sqlite", tmp_path_factory, "fuzz")
    build_demo_database(url)
    passwords = {
        role: make_user(url, f"fuzz_{role.value}", [role], capture=["510100"], view=["510100"])
        for role in Role
    }
    for server in run_live_server(settings_for(url)):
        headers = {}
        for role, password in passwords.items():
            with httpx.Client(base_url=server.url, timeout=30) as http:
                response = http.post(
                    "/api/session", json={"username": f"fuzz_{role.value}", "password": password}
                )
                assert response.status_code == 200, response.text
                cookie = response.cookies["pw_session"]
                headers[role.value] = {
                    "Cookie": f"pw_session={cookie}",
                    "X-CSRF-Token": response.json()["csrf_token"],
                }
        yield server, headers


# The app's own OpenAPI document, built without a server; requests go to the live server below.
schema = schemathesis.openapi.from_dict(create_app(settings_for("sqlite://")).openapi())


@schema.parametrize()
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_contract(
    case: schemathesis.Case, fuzz_server: tuple[LiveServer, dict[str, dict[str, str]]]
) -> None:
    """Each generated request is sent once as the public and once as every role."""
    server, role_headers = fuzz_server
    if case.path.startswith("/api/session"):
        return  # signing out or changing passwords at random would end the roles' sessions; tested elsewhere
    for role in ROLES:
        headers = role_headers[role.value] if role else {}
        response = case.call(base_url=server.url, headers=headers)
        who = role.value if role else "anonymous"
        assert response.status_code < 500, (
            f"{case.method} {case.path} as {who}: {response.status_code} {response.text[:300]}"
        )
        case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])
