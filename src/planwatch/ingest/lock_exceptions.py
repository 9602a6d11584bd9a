"""Lock exceptions (补录例外): reopen exactly one closed cell for late or corrected data [LCK-1].

Only someone who approves data (``data.approve``) with the cell's division in their capture scope
may grant one; the grant and the revocation go to the security log, and every value written
through an exception is audited with ``forced = true``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.audit.security_log import record
from planwatch.clock import as_utc
from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.ingest.periods import normalise_period
from planwatch.ingest.service import resolve_key
from planwatch.models import LockException


def grant(
    session: Session,
    indicator: str,
    division: str,
    period: str,
    *,
    reason: str,
    principal: Principal,
    now: datetime,
    days: int | None = 30,
) -> LockException:
    """Reopen one cell, for ``days`` days (None: until revoked)."""
    principal.require(Operation.data_approve)
    now = as_utc(now).astimezone(UTC)  # SQLite drops the offset: store UTC, as everything else
    reason = reason.strip()
    if not reason:
        raise InvalidValueError(
            "请填写重新开放该单元格的原因（补录原因），该原因将记入日志。"
            "give the reason for reopening the cell (补录原因); it is kept in the log"
        )
    indicator_row, division_row = resolve_key(session, indicator, division)
    if division_row.id not in principal.capture:
        raise NotFoundError(
            f"区划代码 {division!r} 不存在或不在您的权限范围内，请检查代码。"
            f"no division with code {division!r} (不存在或不在您的权限范围内)"
        )
    period = normalise_period(period, indicator_row.frequency)
    exception = LockException(
        indicator_id=indicator_row.id,
        division_id=division_row.id,
        period=period,
        reason=reason[:2000],
        granted_by=principal.username,
        granted_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    session.add(exception)
    session.flush()
    record(
        session,
        principal.actor,
        "data.lock_exception.grant",
        now=now,
        object_type="lock_exception",
        object_id=exception.id,
        detail={
            "indicator": indicator,
            "division": division,
            "period": period,
            "reason": reason[:500],
            "days": days,
        },
    )
    return exception


def revoke(session: Session, exception_id: int, *, principal: Principal, now: datetime) -> LockException:
    principal.require(Operation.data_approve)
    exception = session.get(LockException, exception_id)
    if (
        exception is None
        or exception.revoked_at is not None
        or exception.division_id not in principal.capture
    ):
        raise NotFoundError(f"补录例外 {exception_id} 不存在或已撤销。no open lock exception {exception_id}")
    exception.revoked_at = as_utc(now).astimezone(UTC)
    record(
        session,
        principal.actor,
        "data.lock_exception.revoke",
        now=now,
        object_type="lock_exception",
        object_id=exception.id,
    )
    return exception


def active(session: Session, *, now: datetime) -> list[LockException]:
    rows = session.scalars(
        select(LockException).where(LockException.revoked_at.is_(None)).order_by(LockException.id.desc())
    )
    return [r for r in rows if r.expires_at is None or as_utc(r.expires_at) > as_utc(now)]
