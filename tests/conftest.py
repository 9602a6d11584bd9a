"""Shared fixtures: real databases (SQLite file, PostgreSQL when configured), a running app, a browser.

Every database-backed test runs once per backend. PostgreSQL runs when PLANWATCH_TEST_DATABASE_URL is
set; CI sets it and PLANWATCH_REQUIRE_POSTGRES=1, so a missing server fails instead of skipping.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from planwatch.accounts import service as account_service
from planwatch.audit.security_log import SYSTEM
from planwatch.clock import system_clock
from planwatch.config import Settings
from planwatch.coverage.service import install_coverage_demo
from planwatch.datasets import CHENGDU_PLAN_CODE, chengdu_path
from planwatch.datasets.citizens_demo import install_citizens_demo
from planwatch.datasets.simulate import read_simulation_file, simulate
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import load_divisions
from planwatch.evaluation.service import get_plan, latest_data_year
from planwatch.models.enums import Role, ScopeKind
from planwatch.plans.service import load_plan_file
from planwatch.service_requests.catalogue import load_service_types

SEED_PATH = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_eae1a0beed5f6aab.txt"
DATA_KEY = Fernet.generate_key().decode()
"""One data key for the whole run: the test settings encrypt personal data with it."""


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings for a database under test: a data key, cookies usable over plain http."""
    values: dict[str, object] = {
        "database_url": url,
        "data_key": DATA_KEY,
        "cookie_secure": False,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


STRONG = "Qz7!"
"""Prefix that gives test passwords three character classes; a random tail makes them unique."""


def strong_password() -> str:
    import secrets

    return STRONG + secrets.token_hex(8)


def make_user(
    url: str,
    username: str,
    roles: list[Role],
    *,
    capture: list[str] = (),  # type: ignore[assignment]
    view: list[str] = (),  # type: ignore[assignment]
    departments: list[str] = (),  # type: ignore[assignment]
    password: str | None = None,
    phone: str | None = None,
    must_change: bool = False,
    service_account: bool = False,
) -> str:
    """Create an account in the database at ``url``; return its password."""
    password = password or strong_password()
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            now = system_clock()
            settings = settings_for(url)
            user = account_service.create_user(
                session, username=username, password=password, settings=settings, actor=SYSTEM, now=now,
                phone=phone, must_change_password=must_change, service_account=service_account,
            )  # fmt: skip
            for role in roles:
                account_service.grant_role(session, user, role, actor=SYSTEM, now=now)
            for kind, codes in (
                (ScopeKind.capture, capture),
                (ScopeKind.view, view),
                (ScopeKind.department, departments),
            ):
                for code in codes:
                    account_service.grant_scope(session, user, kind, code, actor=SYSTEM, now=now)
    finally:
        engine.dispose()
    return password


FIXTURES = Path(__file__).parent / "fixtures"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_url() -> str | None:
    return os.environ.get("PLANWATCH_TEST_DATABASE_URL") or None


def fresh_postgres_database(suffix: str) -> str:
    """Create (or recreate) an empty PostgreSQL database for this worker and return its URL."""
    base = _postgres_url()
    assert base is not None
    url = make_url(base)
    name = f"planwatch_{_worker()}_{suffix}".lower()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _backends() -> list[pytest.param]:
    params = [pytest.param("sqlite", id="sqlite")]
    if _postgres_url() or os.environ.get("PLANWATCH_REQUIRE_POSTGRES") == "1":
        params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return params


BACKENDS = _backends()


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("PLANWATCH_REQUIRE_POSTGRES") == "1" and not _postgres_url():
        raise pytest.UsageError("PLANWATCH_REQUIRE_POSTGRES=1 but PLANWATCH_TEST_DATABASE_URL is not set")


def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory, suffix: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp(suffix) / 'planwatch.db'}"
    return fresh_postgres_database(suffix)


COVERAGE_DEMO_SCALE = 0.05
"""The tests' synthetic Chengdu network is a twentieth of the demo's density (fast to build)."""
DEMO_REQUESTS = 2_000
DEMO_RESPONSES = 300
"""The tests' simulated request history and survey answers (the demo has 50,000 and 3,000)."""


def build_demo_database(url: str, coverage_dir: Path | None = None) -> None:
    """What `planwatch demo --no-serve` builds: schema, divisions, the Chengdu plan, simulated data,
    and with ``coverage_dir`` the life-circle coverage demo (its input files written there)."""
    engine = make_engine(url)
    try:
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            load_divisions(
                session,
                chengdu_path("divisions.csv"),
                boundaries=chengdu_path("districts.geojson"),
                population_csv=chengdu_path("population.csv"),
            )
            load_plan_file(session, chengdu_path("plan.yaml"))
            load_service_types(session, chengdu_path("service_types.yaml"))
        with transaction(session_factory(engine)) as session:
            simulate(
                session,
                get_plan(session, CHENGDU_PLAN_CODE),
                read_simulation_file(chengdu_path("simulation.yaml")),
            )
        if coverage_dir is None:
            return
        with transaction(session_factory(engine)) as session:
            # the demo's life circles on a small synthetic network (模拟数据), as `planwatch demo` does
            plan = get_plan(session, CHENGDU_PLAN_CODE)
            year = latest_data_year(session, plan)
            install_coverage_demo(session, coverage_dir, year=year, scale=COVERAGE_DEMO_SCALE)
        with transaction(session_factory(engine)) as session:
            # a small simulated request history and survey on the coverage demo's address points
            install_citizens_demo(session, coverage_dir=coverage_dir, year=year, settings=settings_for(url),
                                  requests=DEMO_REQUESTS, responses=DEMO_RESPONSES)  # fmt: skip
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def demo_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the whole Chengdu demo; tests must not change it (use ``session``)."""
    url = database_url(backend, tmp_path_factory, "demo")
    build_demo_database(url, tmp_path_factory.mktemp("coverage-demo"))
    return url


@pytest.fixture(scope="session")
def demo_engine(demo_url: str) -> Iterator[Engine]:
    engine = make_engine(demo_url)
    yield engine
    engine.dispose()


def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back afterwards (the body of every
    per-test session fixture)."""
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def session(demo_engine: Engine) -> Iterator[Session]:
    """A session on the demo database inside a transaction that is rolled back after the test."""
    yield from rolled_back(demo_engine)


@pytest.fixture
def empty_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new, empty database (no schema) of the current backend."""
    return database_url(backend, tmp_path_factory, f"empty{time.monotonic_ns() % 10**9}")


@pytest.fixture
def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread: leave signals alone
        pass


def run_live_server(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> Iterator[LiveServer]:
    from planwatch.web.app import create_app

    port = free_port()
    app = create_app(settings, clock=clock) if clock is not None else create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(demo_url: str) -> Iterator[LiveServer]:
    """The real app served by uvicorn on a free local port, on the demo database (read-only use)."""
    yield from run_live_server(settings_for(demo_url))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (PLANWATCH_FAIL_ON_SKIP=1) a skipped test is a failure: PostgreSQL and browser tests
    must really run there."""
    if os.environ.get("PLANWATCH_FAIL_ON_SKIP") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        reporter.write_line(f"PLANWATCH_FAIL_ON_SKIP=1: {len(skipped)} test(s) were skipped", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
