"""Engines, sessions and the schema version check.

SQLite gets WAL and foreign keys; PostgreSQL is used as is. The schema is created and upgraded by
the Alembic migrations shipped inside the package (``planwatch/migrations``), never by
``create_all``, so a database always records which schema it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from planwatch.errors import DatabaseNotInitialisedError, SchemaVersionError

BUSY = "database is locked"
"""What SQLite says when its one writer was held past the busy timeout."""
BUSY_MESSAGE = (
    "the database is busy: another import or write held it for longer than 30 seconds (SQLite lets one "
    "writer at a time); nothing was written; run the command again when the other one has finished"
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Open an engine; SQLite files get WAL, a busy timeout and enforced foreign keys."""
    kwargs.setdefault("hide_parameters", True)  # values (names, numbers) stay out of error logs
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        if ":memory:" not in url and url not in {"sqlite://", "sqlite:///"}:
            kwargs.setdefault("pool_size", 10)  # the web app's worker threads each hold one
            kwargs.setdefault("max_overflow", 30)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with factory() as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("planwatch") / "migrations"))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config(make_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None  # noqa: S101 - the package always ships at least one migration
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the version this planwatch ships.

    Refuses a database that has tables but no planwatch schema version (someone else's database)
    and one written by a newer planwatch.
    """
    if current_revision(engine) is None and inspect(engine).get_table_names():
        msg = (
            f"the database {engine.url.render_as_string(hide_password=True)} has tables but no "
            "planwatch schema version; point PLANWATCH_DATABASE_URL at an empty database or a "
            "planwatch one"
        )
        raise SchemaVersionError(msg)
    _refuse_newer(engine)
    command.upgrade(_alembic_config(engine), "head")


def check_schema(engine: Engine) -> None:
    """Refuse to work on a database without our schema or with a schema we do not know."""
    revision = current_revision(engine)
    if revision is None:
        if inspect(engine).get_table_names():
            msg = (
                f"the database {engine.url.render_as_string(hide_password=True)} has tables but no "
                "planwatch schema version; point PLANWATCH_DATABASE_URL at an empty database or a "
                "planwatch one"
            )
            raise SchemaVersionError(msg)
        msg = (
            f"the database {engine.url.render_as_string(hide_password=True)} is empty; "
            "run `planwatch init` first"
        )
        raise DatabaseNotInitialisedError(msg)
    _refuse_newer(engine)
    if revision != head_revision():
        msg = f"the database schema is at {revision}, this planwatch needs {head_revision()}; run `planwatch init` to upgrade it"
        raise SchemaVersionError(msg)


def _refuse_newer(engine: Engine) -> None:
    revision = current_revision(engine)
    if revision is None:
        return
    script = ScriptDirectory.from_config(_alembic_config(engine))
    known = {rev.revision for rev in script.walk_revisions()}
    if revision not in known:
        msg = (
            f"the database schema version {revision} is unknown to this planwatch "
            f"(it knows up to {script.get_current_head()}); it was probably written by a newer "
            "planwatch: upgrade planwatch, do not downgrade the database"
        )
        raise SchemaVersionError(msg)
