"""schemathesis against the app's own OpenAPI, as the public and as each role [API-1]: no 5xx, and
every documented response matches its schema and content type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy import select

from planwatch.models import User
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
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    from planwatch.accounts import service
    from planwatch.audit.security_log import SYSTEM
    from planwatch.clock import system_clock
    from planwatch.db import make_engine, session_factory, transaction

    if backend != "sqlite":
        pytest.skip("the fuzzing runs once, on SQLite; PostgreSQL runs the sweep")  # see docs/security.md
    url = database_url(backend, tmp_path_factory, "fuzz")
    build_demo_database(url)
    for role in Role:
        make_user(url, f"fuzz_{role.value}", [role], capture=["510100"], view=["510100"])
    tokens = {}
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        for role in Role:
            user = session.scalar(select(User).where(User.username == f"fuzz_{role.value}"))
            assert user is not None
            tokens[role.value], _ = service.create_token(
                session,
                user,
                name="fuzz",
                days=2,
                settings=settings_for(url),
                actor=SYSTEM,
                now=system_clock(),
            )
    engine.dispose()
    for server in run_live_server(settings_for(url)):
        yield server, tokens


# The app's own OpenAPI document, built without a server; requests go to the live server below.
schema = schemathesis.openapi.from_dict(create_app(settings_for("sqlite://")).openapi())


@schema.parametrize()
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_contract(case: schemathesis.Case, fuzz_server: tuple[LiveServer, dict[str, str]]) -> None:
    """Each generated request is sent once as the public and once as every role."""
    server, tokens = fuzz_server
    if case.method == "DELETE" and case.path == "/api/tokens/{token_id}":
        return  # revoking random tokens would sign the fuzzing roles out; the sweep covers this route
    for role in ROLES:
        headers = {"Authorization": f"Bearer {tokens[role.value]}"} if role else {}
        response = case.call(base_url=server.url, headers=headers)
        who = role.value if role else "anonymous"
        assert response.status_code < 500, (
            f"{case.method} {case.path} as {who}: {response.status_code} {response.text[:300]}"
        )
        case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])
