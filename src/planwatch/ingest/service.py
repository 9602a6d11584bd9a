"""Use cases of data collection: import a file, read and write single values, a value's history,
and verifying the data audit chain. Web routes and CLI commands call these and nothing below."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.audit.chain import GENESIS, canonical_rows, head, link_text, lock
from planwatch.audit.security_log import record
from planwatch.clock import as_utc
from planwatch.config import Settings
from planwatch.divisions.service import division_tree
from planwatch.errors import ImportFileError, NotFoundError
from planwatch.ingest.periods import normalise_period
from planwatch.ingest.quality import warnings_for
from planwatch.ingest.readers import RawRow, Table, read_table
from planwatch.ingest.report import CellProblem
from planwatch.ingest.validate import Catalogue, Validated, validate_table
from planwatch.ingest.writer import CHAIN, CellsLockedError, ValueChange, Writer, write_values
from planwatch.models import (
    AuditChainHead,
    DataValue,
    DataValueAudit,
    Division,
    Import,
    ImportFile,
    Indicator,
)
from planwatch.models.enums import Channel, ImportStatus

MAX_REPORTED_PROBLEMS = 10_000
STORED_KEYS = ("errors", "errors_total", "warnings", "warnings_total", "notices", "blank", "forced")
"""What an import record keeps of its report (the counts have columns of their own)."""
"""Problems kept in a stored or returned report (the counts are always complete)."""


@dataclass
class ImportReport:
    file: str
    status: ImportStatus
    dry_run: bool
    import_id: int | None = None
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    blank: int = 0
    forced: int = 0
    errors: list[CellProblem] = field(default_factory=list)
    warnings: list[CellProblem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    table: Table | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def problem_json(self, problem: CellProblem) -> dict[str, Any]:
        column = problem.field
        if column is not None and self.table is not None and self.table.index(column) is not None:
            column = self.table.headers[self.table.index(column) or 0]
        return {
            "row": problem.row or None,
            "column": column,
            "value": problem.value,
            "message": problem.message,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "file": self.file,
            "status": self.status.value,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "blank": self.blank,
            "forced": self.forced,
            "errors": [self.problem_json(p) for p in self.errors[:MAX_REPORTED_PROBLEMS]],
            "errors_total": len(self.errors),
            "warnings": [self.problem_json(p) for p in self.warnings[:MAX_REPORTED_PROBLEMS]],
            "warnings_total": len(self.warnings),
            "notices": self.notices,
        }


def _store_file(session: Session, data: bytes, digest: str) -> None:
    if session.get(ImportFile, digest) is None:
        session.add(ImportFile(sha256=digest, size=len(data), content=data))
        session.flush()


def _locked_problems(exc: CellsLockedError) -> list[CellProblem]:
    return [
        CellProblem(change.row or 0, "period", change.period, closed.message) for change, closed in exc.closed
    ]


def import_file(
    session: Session,
    data: bytes,
    filename: str,
    *,
    principal: Principal,
    channel: Channel,
    settings: Settings,
    now: datetime,
    dry_run: bool = False,
    on_phase: Callable[[str], None] | None = None,
) -> ImportReport:
    """Validate every row of the file, then write all of it or nothing.

    Never raises for bad content: the report carries the problems (whole-file problems as row 0).
    An import that changes values is recorded with its file; a rejected one is recorded too (who
    sent what, and why) but writes no value. A dry run, and a re-import of the same content, write
    nothing at all (no value, no audit row, no import record).
    """
    principal.require(Operation.data_write)
    digest = hashlib.sha256(data).hexdigest()
    report = ImportReport(file=filename, status=ImportStatus.rejected, dry_run=dry_run)
    validated = Validated()
    try:
        table = read_table(
            data,
            filename,
            max_rows=settings.import_max_rows,
            max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
        )
    except ImportFileError as exc:
        report.errors.append(CellProblem(0, None, "", exc.detail))
    else:
        report.table = table
        report.rows = len(table.rows)
        if on_phase:
            on_phase(f"validating {len(table.rows):,} rows…")
        report.notices = list(table.notices)
        validated = validate_table(table, Catalogue.load(session), principal=principal)
        report.blank = validated.blank
        report.errors = validated.errors
        if not report.errors:
            report.warnings = warnings_for(session, validated.changes, threshold=settings.outlier_threshold)
    if not report.errors:
        if on_phase:
            on_phase(f"{'checking' if dry_run else 'writing'} {len(validated.changes):,} values…")
        opened: list[Import] = []

        def open_import() -> int:
            opened.append(
                _record_import(session, report, data, digest, principal=principal, channel=channel, now=now)
            )
            return opened[0].id

        writer = Writer(actor=principal.username, channel=channel, now=now, request_id=principal.request_id)
        try:
            result = write_values(
                session,
                validated.changes,
                writer,
                default_expiry_days=settings.entry_expiry_days,
                dry_run=dry_run,
                open_import=None if dry_run else open_import,
            )
        except CellsLockedError as exc:
            report.errors = _locked_problems(exc)
        else:
            report.inserted, report.updated, report.unchanged = (
                result.inserted,
                result.updated,
                result.unchanged,
            )
            report.forced = result.forced
            if dry_run:
                report.status = ImportStatus.dry_run
            elif result.changed:
                report.status = ImportStatus.applied
                _finish_import(session, opened[0], report, digest, principal=principal, now=now)
            else:
                report.status = ImportStatus.unchanged
    if report.errors and not dry_run:
        _record_rejection(session, report, data, digest, principal=principal, channel=channel, now=now)
    return report


def _record_import(
    session: Session,
    report: ImportReport,
    data: bytes,
    digest: str,
    *,
    principal: Principal,
    channel: Channel,
    now: datetime,
) -> Import:
    """The import record (and the file, once per content), written only when an import changes
    values or is rejected: a dry run or a re-import that changes nothing leaves no trace."""
    _store_file(session, data, digest)
    row = Import(
        at=as_utc(now),
        actor=principal.username,
        channel=channel,
        filename=report.file[:255],
        sha256=digest,
        status=report.status,
        rows=report.rows,
        report={},
    )
    session.add(row)
    session.flush()
    report.import_id = row.id
    return row


def _finish_import(
    session: Session, row: Import, report: ImportReport, digest: str, *, principal: Principal, now: datetime
) -> None:
    row.status = report.status
    row.inserted, row.updated, row.unchanged = report.inserted, report.updated, report.unchanged
    row.errors, row.warnings = len(report.errors), len(report.warnings)
    stored = report.to_json()
    row.report = {k: stored[k] for k in STORED_KEYS}
    record(
        session,
        principal.actor,
        "data.import",
        now=now,
        object_type="import",
        object_id=row.id,
        result="success" if report.ok else "failure",
        detail={
            "file": report.file[:255],
            "sha256": digest,
            "status": report.status.value,
            "inserted": report.inserted,
            "updated": report.updated,
            "errors": len(report.errors),
        },
    )


def _record_rejection(
    session: Session,
    report: ImportReport,
    data: bytes,
    digest: str,
    *,
    principal: Principal,
    channel: Channel,
    now: datetime,
) -> None:
    """A rejected import is kept (who sent what, and why), so its annotated report can be fetched
    and the refusal is in the security log; sending the same file again is answered from that
    record and writes nothing new."""
    report.status = ImportStatus.rejected
    lock(session, CHAIN)
    earlier = session.scalar(
        select(Import)
        .where(
            Import.sha256 == digest,
            Import.actor == principal.username,
            Import.status == ImportStatus.rejected,
            Import.errors == len(report.errors),
        )
        .order_by(Import.id.desc())
        .limit(1)
    )
    if earlier is not None and dict(earlier.report or {}).get("errors") == report.to_json()["errors"]:
        report.import_id = earlier.id
        return
    row = _record_import(session, report, data, digest, principal=principal, channel=channel, now=now)
    _finish_import(session, row, report, digest, principal=principal, now=now)


def get_import(session: Session, import_id: int, *, principal: Principal) -> Import:
    """An import record: its sender, or a planner over the whole city, may read it (a file may hold
    any division's values, so a district's planner reads only their own imports)."""
    row = session.get(Import, import_id)
    root = division_tree(session).root
    everywhere = principal.can(Operation.data_approve) and root is not None and root.id in principal.view
    if row is None or not (row.actor == principal.username or everywhere):
        raise NotFoundError(
            f"导入记录 {import_id} 不存在或不在您的权限范围内。no import {import_id} (不存在或不在您的权限范围内)"
        )
    return row


_SEVERITIES: tuple[tuple[str, Literal["error", "warning"]], ...] = (
    ("errors", "error"),
    ("warnings", "warning"),
)


def stored_report(row: Import) -> dict[str, Any]:
    """An import's report as ``ImportReport.to_json`` gave it when it ran."""
    kept = dict(row.report or {})
    return {
        "import_id": row.id,
        "file": row.filename,
        "status": row.status.value,
        "dry_run": row.status is ImportStatus.dry_run,
        "rows": row.rows,
        "inserted": row.inserted,
        "updated": row.updated,
        "unchanged": row.unchanged,
        "blank": kept.get("blank", 0),
        "forced": kept.get("forced", 0),
        "errors": kept.get("errors", []),
        "errors_total": kept.get("errors_total", row.errors),
        "warnings": kept.get("warnings", []),
        "warnings_total": kept.get("warnings_total", row.warnings),
        "notices": kept.get("notices", []),
    }


