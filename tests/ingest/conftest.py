"""Fixtures of the data-collection tests: a database with the catalogue and no values, per backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.db import make_engine
from tests.conftest import rolled_back, settings_for
from tests.ingest.factories import collection_database


@pytest.fixture(scope="session")
def collection_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Divisions and the Chengdu plan, no data values; tests must not change it (use ``db``)."""
    return collection_database(backend, tmp_path_factory, "collection")


@pytest.fixture(scope="session")
def collection_engine(collection_url: str) -> Iterator[Engine]:
    engine = make_engine(collection_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(collection_engine: Engine) -> Iterator[Session]:
    """A session on the collection database inside a transaction rolled back after the test."""
    yield from rolled_back(collection_engine)


@pytest.fixture
def settings(collection_url: str) -> Settings:
    return settings_for(collection_url)
