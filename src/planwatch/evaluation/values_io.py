"""Read indicator values from the database into columns, fast: the one part of the bulk
evaluation (``frame``) that touches the database.

One Core query; the driver's rows go straight into numpy (SQLAlchemy's Row objects would cost 13×).
Indicator, division, year and the simulated flag travel packed in one 64-bit integer; on
PostgreSQL the server packs each indicator-year's values into one ``bytea``. The audience rule
and the "not deleted" filter are those of ``data.Audience``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    LargeBinary,
    Select,
    SmallInteger,
    String,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from planwatch.evaluation.data import APPROVED_VALUES, OPERATOR, Audience
from planwatch.models import DataValue, Division, Indicator
from planwatch.models.enums import ValueSource

VALUE_COLUMNS = (
    "indicator_id",
    "division_id",
    "period",
    "year",
    "value",
    "numerator",
    "denominator",
    "simulated",
)
"""Columns of :func:`load_values`."""

_CHUNK = 50_000
_PACK = 1 << 24
"""Ids below 2^24 travel packed with the year in one 64-bit integer (|year| < 16384; a year beyond
that makes the database report an integer overflow, never a wrong number)."""

# ---------------------------------------------------------------------------------------------
# loading


def load_values(
    session: Session,
    indicator_ids: Iterable[int] | None = None,
    *,
    audience: Audience = OPERATOR,
    annual_only: bool = True,
) -> pd.DataFrame:
    """The values of some indicators (all of them: None) as columns, in one query.

    Parameters
    ----------
    session
        An open session (pending changes are flushed first); one SQLAlchemy Core query runs on its
        connection and its rows go straight from the driver's cursor into numpy, in chunks.
    indicator_ids
        The indicators to read; None reads every indicator.
    audience
        Whom the figures are for: approved and locked values always count; other values only in
        ``audience.unapproved_in`` (everywhere when that is None), as in :class:`data.Audience`.
    annual_only
        Only annual values (period ``2023`` for the year 2023), as the evaluation uses them.

    Returns
    -------
    pandas.DataFrame
        One row per stored value that is not deleted, with the columns of :data:`VALUE_COLUMNS`:
        ``indicator_id``, ``division_id`` and ``year`` (int64), ``period`` (categorical),
        ``value``, ``numerator`` and ``denominator`` (float64, NaN where missing) and ``simulated``
        (bool: the value came from the simulator). Rows are in no particular order.

    Notes
    -----
    Python's database drivers build one tuple of Python objects per row, which is what costs the
    time (about 1 µs a row with SQLite's driver, whatever is done with the rows). To build fewer
    objects, indicator, division, year and the simulated flag travel packed in one 64-bit integer
    (when the ids fit in 24 bits), each chunk of rows becomes one structured numpy array without an
    intermediate list per column, and the garbage collector is paused meanwhile. On PostgreSQL the
    server packs the annual values into one ``bytea`` per indicator and year, which numpy decodes
    without any Python object per value.
    """
    if session.autoflush:
        session.flush()
    c = DataValue.__table__.c
    ids: list[int] | None = None
    if indicator_ids is not None:
        ids = sorted({int(i) for i in indicator_ids})
        if not ids:
            return _empty_values()
    connection = session.connection()
    simulated = case((c.source == ValueSource.simulated.value, 1), else_=0)
    top_ids = connection.execute(
        select(
            select(func.max(Indicator.id)).scalar_subquery(), select(func.max(Division.id)).scalar_subquery()
        )
    ).one()
    packed = all(top is None or top < _PACK for top in top_ids)
    if packed:  # ((year * 2^24 + indicator) * 2^24 + division) * 2 + simulated
        key = cast(c.year, BigInteger) * _PACK + c.indicator_id
        key = (key * _PACK + c.division_id) * 2 + simulated
        columns: list[Any] = [key]
        fields: list[tuple[str, Any]] = [("key", np.int64)]
    else:
        columns = [c.indicator_id, c.division_id, c.year, simulated]
        fields = [
            ("indicator_id", np.int64),
            ("division_id", np.int64),
            ("year", np.int64),
            ("sim", np.int64),
        ]
    columns += [c.value, c.numerator, c.denominator]
    fields += [("value", np.float64), ("numerator", np.float64), ("denominator", np.float64)]
    if not annual_only:
        columns.append(c.period)
        fields.append(("period", object))
    conditions: list[Any] = [c.deleted.is_(False)]
    if ids is not None:
        conditions.append(c.indicator_id.in_(ids))
    if annual_only:
        conditions.append(c.period == cast(c.year, String))
    if audience.unapproved_in is not None:
        approved = c.status.in_(sorted(s.value for s in APPROVED_VALUES))
        seen = sorted(audience.unapproved_in)
        conditions.append(or_(approved, c.division_id.in_(seen)) if seen else approved)
    dtype = np.dtype(fields)
    blocks: Iterator[npt.NDArray[np.void]]
    if packed and annual_only and connection.dialect.name == "postgresql":
        blocks = _postgres_blocks(connection, columns[0], conditions)
    else:
        rows = _driver_rows(connection, select(*columns).where(*conditions))
        blocks = (np.fromiter(chunk, dtype=dtype, count=len(chunk)) for chunk in rows)
    names = ["indicator_id", "division_id", "year", "simulated", "value", "numerator", "denominator"]
    parts: dict[str, list[Any]] = {name: [] for name in [*names, "period"]}
    with _gc_paused():  # millions of short-lived tuples would trigger many useless collections
        for block in blocks:
            if packed:
                packed_key = block["key"]
                decoded = [
                    (packed_key >> 25) & (_PACK - 1),
                    (packed_key >> 1) & (_PACK - 1),
                    packed_key >> 49,
                    (packed_key & 1) == 1,
                ]
            else:
                decoded = [block[n] for n in ("indicator_id", "division_id", "year")] + [block["sim"] != 0]
            decoded += [block[n] for n in ("value", "numerator", "denominator")]
            for name, column in zip(names, decoded, strict=True):
                parts[name].append(np.ascontiguousarray(column))
            if not annual_only:
                parts["period"].append(block["period"])
    if not parts["year"]:
        return _empty_values()
    out: dict[str, Any] = {name: np.concatenate(parts.pop(name)) for name in names}
    year = out["year"]
    if annual_only:
        first = int(year.min())
        labels = [str(y) for y in range(first, int(year.max()) + 1)]
        period: Any = pd.Categorical.from_codes(year - first, categories=pd.Index(labels))
    else:
        period = pd.Categorical(np.concatenate(parts["period"]))
    out["period"] = period
    return pd.DataFrame({name: out[name] for name in VALUE_COLUMNS}, copy=False)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_PG_ROW = np.dtype(
    [("key", ">i8"), ("nulls", ">i2"), ("value", ">f8"), ("numerator", ">f8"), ("denominator", ">f8")]
)
"""One value as PostgreSQL packs it in :func:`_postgres_blocks` (``int8send`` … ``float8send``)."""


def _postgres_blocks(
    connection: Connection, key: Any, conditions: list[Any]
) -> Iterator[npt.NDArray[np.void]]:
    """The packed query on PostgreSQL: the server packs each value into 34 bytes of fixed layout
    (big-endian key, NULL flags, value, numerator, denominator) and concatenates those of one
    indicator and year into one ``bytea``, so a few thousand rows cross to Python and numpy reads
    the values straight from the bytes. Blocks as the generic path makes them."""
    c = DataValue.__table__.c
    nulls = (
        case((c.value.is_(None), 4), else_=0)
        + case((c.numerator.is_(None), 2), else_=0)
        + case((c.denominator.is_(None), 1), else_=0)
    )
    zero = cast(0, Float)
    packed: Any = func.int8send(key)
    for part in (
        func.int2send(cast(nulls, SmallInteger)),
        func.float8send(func.coalesce(c.value, zero)),
        func.float8send(func.coalesce(c.numerator, zero)),
        func.float8send(func.coalesce(c.denominator, zero)),
    ):
        packed = packed.op("||", return_type=LargeBinary)(part)
    query = (
        select(func.string_agg(packed, literal(b"", LargeBinary), type_=LargeBinary))
        .where(*conditions)
        .group_by(c.indicator_id, c.year)
    )
    out = np.dtype(
        [("key", np.int64), ("value", np.float64), ("numerator", np.float64), ("denominator", np.float64)]
    )
    batch: list[bytes] = []
    size = 0
    for rows in _driver_rows(connection, query, binary=True):  # binary: no hex text for the bytes
        for (data,) in rows:
            batch.append(data)
            size += len(data)
            if size >= 1 << 22:
                yield _unpack(b"".join(batch), out)
                batch, size = [], 0
    if batch:
        yield _unpack(b"".join(batch), out)


def _unpack(data: bytes, out: np.dtype[np.void]) -> npt.NDArray[np.void]:
    if len(data) % _PG_ROW.itemsize:
        msg = "unexpected packed values from PostgreSQL"
        raise RuntimeError(msg)
    rows = np.frombuffer(data, dtype=_PG_ROW)
    block = np.empty(len(rows), dtype=out)
    block["key"] = rows["key"]
    for name, bit in (("value", 4), ("numerator", 2), ("denominator", 1)):
        block[name] = np.where(rows["nulls"] & bit, np.nan, rows[name])
    return block


def _driver_rows(
    connection: Connection, query: Select[Any], *, binary: bool = False
) -> Iterator[Sequence[Any]]:
    """The query's rows in chunks of plain tuples, straight from the driver's cursor (SQLAlchemy's
    Row objects would cost more than the query). On PostgreSQL a server-side cursor streams them,
    in psycopg's binary format if ``binary``."""
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = tuple(params[name] for name in compiled.positiontup or ()) if compiled.positional else params
    driver = connection.connection.dbapi_connection
    if driver is None:  # pragma: no cover - a live connection always has one
        msg = "the session's connection is closed"
        raise RuntimeError(msg)
    streamed = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name="planwatch_load_values", binary=binary) if streamed else driver.cursor()
    try:
        cursor.execute(str(compiled), args)
        while rows := cursor.fetchmany(_CHUNK):
            yield rows
    finally:
        cursor.close()


def _empty_values() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indicator_id": np.empty(0, np.int64),
            "division_id": np.empty(0, np.int64),
            "period": pd.Categorical([]),
            "year": np.empty(0, np.int64),
            "value": np.empty(0),
            "numerator": np.empty(0),
            "denominator": np.empty(0),
            "simulated": np.empty(0, bool),
        }
    )


# ---------------------------------------------------------------------------------------------
# inputs from the model
