"""How CLI commands report database trouble."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy.exc
import typer

from planwatch.cli.context import reports_errors


def test_a_busy_sqlite_database_is_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    @reports_errors
    def command() -> None:
        raise sqlalchemy.exc.OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))

    with pytest.raises(typer.Exit) as exit_info:
        command()
    assert exit_info.value.exit_code == 1
    message = capsys.readouterr().err
    assert "the database is busy" in message
    assert "nothing was written" in message
    assert "PLANWATCH_DATABASE_URL" not in message  # not the wrong advice
