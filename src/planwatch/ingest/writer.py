"""The one write path of data values: every create, update and delete goes through
``write_values``, which checks locks and writes the audit rows in the same transaction [AUD-1].

There is no parameter that turns the audit off [LCK-3]. A write that changes nothing writes no
audit row, so importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from planwatch.audit.chain import advance_many, lock
from planwatch.clock import as_utc
from planwatch.errors import InvalidValueError, LockedError
from planwatch.ingest.locks import Cell, Closed, closed_cells
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
        super().__init__(f"{where}: {first.message}{more}; nothing was written", code=first.code)


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
    return None if value is None else float(value)


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
) -> WriteResult:
    """Apply ``changes`` (one per key) with their audit rows, or raise and write nothing.

    Takes the data lock first, so concurrent writers serialise and the lock check below sees
    every approval committed before it. Raises ``CellsLockedError`` when any key it would change is
    closed (approved, submitted, past its entry deadline); simulated demo values are the one source that
    is not subject to the reporting calendar, and they never overwrite reported values. With
    ``dry_run`` everything is checked and counted but nothing is written.
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
    if not simulated:
        # a key given with the value it already has is no write: a pre-filled template whose other
        # rows are closed (approved, past the deadline) still goes through for the rows it changes
        writing = [c for c in changes if not _unchanged(c, existing.get(c.key), writer)]
        verdicts = closed_cells(
            session,
            (Cell(*c.key) for c in writing),
            now=now,
            default_expiry_days=default_expiry_days,
        )
        blocked = []
        for change in writing:
            verdict = verdicts[Cell(*change.key)]
            if verdict.closed is not None:
                blocked.append((change, verdict.closed))
            elif verdict.forced:
                forced.add(change.key)
        if blocked:
            raise CellsLockedError(blocked)
    status = ValueStatus.approved if simulated else ValueStatus.draft
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    for change in changes:
        old: Any = existing.get(change.key)  # a Row, or None
        new: tuple[Any, ...]
        alive = old is not None and not old.deleted
        if simulated and old is not None and old.source is not ValueSource.simulated:
            result.kept_reported += 1
            continue
        # KEEP keeps the comment of a live value; a deleted value's comment went with it
        new_comment = (old.comment if alive else None) if change.comment is KEEP else change.comment
        if change.delete:
            if not alive:
                result.unchanged += 1
                continue
            action = AuditAction.delete
            new = (None, None, None, None)
            updates.append({"id": old.id, "deleted": True, "recorded_by": writer.actor, "recorded_at": now})
            result.deleted += 1
        else:
            new = (_float(change.value), _float(change.numerator), _float(change.denominator), new_comment)
            if (
                alive
                and (old.value, old.numerator, old.denominator, old.comment) == new
                and (old.source is writer.source)
            ):
                result.unchanged += 1
                continue
            action = AuditAction.update if alive else AuditAction.create
            values = {
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
            if old is None:
                inserts.append(
                    {
                        "indicator_id": change.indicator_id,
                        "division_id": change.division_id,
                        "period": change.period,
                        "year": int(change.period[:4]),
                        **values,
                    }
                )
                result.inserted += 1
            else:
                updates.append({"id": old.id, **values})
                if alive:
                    result.updated += 1
                else:  # a deleted value given again
                    result.inserted += 1
        was: tuple[Any, ...] = (
            (old.value, old.numerator, old.denominator, old.comment) if alive else (None,) * 4
        )
        audits.append(
            {
                "at": now,
                "action": action.value,
                "indicator_id": change.indicator_id,
                "division_id": change.division_id,
                "period": change.period,
                "indicator_code": change.indicator_code,
                "division_code": change.division_code,
                "old_value": was[0],
                "old_numerator": was[1],
                "old_denominator": was[2],
                "old_comment": was[3],
                "new_value": new[0],
                "new_numerator": new[1],
                "new_denominator": new[2],
                "new_comment": new[3],
                "source": writer.source.value,
                "actor": writer.actor,
                "channel": writer.channel.value,
                "import_id": writer.import_id,
                "forced": change.key in forced,
                "request_id": writer.request_id,
            }
        )
    result.forced = sum(1 for a in audits if a["forced"])
    if dry_run:
        return result
    if inserts:
        session.execute(insert(DataValue), inserts)
    if updates:
        _bulk_update(session, updates)
    if audits:
        links = advance_many(session, CHAIN, [_audit_content(a) for a in audits])
        for audit, (prev, new_hash) in zip(audits, links, strict=True):
            audit["prev_hash"], audit["hash"] = prev, new_hash
        session.execute(insert(DataValueAudit), audits)
    session.flush()
    return result


def _bulk_update(session: Session, updates: list[dict[str, Any]]) -> None:
    """Bulk UPDATE by primary key, grouped by the set of columns each row sets."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in updates:
        groups[tuple(sorted(row))].append(row)
    for rows in groups.values():
        session.execute(update(DataValue), rows)
