"""The security log: hash chain, append-only in the database, retention floor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from planwatch.audit import security_log
from planwatch.audit.security_log import Actor
from planwatch.db import make_engine, session_factory, transaction
from planwatch.errors import InvalidValueError
from planwatch.models import SecurityEvent

ACTOR = Actor(name="tester", roles="planner", source_ip="127.0.0.1", request_id="r1")


def now() -> datetime:
    return datetime.now(UTC)


def test_events_chain_and_verify(session: Session) -> None:
    for i in range(5):
        security_log.record(session, ACTOR, "login.success", now=now(), object_type="user", object_id=f"u{i}")
    result = security_log.verify(session)
    assert result.broken_at is None
    assert result.checked >= 5


def test_update_is_refused_by_the_database(session: Session) -> None:
    event = security_log.record(session, ACTOR, "login.failure", now=now(), result="failure")
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(
            text("UPDATE security_events SET result = 'success' WHERE id = :id"), {"id": event.id}
        )


def test_deleting_a_young_event_is_refused(session: Session) -> None:
    event = security_log.record(session, ACTOR, "logout", now=now())
    with pytest.raises(DBAPIError, match="184 days"), session.begin_nested():
        session.execute(text("DELETE FROM security_events WHERE id = :id"), {"id": event.id})


def test_a_changed_row_is_found_by_verify(session: Session, backend: str) -> None:
    events = [security_log.record(session, ACTOR, "login.success", now=now(), object_id=i) for i in range(3)]
    victim = events[1]
    _drop_guards(session, backend)
    session.execute(text("UPDATE security_events SET object_id = 'forged' WHERE id = :id"), {"id": victim.id})
    session.expire_all()
    result = security_log.verify(session)
    assert result.broken_at == victim.id


def test_purge_respects_the_retention(session: Session) -> None:
    start = now()
    ids = {
        days: security_log.record(
            session, ACTOR, "login.success", now=start - timedelta(days=days), object_id=f"age{days}"
        ).id
        for days in (186, 184, 183)  # oldest first, as a log grows
    }
    deleted = security_log.purge(session, retention_days=185, now=start)
    remaining = set(session.scalars(select(SecurityEvent.id)))
    assert ids[186] not in remaining
    assert {ids[184], ids[183]} <= remaining
    [purge_event] = security_log.events(session, action="log.purge", limit=1)
    assert purge_event.detail["deleted"] == deleted
    assert purge_event.id > max(ids.values())  # ids are never reused
    assert security_log.verify(session).broken_at is None


def test_purge_keeps_an_old_row_written_after_a_younger_one(session: Session) -> None:
    start = now()
    young = security_log.record(session, ACTOR, "login.success", now=start - timedelta(days=10)).id
    stray = security_log.record(session, ACTOR, "login.success", now=start - timedelta(days=300)).id
    security_log.purge(session, retention_days=185, now=start)
    assert {young, stray} <= set(session.scalars(select(SecurityEvent.id)))
    assert security_log.verify(session).broken_at is None


def test_retention_under_six_months_is_refused(session: Session) -> None:
    with pytest.raises(InvalidValueError, match="at least 184 days"):
        security_log.purge(session, retention_days=100, now=now())


def test_control_characters_stay_on_one_line(session: Session) -> None:
    sneaky = Actor(name="evil\nlogin.success admin", roles="-", source_ip="1.2.3.4", request_id="r")
    event = security_log.record(session, sneaky, "login.failure", now=now(), result="failure")
    assert "\n" not in event.actor
    assert "\\n" in event.actor


def test_retention_setting_floor() -> None:
    from pydantic import ValidationError

    from planwatch.config import Settings

    with pytest.raises(ValidationError):
        Settings(log_retention_days=100)


def test_deleting_the_newest_rows_is_found(session: Session, backend: str) -> None:
    events = [security_log.record(session, ACTOR, "login.success", now=now(), object_id=i) for i in range(3)]
    _drop_guards(session, backend)
    session.execute(text("DELETE FROM security_events WHERE id = :id"), {"id": events[-1].id})
    session.expire_all()
    result = security_log.verify(session)
    assert result.broken_at is not None
    assert "newest rows are missing" in result.message


def test_deleting_the_oldest_rows_outside_a_purge_is_found(session: Session, backend: str) -> None:
    for i in range(3):
        security_log.record(session, ACTOR, "login.success", now=now(), object_id=i)
    first = session.scalar(select(SecurityEvent.id).order_by(SecurityEvent.id))
    _drop_guards(session, backend)
    session.execute(text("DELETE FROM security_events WHERE id = :id"), {"id": first})
    session.expire_all()
    assert "removed outside a purge" in security_log.verify(session).message


def _drop_guards(session: Session, backend: str) -> None:
    if backend == "sqlite":
        session.execute(text("DROP TRIGGER security_events_no_update"))
        session.execute(text("DROP TRIGGER security_events_no_early_delete"))
    else:
        session.execute(text("ALTER TABLE security_events DISABLE TRIGGER security_events_guard"))


def test_emptying_the_log_is_refused(session: Session, backend: str) -> None:
    security_log.record(session, ACTOR, "logout", now=now())
    statement = "TRUNCATE security_events" if backend == "postgresql" else "DELETE FROM security_events"
    with pytest.raises(DBAPIError, match=r"cannot be truncated|cannot be deleted"), session.begin_nested():
        session.execute(text(statement))


def test_concurrent_appends_keep_one_chain(
    demo_url: str, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Eight writers appending at once (as parallel requests do) never fork the chain."""
    import threading

    from tests.conftest import build_demo_database, database_url

    url = database_url(backend, tmp_path_factory, "chain")
    build_demo_database(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with transaction(factory) as s:
                    security_log.record(
                        s, ACTOR, "access.denied", now=now(), object_id=f"{n}-{i}", result="denied"
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with factory() as s:
            result = security_log.verify(s)
        assert result.broken_at is None, result.message
        assert result.checked == 80
    finally:
        engine.dispose()


def test_bidi_and_line_separators_are_escaped(session: Session) -> None:
    sneaky = Actor(name="evil\u2028x\u202e\x9b31m", roles="-", source_ip="1.2.3.4", request_id="r")
    event = security_log.record(session, sneaky, "login.failure", now=now(), result="failure")
    assert all(ord(c) >= 32 and c not in "\u2028\u202e\x9b" for c in event.actor)


def test_every_field_is_escaped(session: Session) -> None:
    sneaky = Actor(name="x", roles="a\nb", source_ip="10.0.0.1\x9b2J", request_id="r\u2028")
    event = security_log.record(
        session, sneaky, "login.failure", now=now(), detail={"nested": {"k": ["\u202e"]}}
    )
    for value in (event.actor_role, event.source_ip, event.request_id, str(event.detail)):
        assert not any(c in value for c in "\n\x9b\u2028\u202e")
