"""Reported, computed and simulated values of indicators per division and period, their audit
trail, the imports that wrote them, approvals, lock exceptions and validation rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from planwatch.models.base import Base, str_enum, utcnow
from planwatch.models.division import Division
from planwatch.models.enums import (
    ApprovalState,
    ApprovalUnitKind,
    AuditAction,
    Channel,
    Importance,
    ImportStatus,
    ValueSource,
    ValueStatus,
)
from planwatch.models.indicator import Indicator
from planwatch.models.plan import Department


class DataValue(Base):
    """The current value of one key (indicator, division, period). Deleting sets ``deleted``; the
    row stays, and every change is in ``data_value_audit``."""

    __tablename__ = "data_values"
    __table_args__ = (
        UniqueConstraint("indicator_id", "division_id", "period"),
        Index("ix_data_values_indicator_year", "indicator_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="RESTRICT"))
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(16))
    """``2023``, ``2023Q2`` or ``2023-05``."""
    year: Mapped[int]
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    deleted: Mapped[bool] = mapped_column(default=False)
    source: Mapped[ValueSource] = mapped_column(str_enum(ValueSource, "value_source"))
    status: Mapped[ValueStatus] = mapped_column(str_enum(ValueStatus, "value_status"))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    indicator: Mapped[Indicator] = relationship()
    division: Mapped[Division] = relationship()


class DataValueAudit(Base):
    """One create, update or delete of a data value, written in the same transaction as the change.

    Append-only (triggers refuse UPDATE and DELETE, migration 0003) and hash-chained on the
    ``data`` chain (``audit.chain``). Codes are copied so a row reads on its own.
    """

    __tablename__ = "data_value_audit"
    __table_args__ = (
        Index("ix_data_value_audit_key", "indicator_id", "division_id", "period"),
        Index("ix_data_value_audit_import", "import_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    action: Mapped[AuditAction] = mapped_column(str_enum(AuditAction, "audit_action"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="RESTRICT"))
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(16))
    indicator_code: Mapped[str] = mapped_column(String(64))
    division_code: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[float | None] = mapped_column(Float)
    old_numerator: Mapped[float | None] = mapped_column(Float)
    old_denominator: Mapped[float | None] = mapped_column(Float)
    old_comment: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[float | None] = mapped_column(Float)
    new_numerator: Mapped[float | None] = mapped_column(Float)
    new_denominator: Mapped[float | None] = mapped_column(Float)
    new_comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[ValueSource] = mapped_column(str_enum(ValueSource, "audit_value_source"))
    actor: Mapped[str] = mapped_column(String(150))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "audit_channel"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="RESTRICT"))
    forced: Mapped[bool] = mapped_column(default=False)
    """Written into a closed period under a lock exception."""
    request_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    """Not indexed: the chain is checked in id order, and a unique index on random hashes would
    cost a third of every import's write time."""


class ImportFile(Base):
    """The bytes of an uploaded file, kept once per content hash (the annotated report is built
    from them, and auditors can see exactly what was sent)."""

    __tablename__ = "import_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))


class Import(Base):
    """One attempt to import a file: who, what, the outcome and the report."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(150))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "import_channel"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("import_files.sha256", ondelete="RESTRICT"))
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus, "import_status"))
    rows: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    warnings: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict[str, object]] = deferred(mapped_column(JSON))
    """Notices and problems (capped), as the JSON report shows them."""

    file: Mapped[ImportFile] = relationship()


class Approval(Base):
    """Where one unit's data for one year stands: a district (or any division at an approval
    level) or a department. No row means ``draft``."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("unit_key", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_kind: Mapped[ApprovalUnitKind] = mapped_column(str_enum(ApprovalUnitKind, "approval_unit_kind"))
    unit_key: Mapped[str] = mapped_column(String(80))
    """``division:<code>`` or ``department:<code>``."""
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    year: Mapped[int]
    state: Mapped[ApprovalState] = mapped_column(str_enum(ApprovalState, "approval_state"))
    changed_by: Mapped[str] = mapped_column(String(150))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    division: Mapped[Division | None] = relationship()
    department: Mapped[Department | None] = relationship()


class LockException(Base):
    """Reopens one cell (indicator, division, period) after its entry period closed."""

    __tablename__ = "lock_exceptions"
    __table_args__ = (Index("ix_lock_exceptions_key", "indicator_id", "division_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="RESTRICT"))
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(150))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    indicator: Mapped[Indicator] = relationship()
    division: Mapped[Division] = relationship()


class ValidationRule(Base):
    """A DHIS2-style rule: left expression, operator, right expression, checked per division and
    period at the levels listed. Loaded from the plan catalogue (``validation_rules``)."""

    __tablename__ = "validation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    """The catalogue that defines the rule; reloading it without the rule removes it."""
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    left: Mapped[str] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(String(32))
    right: Mapped[str] = mapped_column(Text)
    importance: Mapped[Importance] = mapped_column(str_enum(Importance, "rule_importance"))
    missing: Mapped[str] = mapped_column(String(32), default="skip_if_any_missing")
    levels: Mapped[list[str]] = mapped_column(JSON)
    instruction: Mapped[str | None] = mapped_column(Text)
    """What the reporter should check when the rule fails."""
