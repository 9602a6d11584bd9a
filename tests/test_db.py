"""Schema management: migrations match the models, and foreign or newer schemas are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from planwatch.db import check_schema, head_revision, make_engine, migrate
from planwatch.errors import DatabaseNotInitialisedError, SchemaVersionError
from planwatch.models import Base


def test_migrations_create_exactly_the_models(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
        check_schema(engine)
    finally:
        engine.dispose()


def test_migrate_twice_is_harmless(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate(engine)
        migrate(engine)
        check_schema(engine)
    finally:
        engine.dispose()


def test_empty_database_asks_for_init(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        with pytest.raises(DatabaseNotInitialisedError, match="planwatch init"):
            check_schema(engine)
    finally:
        engine.dispose()


def test_newer_schema_is_refused_clearly(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        with pytest.raises(SchemaVersionError, match="newer planwatch"):
            check_schema(engine)
        with pytest.raises(SchemaVersionError, match="newer planwatch"):
            migrate(engine)
    finally:
        engine.dispose()


def test_foreign_database_is_refused(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
        with pytest.raises(SchemaVersionError, match="no planwatch schema version"):
            check_schema(engine)
    finally:
        engine.dispose()


def test_head_revision_is_the_shipped_migration() -> None:
    assert head_revision() == "0008"


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/fk.db")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()
