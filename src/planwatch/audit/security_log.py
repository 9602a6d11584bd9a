"""The security audit log [LOG-1..3]: who did what, from where, with what result.

Every event has the UTC time, actor, role, source IP, action, object, result and request id. Rows
are hash-chained (``audit.chain``); the database refuses UPDATE and early DELETE (migration 0002).
Only the audit administrator reads it; the purge never removes rows younger than the retention,
which may not be set under 184 days.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from planwatch.audit.chain import GENESIS, advance, head, link
from planwatch.clock import as_utc
from planwatch.errors import InvalidValueError
from planwatch.models import AuditChainHead, SecurityEvent

CHAIN = "security"
RETENTION_FLOOR_DAYS = 184


@dataclass(frozen=True)
class Actor:
    """Who acts, as recorded: a user name (or 'anonymous'), their roles, address and request."""

    name: str = "anonymous"
    roles: str = ""
    source_ip: str = "-"
    request_id: str = "-"


SYSTEM = Actor(name="system", roles="system", source_ip="local", request_id="cli")


def _unsafe(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "C" or category in {"Zl", "Zp"}


def _clean(value: str) -> str:
    """One event is one line wherever it is printed: control, format (bidi) and line-separator
    characters are escaped (U+2028 becomes the six characters \\u2028); Chinese and other printable
    text is kept."""
    if not any(_unsafe(c) for c in value):
        return value
    return "".join(c.encode("unicode_escape").decode("ascii") if _unsafe(c) else c for c in value)


def _clean_detail(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_clean(str(k)): _clean_detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_detail(v) for v in value]
    return value


def _content(event: SecurityEvent) -> dict[str, Any]:
    return {
        "at": as_utc(event.at).astimezone(UTC).isoformat(),
        "actor": event.actor,
        "actor_role": event.actor_role,
        "source_ip": event.source_ip,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "result": event.result,
        "request_id": event.request_id,
        "detail": event.detail,
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    now: datetime,
    object_type: str = "-",
    object_id: str | int = "-",
    result: str = "success",
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the act)."""
    event = SecurityEvent(
        at=as_utc(now).astimezone(UTC),
        actor=_clean(actor.name)[:150],
        actor_role=_clean(actor.roles)[:200] or "-",
        source_ip=_clean(actor.source_ip)[:64],
        action=action,
        object_type=object_type,
        object_id=_clean(str(object_id))[:200],
        result=result,
        request_id=_clean(actor.request_id)[:64],
        detail=_clean_detail(detail or {}),
        prev_hash="",
        hash="",
    )
    event.prev_hash, event.hash = advance(session, CHAIN, _content(event))
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Verification:
    checked: int
    broken_at: int | None
    """Id of the first row whose hash does not follow, or None when the chain is intact."""
    message: str


def verify(session: Session) -> Verification:
    """Recompute the chain. The oldest kept row must start the chain or be the anchor a purge
    recorded; every row must follow the one before; the newest must be the chain's head; and the
    rows kept plus the rows purged must be every row ever appended."""
    purges = [
        e.detail for e in session.scalars(select(SecurityEvent).where(SecurityEvent.action == "log.purge"))
    ]
    anchors = {GENESIS} | {str(p["anchor"]) for p in purges if p.get("anchor")}
    purged = sum(int(p.get("deleted", 0)) for p in purges)  # type: ignore[call-overload]
    prev: str | None = None
    checked = 0
    for event in session.scalars(select(SecurityEvent).order_by(SecurityEvent.id)).yield_per(1000):
        if prev is None and event.prev_hash not in anchors:
            return Verification(
                checked, event.id, f"row {event.id}: the oldest rows were removed outside a purge"
            )
        if prev is not None and event.prev_hash != prev:
            return Verification(checked, event.id, f"row {event.id}: prev_hash does not match row before it")
        if link(event.prev_hash, _content(event)) != event.hash:
            return Verification(
                checked, event.id, f"row {event.id}: content does not match its hash (changed)"
            )
        prev = event.hash
        checked += 1
    latest = head(session, CHAIN)
    if (prev or GENESIS) != latest:
        return Verification(checked, -1, "the newest rows are missing: the last row is not the chain's head")
    appended = session.scalar(select(AuditChainHead.count).where(AuditChainHead.chain == CHAIN)) or 0
    if checked + purged != appended:
        return Verification(
            checked,
            -1,
            f"{appended} rows were appended, {checked} are here and {purged} were purged: rows are missing",
        )
    return Verification(checked, None, f"{checked} events, chain intact")


def purge(session: Session, *, retention_days: int, now: datetime, actor: Actor = SYSTEM) -> int:
    """Delete events older than ``retention_days`` (never under 184) and record that it happened."""
    if retention_days < RETENTION_FLOOR_DAYS:
        msg = f"log retention must be at least {RETENTION_FLOOR_DAYS} days (网络安全法), got {retention_days}"
        raise InvalidValueError(msg)
    cutoff = as_utc(now) - timedelta(days=retention_days)
    # Only a prefix of the chain goes, so the rest stays one unbroken chain anchored on its first
    # row; an old row after a younger one (a clock step back) is kept rather than cut out.
    first_kept = session.scalar(select(func.min(SecurityEvent.id)).where(SecurityEvent.at >= cutoff))
    doomed = select(SecurityEvent.id).where(SecurityEvent.at < cutoff)
    if first_kept is not None:
        doomed = doomed.where(SecurityEvent.id < first_kept)
    count = session.scalar(select(func.count()).select_from(doomed.subquery())) or 0
    if count:
        session.execute(delete(SecurityEvent).where(SecurityEvent.id.in_(doomed)))
    # the oldest row left (or, if none is, the purge event itself) continues from this hash
    anchor = session.scalar(select(SecurityEvent.prev_hash).order_by(SecurityEvent.id).limit(1)) or head(
        session, CHAIN
    )
    record(
        session,
        actor,
        "log.purge",
        now=now,
        object_type="security_events",
        detail={
            "deleted": count,
            "cutoff": cutoff.isoformat(),
            "retention_days": retention_days,
            "anchor": anchor,
        },
    )
    return int(count)


def events(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[SecurityEvent]:
    query = select(SecurityEvent).order_by(SecurityEvent.id.desc())
    if action:
        query = query.where(SecurityEvent.action == action)
    if actor:
        query = query.where(SecurityEvent.actor == actor)
    if since:
        query = query.where(SecurityEvent.at >= since)
    return list(session.scalars(query.limit(limit).offset(offset)))