def list_values(
    session: Session,
    *,
    principal: Principal,
    indicator: str | None = None,
    division: str | None = None,
    year: int | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[DataValue]:
    """Current values in the principal's view scope, in key order."""
    query = (
        select(DataValue)
        .join(Indicator, Indicator.id == DataValue.indicator_id)
        .join(Division, Division.id == DataValue.division_id)
        .where(DataValue.deleted.is_(False), DataValue.division_id.in_(principal.view))
        .options(contains_eager(DataValue.indicator), contains_eager(DataValue.division))
        .order_by(Indicator.code, Division.code, DataValue.period)
    )
    if indicator:
        query = query.where(Indicator.code == indicator)
    if division:
        query = query.where(Division.code == division)
    if year is not None:
        query = query.where(DataValue.year == year)
    return list(session.scalars(query.limit(limit).offset(offset)))


def import_problems(row: Import) -> tuple[Table | None, list[CellProblem]]:
    """Re-read the stored file of an import and its problems, for the annotated report."""
    try:
        table = read_table(row.file.content, row.filename)
    except ImportFileError:
        table = None
    report: dict[str, Any] = dict(row.report or {})
    problems = [
        CellProblem(p["row"] or 0, _field_of(table, p["column"]), p["value"] or "", p["message"], severity)
        for key, severity in _SEVERITIES
        for p in report.get(key, [])
    ]
    return table, problems


def _field_of(table: Table | None, column: str | None) -> str | None:
    if table is None or column is None:
        return column
    return table.fields[table.headers.index(column)] if column in table.headers else column


# —— single values ————————————————————————————————————————————————————————————————


def resolve_key(session: Session, indicator: str, division: str) -> tuple[Indicator, Division]:
    indicator_row = session.scalar(select(Indicator).where(Indicator.code == indicator))
    if indicator_row is None:
        raise NotFoundError(
            f"不存在代码为 {indicator!r} 的指标，请检查指标代码。no indicator with code {indicator!r}"
        )
    division_row = session.scalar(
        select(Division).where(Division.code == division, Division.valid_to.is_(None))
    )
    if division_row is None:
        raise NotFoundError(
            f"不存在代码为 {division!r} 的区划，请检查区划代码。no division with code {division!r}"
        )
    return indicator_row, division_row


def get_value(
    session: Session, indicator: str, division: str, period: str, *, principal: Principal
) -> DataValue:
    indicator_row, division_row = resolve_key(session, indicator, division)
    if not principal.can_view(division_row.id):
        raise NotFoundError("该数值不存在或不在您的权限范围内。no such value (不存在或不在您的权限范围内)")
    period = normalise_period(
        period, indicator_row.frequency
    )  # the spellings a write accepts (2025年, 2025-Q2, …)
    row = session.scalar(
        select(DataValue).where(
            DataValue.indicator_id == indicator_row.id,
            DataValue.division_id == division_row.id,
            DataValue.period == period,
            DataValue.deleted.is_(False),
        )
    )
    if row is None:
        raise NotFoundError(
            f"{division} {period} 没有 {indicator} 的数值，请检查代码和期间。"
            f"no value of {indicator} for {division} in {period}"
        )
    return row


def rows_from_items(items: list[dict[str, Any]]) -> Table:
    """JSON items as a table, so the API's writes are validated exactly like a file's rows.
    Row numbers are the items' positions, from 1."""
    fields = ("indicator", "division", "period", "value", "numerator", "denominator", "comment")
    present = tuple(
        f for f in fields if f in {"indicator", "division", "period", "value"} or any(f in i for i in items)
    )
    return Table(
        file="request",
        kind="csv",
        encoding=None,
        sheet=None,
        headers=present,
        fields=present,
        rows=[RawRow(n, tuple(item.get(f) for f in present)) for n, item in enumerate(items, start=1)],
        notices=[],
    )


NO_VALUE = (
    "未填写数值：请填写数值，或同时填写分子和分母；如需删除数值，请使用删除功能。"
    "no value given (未填写数值): give the value, or the numerator and denominator; to remove a value, "
    "delete it"
)


def write_items(
    session: Session,
    items: list[dict[str, Any]],
    *,
    principal: Principal,
    channel: Channel,
    settings: Settings,
    now: datetime,
) -> ImportReport:
    """Validate and write JSON items (PUT of one value, a batch POST, a page form), all or none;
    the report carries the problems when any item is wrong (and then nothing is written)."""
    principal.require(Operation.data_write)
    table = rows_from_items(items)
    report = ImportReport(
        file="request", status=ImportStatus.rejected, dry_run=False, table=table, rows=len(items)
    )
    validated = validate_table(table, Catalogue.load(session), principal=principal)
    report.blank = validated.blank
    # A file's blank rows are unfilled template rows; an item without any number is a mistake
    # (a PUT of only a comment would otherwise answer 200 and change nothing).
    blank = [
        CellProblem(n, "value", "", NO_VALUE)
        for n, item in enumerate(items, start=1)
        if all(item.get(f) in (None, "") for f in ("value", "numerator", "denominator"))
    ]
    report.errors = sorted([*validated.errors, *blank], key=lambda p: p.row)
    changes = validated.changes
    if not report.errors:
        writer = Writer(actor=principal.username, channel=channel, now=now, request_id=principal.request_id)
        result = write_values(session, changes, writer, default_expiry_days=settings.entry_expiry_days)
        report.inserted, report.updated, report.unchanged = result.inserted, result.updated, result.unchanged
        report.forced = result.forced
        report.status = ImportStatus.applied if result.changed else ImportStatus.unchanged
    return report


def delete_value(
    session: Session,
    indicator: str,
    division: str,
    period: str,
    *,
    principal: Principal,
    channel: Channel,
    settings: Settings,
    now: datetime,
) -> None:
    """Softly delete one value (it stays in the audit trail and in the row, marked deleted)."""
    principal.require(Operation.data_write)
    indicator_row, division_row = resolve_key(session, indicator, division)
    if not principal.may_report(division_row.id, indicator_row.source_department_id):
        raise NotFoundError("该数值不存在或不在您的权限范围内。no such value (不存在或不在您的权限范围内)")
    period = normalise_period(period, indicator_row.frequency)
    change = ValueChange(
        indicator_row.id, indicator_row.code, division_row.id, division_row.code, period, delete=True
    )
    writer = Writer(actor=principal.username, channel=channel, now=now, request_id=principal.request_id)
    result = write_values(session, [change], writer, default_expiry_days=settings.entry_expiry_days)
    if result.deleted == 0:
        raise NotFoundError(
            f"{division} {period} 没有 {indicator} 的数值，请检查代码和期间。"
            f"no value of {indicator} for {division} in {period}"
        )


# —— history and verification ————————————————————————————————————————————————————


def history(
    session: Session,
    *,
    indicator: str | None = None,
    division: str | None = None,
    period: str | None = None,
    import_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[DataValueAudit]:
    """Audit rows, newest first, filtered by key parts or import."""
    query = select(DataValueAudit).order_by(DataValueAudit.id.desc())
    if indicator:
        query = query.where(DataValueAudit.indicator_code == indicator)
    if division:
        query = query.where(DataValueAudit.division_code == division)
    if period:
        query = query.where(DataValueAudit.period == period)
    if import_id is not None:
        query = query.where(DataValueAudit.import_id == import_id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def value_history(
    session: Session, indicator: str, division: str, period: str | None, *, principal: Principal
) -> list[DataValueAudit]:
    """Every change of one value (or of all periods of an indicator in a division), newest first,
    for a reader whose view scope holds the division; others get 404 as if it did not exist."""
    indicator_row, division_row = resolve_key(session, indicator, division)
    if not principal.can_view(division_row.id):
        raise NotFoundError("该数值不存在或不在您的权限范围内。no such value (不存在或不在您的权限范围内)")
    if period:
        period = normalise_period(period, indicator_row.frequency)
    return history(session, indicator=indicator, division=division, period=period or None)


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    broken_at: int | None
    message: str


_COVERED = (
    "at", "action", "indicator_id", "division_id", "period", "indicator_code", "division_code",
    "old_value", "old_numerator", "old_denominator", "old_comment",
    "new_value", "new_numerator", "new_denominator", "new_comment",
    "source", "actor", "channel", "import_id", "forced", "request_id",
)  # fmt: skip
"""What each audit row's hash covers (``writer.audit_content``), in a fixed order."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).astimezone(UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def verify_data_audit(session: Session) -> ChainCheck:
    """Recompute the data audit chain: every row must follow the one before, the last must be the
    chain's head, and the number of rows must match the number ever appended.

    Reads plain columns in id order and builds each row's canonical text without an object or a
    dict per row (``chain.canonical_rows``, the same text as ``writer.audit_content``)."""
    table = DataValueAudit.__table__
    columns = [table.c[name] for name in _COVERED]
    query = select(table.c.id, table.c.prev_hash, table.c.hash, *columns).order_by(table.c.id)
    prev = GENESIS
    checked = 0
    result = session.execute(query.execution_options(yield_per=10_000))
    try:
        broken = None
        for batch in result.partitions():
            texts = canonical_rows(_COVERED, ([_plain(v) for v in row[3:]] for row in batch))
            for row, text in zip(batch, texts, strict=True):
                audit_id, prev_hash, stored = row[0], row[1], row[2]
                if prev_hash != prev:
                    broken = (
                        audit_id,
                        "prev_hash does not match the row before it (rows removed or inserted)",
                    )
                elif link_text(prev_hash, text) != stored:
                    broken = (audit_id, "content does not match its hash (changed)")
                if broken is not None:
                    return ChainCheck(checked, broken[0], f"row {broken[0]}: {broken[1]}")
                prev = stored
                checked += 1
    finally:
        result.close()  # a server-side cursor on PostgreSQL: closed also when stopping early
    if prev != head(session, CHAIN):
        return ChainCheck(checked, -1, "the newest rows are missing: the last row is not the chain's head")
    appended = session.scalar(select(AuditChainHead.count).where(AuditChainHead.chain == CHAIN)) or 0
    if appended != checked:
        return ChainCheck(
            checked, -1, f"{appended} rows were appended but {checked} are here: rows are missing"
        )
    return ChainCheck(checked, None, f"{checked} data audit rows, chain intact")
