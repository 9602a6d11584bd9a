"""A small requests database shared by the service_requests tests: divisions, the Chengdu plan's
departments, the request types and a few address points in two Jinjiang communities."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from planwatch.datasets import chengdu_path
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import load_divisions
from planwatch.models import AddressPoint, Division
from planwatch.plans.service import load_plan_file
from planwatch.service_requests.catalogue import load_service_types
from tests.conftest import database_url, rolled_back

ADDRESSES = (
    # code, community, lon, lat (inside Jinjiang district)
    ("A-1", "510104017001", 104.0820, 30.6470),
    ("A-2", "510104017001", 104.0830, 30.6475),
    ("A-3", "510104018002", 104.1000, 30.6300),
)


def build_requests_database(url: str) -> None:
    """Schema, divisions, the plan's departments, the request types and the address points."""
    engine = make_engine(url)
    try:
        migrate(engine)
        with transaction(session_factory(engine)) as db:
            load_divisions(
                db,
                chengdu_path("divisions.csv"),
                boundaries=chengdu_path("districts.geojson"),
                population_csv=chengdu_path("population.csv"),
            )
            load_plan_file(db, chengdu_path("plan.yaml"))
            load_service_types(db, chengdu_path("service_types.yaml"))
            ids = dict(db.execute(select(Division.code, Division.id)).all())
            for code, community, lon, lat in ADDRESSES:
                db.add(
                    AddressPoint(
                        code=code, address=f"锦江区 {code}", lon=lon, lat=lat, division_id=ids[community]
                    )
                )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def requests_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = database_url(backend, tmp_path_factory, "requests")
    build_requests_database(url)
    return url


@pytest.fixture(scope="session")
def requests_engine(requests_url: str) -> Iterator[Engine]:
    engine = make_engine(requests_url)
    yield engine
    engine.dispose()


@pytest.fixture
def rdb(requests_engine: Engine) -> Iterator[Session]:
    """A session on the requests database, rolled back after the test."""
    yield from rolled_back(requests_engine)
