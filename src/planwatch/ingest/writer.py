"""The one write path of data values: every create, update and delete goes through
``write_values``, which checks locks and writes the audit rows in the same transaction [AUD-1].

There is no parameter that turns the audit off [LCK-3]. A write that changes nothing writes no
audit row, so importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from planwatch.audit.chain import advance_many, canonical_rows, lock
from planwatch.clock import as_utc
from planwatch.errors import InvalidValueError, LockedError
from planwatch.ingest.locks import APPROVED, SUBMITTED, Cell, Closed, closed_cells
from planwatch.models import DataValue, DataValueAudit
from planwatch.models.enums import AuditAction, Channel, ValueSource, ValueStatus

CHAIN: Final = "data"


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()
"""A comment not given (the file has no comment column): the stored comment stays."""


@dataclass(frozen=True)
class ValueChange:
    """Set (or, with ``delete``, softly delete) the value of one key."""

    indicator_id: int
    indicator_code: str
    division_id: int
    division_code: str
    period: str
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    comment: str | _Keep | None = KEEP
    delete: bool = False
    row: int | None = None
    """Where the change came from (a file row), for messages."""

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.indicator_id, self.division_id, self.period)


@dataclass(frozen=True)
class Writer:
    """Who writes, how, and when; copied into every audit row."""

    actor: str
    channel: Channel
    now: datetime
    request_id: str = "-"
    import_id: int | None = None
    source: ValueSource = ValueSource.reported


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    forced: int = 0
    kept_reported: int = 0
    """Simulation only: reported values it left alone."""
    kept_locked: int = 0
    """Simulation only: values of submitted or approved units it left alone."""
    audit_ids: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


class CellsLockedError(LockedError):
    """Some keys of a write are closed; nothing was written."""

    def __init__(self, closed: list[tuple[ValueChange, Closed]]) -> None:
        self.closed = closed
        first_change, first = closed[0]
        where = f"{first_change.indicator_code} / {first_change.division_code} / {first_change.period}"
        more = f" (and {len(closed) - 1} more)" if len(closed) > 1 else ""
        more_zh = f"（另有 {len(closed) - 1} 项）" if len(closed) > 1 else ""
        super().__init__(
            f"{where} 已锁定{more_zh}，本次未写入任何数据。{where}: {first.message}{more}; nothing was written",
            code=first.code,
        )


_EXISTING = (
    DataValue.id,
    DataValue.indicator_id,
    DataValue.division_id,
    DataValue.period,
    DataValue.value,
    DataValue.numerator,
    DataValue.denominator,
    DataValue.comment,
    DataValue.deleted,
    DataValue.source,
)


def _existing(session: Session, changes: Sequence[ValueChange]) -> dict[tuple[int, int, str], Any]:
    by_indicator: dict[int, set[int]] = defaultdict(set)
    for change in changes:
        by_indicator[change.indicator_id].add(change.division_id)
    out: dict[tuple[int, int, str], Any] = {}
    for indicator_id, divisions in by_indicator.items():
        query = select(*_EXISTING).where(DataValue.indicator_id == indicator_id)
        if len(divisions) <= 500:
            query = query.where(DataValue.division_id.in_(divisions))
        for row in session.execute(query):
            out[(row.indicator_id, row.division_id, row.period)] = row
    return out


def _audit_content(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def audit_content(audit: DataValueAudit) -> dict[str, Any]:
    """The canonical content of a stored audit row (what its hash covers)."""
    return _audit_content(
        {
            "at": as_utc(audit.at).astimezone(UTC),
            "action": audit.action.value,
            "indicator_id": audit.indicator_id,
            "division_id": audit.division_id,
            "period": audit.period,
            "indicator_code": audit.indicator_code,
            "division_code": audit.division_code,
            "old_value": audit.old_value,
            "old_numerator": audit.old_numerator,
            "old_denominator": audit.old_denominator,
            "old_comment": audit.old_comment,
            "new_value": audit.new_value,
            "new_numerator": audit.new_numerator,
            "new_denominator": audit.new_denominator,
            "new_comment": audit.new_comment,
            "source": audit.source.value,
            "actor": audit.actor,
            "channel": audit.channel.value,
            "import_id": audit.import_id,
            "forced": audit.forced,
            "request_id": audit.request_id,
        }
    )


def _float(value: float | None) -> float | None:
    # + 0.0 turns -0.0 into 0.0: SQLite stores -0.0 as 0, so the audit hash of a "-0" would not
    # match the row read back (verify_data_audit would report a changed row)
    return None if value is None else float(value) + 0.0


def _unchanged(change: ValueChange, old: Any, writer: Writer) -> bool:
    """Whether ``change`` leaves the stored row ``old`` (a Row, or None) as it is."""
    alive = old is not None and not old.deleted
    if change.delete:
        return not alive
    if not alive or old.source is not writer.source:
        return False
    comment = old.comment if change.comment is KEEP else change.comment
    new = (_float(change.value), _float(change.numerator), _float(change.denominator), comment)
    return bool((old.value, old.numerator, old.denominator, old.comment) == new)


def write_values(
    session: Session,
    changes: Sequence[ValueChange],
    writer: Writer,
    *,
    default_expiry_days: int,
    dry_run: bool = False,
    open_import: Callable[[], int] | None = None,
) -> WriteResult:
    """Apply ``changes`` (one per key) with their audit rows, or raise and write nothing.

    Takes the data lock first, so concurrent writers serialise and the lock check below sees
    every approval committed before it. Raises ``CellsLockedError`` when any key it would change is
    closed (approved, submitted, past its entry deadline); simulated demo values are the one source that
    is not subject to the reporting calendar (it leaves submitted and approved values alone), and
    they never overwrite reported values. With ``dry_run`` everything is checked and counted but nothing is written. ``open_import`` is called
    once, only when something is about to change, and returns the id of the import to audit the
    changes under (so an import that changes nothing leaves no record).
    """
    keys = [c.key for c in changes]
    if len(set(keys)) != len(keys):
        msg = "the same (indicator, division, period) is given twice in one write"
        raise InvalidValueError(msg)
    result = WriteResult()
    if not changes:
        return result
    lock(session, CHAIN)
    now = as_utc(writer.now).astimezone(UTC)
    simulated = writer.source is ValueSource.simulated
    forced: set[tuple[int, int, str]] = set()
    existing = _existing(session, changes)
    # a key given with the value it already has is no write: a pre-filled template whose other rows
    # are closed (approved, past the deadline) still goes through for the rows it changes
    writing = [c for c in changes if not _unchanged(c, existing.get(c.key), writer)]
    result.unchanged = len(changes) - len(writing)
    cells = [Cell(*c.key) for c in writing]
    verdicts = closed_cells(session, cells, now=now, default_expiry_days=default_expiry_days)
    if simulated:
        # the demo simulator keeps to approval (approved data is approved data) but not to the
        # reporting calendar: it fills past years that are closed to reporters
        held = {
            c.key
            for c, cell in zip(writing, cells, strict=True)
            if (closed := verdicts[cell].closed) is not None and closed.code in {APPROVED, SUBMITTED}
        }
        result.kept_locked = len(held)
        writing = [c for c in writing if c.key not in held]
    else:
        blocked = []
        for change, cell in zip(writing, cells, strict=True):
            verdict = verdicts[cell]
            if verdict.closed is not None:
                blocked.append((change, verdict.closed))
            elif verdict.forced:
                forced.add(change.key)
        if blocked:
            raise CellsLockedError(blocked)
    status = ValueStatus.approved if simulated else ValueStatus.draft
    inserts: list[tuple[Any, ...]] = []  # _INSERTED columns
    updates: list[dict[str, Any]] = []
    audits: list[tuple[Any, ...]] = []  # _AUDITED columns
    for change in writing:  # every one of them changes its row
        old: Any = existing.get(change.key)  # a Row, or None
        new: tuple[Any, ...]
        alive = old is not None and not old.deleted
        if simulated and old is not None and old.source is not ValueSource.simulated:
            result.kept_reported += 1
            continue
        # KEEP keeps the comment of a live value; a deleted value's comment went with it
        new_comment = (old.comment if alive else None) if change.comment is KEEP else change.comment
        if change.delete:
            action = AuditAction.delete
            new = (None, None, None, None)
            updates.append({"id": old.id, "deleted": True, "recorded_by": writer.actor, "recorded_at": now})
            result.deleted += 1
        else:
            new = (_float(change.value), _float(change.numerator), _float(change.denominator), new_comment)
            action = AuditAction.update if alive else AuditAction.create
            if old is None:
                inserts.append(
                    (change.indicator_id, change.division_id, change.period, int(change.period[:4]), *new)
                )
                result.inserted += 1
            else:
                updates.append(
                    {
                        "id": old.id,
                        "value": new[0],
                        "numerator": new[1],
                        "denominator": new[2],
                        "comment": new[3],
                        "deleted": False,
                        "source": writer.source,
                        "status": status,
                        "recorded_by": writer.actor,
                        "recorded_at": now,
                    }
                )
                if alive:
                    result.updated += 1
                else:  # a deleted value given again
                    result.inserted += 1
        was: tuple[Any, ...] = (
            (old.value, old.numerator, old.denominator, old.comment) if alive else (None,) * 4
        )
        audits.append(
            (
                action.value,
                change.indicator_id,
                change.division_id,
                change.period,
                change.indicator_code,
                change.division_code,
                *was,
                *new,
                change.key in forced,
            )
        )
    result.forced = sum(1 for a in audits if a[_FORCED])
    if dry_run:
        return result
    if inserts:
        _insert_many(
            session,
            _VALUES,
            _INSERTED,
            inserts,
            constants={
                "deleted": False,
                "source": writer.source,
                "status": status,
                "recorded_by": writer.actor,
                "recorded_at": now,
            },
        )
    if updates:
        _bulk_update(session, updates)
    import_id = open_import() if open_import is not None and audits else writer.import_id
    if audits:
        # the same for every row, as the hash covers it (audit_content) and as it is stored
        covered = {
            "at": now.isoformat(),
            "source": writer.source.value,
            "actor": writer.actor,
            "channel": writer.channel.value,
            "import_id": import_id,
            "request_id": writer.request_id,
        }
        shared = tuple(covered.values())
        texts = list(canonical_rows((*_AUDITED, *covered), (audit + shared for audit in audits)))
        links = advance_many(session, CHAIN, texts)
        del texts
        _insert_many(
            session,
            _AUDIT,
            (*_AUDITED, "prev_hash", "hash"),
            [audit + link for audit, link in zip(audits, links, strict=True)],
            constants={**covered, "at": now},
        )
    session.flush()
    return result


_VALUES = cast(Table, DataValue.__table__)
_AUDIT = cast(Table, DataValueAudit.__table__)
_INSERTED = (
    "indicator_id",
    "division_id",
    "period",
    "year",
    "value",
    "numerator",
    "denominator",
    "comment",
)
"""Columns of a new data_values row that differ between rows (the others are the writer's)."""

_AUDITED = (
    "action",
    "indicator_id",
    "division_id",
    "period",
    "indicator_code",
    "division_code",
    "old_value",
    "old_numerator",
    "old_denominator",
    "old_comment",
    "new_value",
    "new_numerator",
    "new_denominator",
    "new_comment",
    "forced",
)
"""Columns of an audit row that differ between rows (the others are the writer's)."""
_FORCED = _AUDITED.index("forced")


def _insert_many(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, Any],
) -> None:
    """INSERT ``rows`` (values of ``columns``, in order), each with ``constants``, at the driver's
    speed: PostgreSQL (psycopg) by COPY, SQLite by one prepared statement run for every row.

    The values go through the columns' own bind processors, as in a Core insert (enums to their
    values, datetimes to SQLite's text, enum and boolean checks), column by column.
    """
    connection = session.connection()
    dialect = connection.dialect
    names = [*columns, *constants]
    copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
    if not copy and dialect.paramstyle != "qmark":  # another driver: a plain Core insert
        connection.execute(
            insert(table), [dict(zip(names, (*row, *constants.values()), strict=True)) for row in rows]
        )
        return

    def processor(name: str) -> Any:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    fixed = tuple(
        value if (process := processor(name)) is None else process(value) for name, value in constants.items()
    )
    processors = [processor(name) for name in columns]
    params: Iterable[tuple[Any, ...]]
    if any(processors):
        by_column = [
            values if process is None else tuple(map(process, values))
            for process, values in zip(processors, zip(*rows, strict=True), strict=True)
        ]
        params = [row + fixed for row in zip(*by_column, strict=True)]
    else:
        params = [row + fixed for row in rows]
    preparer = dialect.identifier_preparer
    listed = ", ".join(preparer.quote(name) for name in names)
    if copy:
        _copy(connection, f"COPY {preparer.format_table(table)} ({listed}) FROM STDIN", params)
    else:
        marks = ", ".join("?" * len(names))
        connection.exec_driver_sql(
            f"INSERT INTO {preparer.format_table(table)} ({listed}) VALUES ({marks})",  # noqa: S608 - our table's quoted names; values bound
            params,
        )


def _copy(connection: Connection, statement: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """Run a ``COPY … FROM STDIN`` on psycopg with ``rows``; driver errors raised as SQLAlchemy's."""
    dbapi = connection.dialect.loaded_dbapi
    driver: Any = connection.connection.driver_connection  # a psycopg.Connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


def _bulk_update(session: Session, updates: list[dict[str, Any]]) -> None:
    """Bulk UPDATE by primary key, grouped by the set of columns each row sets."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in updates:
        groups[tuple(sorted(row))].append(row)
    for rows in groups.values():
        session.execute(update(DataValue), rows)
