"""Shared plumbing of CLI commands: settings, engine, error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import pydantic
import sqlalchemy.exc
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.db import BUSY, BUSY_MESSAGE, check_schema, make_engine, session_factory, transaction
from planwatch.errors import DatabaseNotInitialisedError, PlanwatchError

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
YearOption = Annotated[int | None, typer.Option("--year", help="Evaluate with data up to this year.")]
PlanOption = Annotated[str | None, typer.Option("--plan", help="Plan code (default: the loaded plan).")]

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a ``PlanwatchError`` into a red message on stderr and exit code 1."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PlanwatchError as exc:
            _fail(exc.message)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "")
                + str(e["msg"]).removeprefix("Value error, ")
                for e in exc.errors()
            )
            _fail(f"invalid setting ({problems}); check the PLANWATCH_* environment variables")
        except (
            sqlalchemy.exc.OperationalError,
            sqlalchemy.exc.ArgumentError,
            sqlalchemy.exc.NoSuchModuleError,
        ) as exc:
            reason = (
                str(exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc).strip().splitlines()[0]
            )
            if BUSY in reason:
                _fail(BUSY_MESSAGE)
            _fail(f"cannot use the database: {reason}; check PLANWATCH_DATABASE_URL and that the server runs")
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def _fail(message: str) -> NoReturn:
    err_console.print("error: ", style="bold red", end="")
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def engine_for(settings: Settings, *, checked: bool = True) -> Engine:
    url = make_url(settings.database_url)
    if checked and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.exists():  # do not leave an empty database file behind
            msg = f"there is no database at {path}; run `planwatch init` (or `planwatch demo`) first"
            raise DatabaseNotInitialisedError(msg)
    engine = make_engine(settings.database_url)
    if checked:
        check_schema(engine)
    return engine


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[Session]:
    engine = engine_for(settings)
    try:
        with transaction(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def progress_bar(width: int = 12) -> Progress:
    """The Rich progress bar of long CLI work (transient: it disappears when done)."""
    return Progress(
        TextColumn(f"{{task.description:<{width}}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def print_json(text: str) -> None:
    sys.stdout.write(text + "\n")
