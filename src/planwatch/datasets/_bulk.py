"""Fast bulk inserts for the simulated data (tens of thousands of rows in one transaction)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import JSON, Boolean, DateTime, Table, insert
from sqlalchemy.orm import Session

from planwatch.models.base import Base

__all__ = ["bulk_insert", "python_values", "table_of"]

_CHUNK: Final = 5000


def table_of(name: str) -> Table:
    return Base.metadata.tables[name]


def python_values(column: pd.Series) -> list[Any]:
    """Python values with None for missing ones (pandas keeps missing strings as NaN)."""
    if column.dtype != object and not column.hasnans:
        return list(column.tolist())
    return list(column.astype(object).where(column.notna(), None).tolist())


def _py_datetimes(column: pd.Series) -> list[datetime | None]:
    """Aware UTC datetimes (None for NaT) for the database driver."""
    naive = column.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy(dtype="datetime64[us]").astype(object)
    return [None if v is None else v.replace(tzinfo=UTC) for v in naive]


def _sqlite_datetimes(column: pd.Series) -> list[str | None]:
    """What SQLAlchemy's SQLite DateTime stores: UTC as ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    values = column.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    text = np.char.replace(np.datetime_as_string(values, unit="us"), "T", " ").astype(object)
    text[np.isnat(values)] = None
    return list(text)


def bulk_insert(session: Session, table: Table, columns: Mapping[str, Sequence[Any] | pd.Series]) -> None:
    """Insert many rows fast. On SQLite the values are written as SQLAlchemy's SQLite types store
    them (its per-value processing costs more than SQLite's own work at this volume); elsewhere
    through Core ``insert`` in chunks."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        prepared: list[Sequence[Any]] = []
        for name, values in columns.items():
            kind = table.c[name].type
            if isinstance(values, pd.Series) and isinstance(kind, DateTime):
                prepared.append(_sqlite_datetimes(values))
            elif isinstance(kind, JSON):
                prepared.append([None if v is None else json.dumps(v) for v in values])
            elif isinstance(kind, Boolean):
                prepared.append([None if v is None else int(v) for v in values])
            else:
                prepared.append(list(values))
        # SQLite rebuilds the enum CHECK constraints' IN lists for every executed row, so an
        # executemany into the table is 4x slower than filling a bare temporary table and
        # copying it over in one statement; a larger page cache keeps the index updates in memory
        names = ", ".join(columns)
        staging = f"temp_{table.name}"
        cache = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        connection.exec_driver_sql("PRAGMA cache_size=-262144")
        try:
            connection.exec_driver_sql(f"CREATE TEMP TABLE {staging} ({names})")
            connection.exec_driver_sql(
                f"INSERT INTO {staging} VALUES ({', '.join('?' * len(columns))})",  # noqa: S608 - names from the model
                list(zip(*prepared, strict=True)),
            )
            connection.exec_driver_sql(
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} ORDER BY rowid"  # noqa: S608
            )
        finally:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {staging}")
            connection.exec_driver_sql(f"PRAGMA cache_size={int(cache or -2000)}")
        return
    plain = {
        name: _py_datetimes(values) if isinstance(values, pd.Series) else values
        for name, values in columns.items()
    }
    rows = [dict(zip(plain, values, strict=True)) for values in zip(*plain.values(), strict=True)]
    for i in range(0, len(rows), _CHUNK):
        session.execute(insert(table), rows[i : i + _CHUNK])
