"""Accounts on a real database, with time moved by hand (never slept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.accounts import service
from planwatch.audit.security_log import SYSTEM, events
from planwatch.divisions.service import division_tree, get_division
from planwatch.errors import InvalidValueError
from planwatch.models import User
from planwatch.models.enums import Role, ScopeKind
from tests.conftest import settings_for, strong_password

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(demo_url: str):  # type: ignore[no-untyped-def]
    return settings_for(demo_url)


def add(session: Session, settings, name: str, *roles: Role, password: str | None = None) -> tuple[User, str]:  # type: ignore[no-untyped-def]
    password = password or strong_password()
    user = service.create_user(
        session,
        username=name,
        password=password,
        settings=settings,
        actor=SYSTEM,
        now=T0,
        must_change_password=False,
    )
    for role in roles:
        service.grant_role(session, user, role, actor=SYSTEM, now=T0)
    return user, password


def login(
    session: Session, settings, name: str, password: str, at: datetime, ip: str = "10.0.0.1"
) -> service.LoginResult:  # type: ignore[no-untyped-def]
    return service.authenticate(session, name, password, source_ip=ip, settings=settings, now=at)


def test_unicode_user_names_and_duplicates(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user, password = add(session, settings, "张三", Role.reviewer)
    assert user.username == "张三"
    assert login(session, settings, "张三", password, T0).user is user
    with pytest.raises(service.ConflictError):
        add(session, settings, "张三")
    with pytest.raises(InvalidValueError):
        add(session, settings, "bad\x07name")


def test_three_administrators_are_different_people(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user, _ = add(session, settings, "root1", Role.sys_admin)
    with pytest.raises(service.ConflictError, match="三权分立"):
        service.grant_role(session, user, Role.audit_admin, actor=SYSTEM, now=T0)


def test_unknown_user_and_wrong_password_look_the_same(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    add(session, settings, "li")
    assert login(session, settings, "li", "wrong-password", T0) == login(session, settings, "nobody", "x", T0)


def test_five_failures_lock_for_fifteen_minutes(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    _, password = add(session, settings, "wang")
    for minute in range(5):
        assert login(session, settings, "wang", "wrong", T0 + timedelta(minutes=minute)).user is None
    assert login(session, settings, "wang", password, T0 + timedelta(minutes=6)).user is None  # locked
    assert (
        login(session, settings, "wang", password, T0 + timedelta(minutes=4 + 15, seconds=1)).user is not None
    )
    actions = [e.action for e in events(session, actor="wang", limit=20)]
    assert "login.lockout" in actions
    assert "login.success" in actions


def test_failures_spread_over_more_than_the_window_do_not_lock(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    _, password = add(session, settings, "zhao")
    for i in range(6):
        login(session, settings, "zhao", "wrong", T0 + timedelta(minutes=4 * i))
    assert login(session, settings, "zhao", password, T0 + timedelta(minutes=25)).user is not None


def test_per_address_rate_limit(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    limited = settings.model_copy(update={"ip_failures_per_window": 10})
    for i in range(10):
        login(session, limited, f"guess{i}", "x", T0, ip="203.0.113.9")
    with pytest.raises(service.RateLimitedError):
        login(session, limited, "guess-more", "x", T0, ip="203.0.113.9")
    assert login(session, limited, "someone", "x", T0, ip="203.0.113.10").user is None  # other address fine


def test_session_idle_and_absolute_timeouts(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user, _ = add(session, settings, "sun")
    secret, _ = service.open_session(session, user, source_ip="-", settings=settings, now=T0)
    assert (
        service.resolve_session(session, secret, settings=settings, now=T0 + timedelta(minutes=29))
        is not None
    )
    assert (
        service.resolve_session(
            session, secret, settings=settings, now=T0 + timedelta(minutes=59, seconds=59)
        )
        is None
    )
    busy, _ = service.open_session(session, user, source_ip="-", settings=settings, now=T0)
    for quarter in range(1, 48):  # active every 15 minutes for 11 h 45 min
        assert (
            service.resolve_session(
                session, busy, settings=settings, now=T0 + timedelta(minutes=15 * quarter)
            )
            is not None
        )
    assert service.resolve_session(session, busy, settings=settings, now=T0 + timedelta(hours=12)) is None


def test_password_change_and_disabling_end_sessions(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user, password = add(session, settings, "zhou")
    first, _ = service.open_session(session, user, source_ip="-", settings=settings, now=T0)
    service.change_password(
        session,
        user,
        new_password=strong_password(),
        old_password=password,
        settings=settings,
        actor=SYSTEM,
        now=T0,
    )
    assert service.resolve_session(session, first, settings=settings, now=T0) is None
    second, _ = service.open_session(session, user, source_ip="-", settings=settings, now=T0)
    service.set_disabled(session, user, True, actor=SYSTEM, now=T0)
    assert service.resolve_session(session, second, settings=settings, now=T0) is None


def test_tokens_expire_and_revoke(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    person, _ = add(session, settings, "mzj_person", Role.department_reporter)
    with pytest.raises(service.ConflictError, match="service accounts"):
        service.create_token(session, person, name="x", days=1, settings=settings, actor=SYSTEM, now=T0)
    user = service.create_user(
        session,
        username="mzj_system",
        password="",
        settings=settings,
        actor=SYSTEM,
        now=T0,
        service_account=True,
    )
    service.grant_role(session, user, Role.department_reporter, actor=SYSTEM, now=T0)
    assert login(session, settings, "mzj_system", "", T0).user is None  # a service account never signs in
    secret, token = service.create_token(
        session, user, name="民政局接口", days=30, settings=settings, actor=SYSTEM, now=T0
    )
    assert secret.startswith("pw_")
    assert token.token_hash != secret
    assert service.resolve_token(session, secret, now=T0 + timedelta(days=29)) is not None
    assert service.resolve_token(session, secret, now=T0 + timedelta(days=30)) is None
    service.revoke_token(session, token.id, actor=SYSTEM, now=T0)
    assert service.resolve_token(session, secret, now=T0) is None
    with pytest.raises(InvalidValueError):
        service.create_token(
            session, user, name="forever", days=10_000, settings=settings, actor=SYSTEM, now=T0
        )


def test_scopes_cover_descendants_not_siblings(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user, _ = add(session, settings, "jinjiang", Role.district_reporter)
    service.grant_scope(session, user, ScopeKind.capture, "510104", actor=SYSTEM, now=T0)
    tree = division_tree(session)
    principal = service.principal_for(user, tree, via="session", settings=settings, now=T0)
    jinjiang = get_division(session, "510104")
    street = tree.descendants(jinjiang.id)[0]
    assert jinjiang.id in principal.capture
    assert street.id in principal.capture
    assert get_division(session, "510105").id not in principal.capture
    assert get_division(session, "510100").id not in principal.view


def test_administrators_must_rotate_passwords_in_dengbao_mode(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    admin, _ = add(session, settings, "sec", Role.security_admin)
    planner, _ = add(session, settings, "plan", Role.planner)
    tree = division_tree(session)
    later = T0 + timedelta(days=91)
    assert service.principal_for(
        admin, tree, via="session", settings=settings, now=later
    ).must_change_password
    assert not service.principal_for(
        planner, tree, via="session", settings=settings, now=later
    ).must_change_password
    relaxed = settings.model_copy(update={"dengbao_mode": False})
    assert not service.principal_for(
        admin, tree, via="session", settings=relaxed, now=later
    ).must_change_password


def test_phone_numbers_are_encrypted_and_masked(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user = service.create_user(
        session,
        username="liu",
        password=strong_password(),
        phone="13800138000",
        settings=settings,
        actor=SYSTEM,
        now=T0,
    )
    stored = session.scalar(select(User.phone).where(User.id == user.id))
    assert stored is not None
    assert "13800138000" not in stored
    assert service.user_view(session, user, settings=settings, now=T0).phone == "138****8000"


def test_a_thousand_attempts_from_one_address_are_answered_and_recorded(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    from planwatch.models import LoginAttempt

    limited = settings.model_copy(update={"ip_failures_per_window": 20})
    refused = 0
    for i in range(1000):
        try:
            login(
                session,
                limited,
                f"bot{i % 7}",
                "password123",
                T0 + timedelta(seconds=i // 100),
                ip="198.51.100.7",
            )
        except service.RateLimitedError:
            refused += 1
    assert refused == 980
    recorded = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.source_ip == "198.51.100.7")
    )
    assert recorded == 1000
    assert len(events(session, action="login.rate_limited", limit=2000)) == 980


def test_administrators_do_not_manage_each_other_or_themselves(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    from planwatch.errors import ForbiddenError

    sysadmin, _ = add(session, settings, "sys1", Role.sys_admin)
    auditor, _ = add(session, settings, "aud1", Role.audit_admin)
    planner, _ = add(session, settings, "pl1", Role.planner)
    by = service.principal_for(sysadmin, division_tree(session), via="session", settings=settings, now=T0)
    with pytest.raises(ForbiddenError, match="managed at the server"):
        service.change_password(
            session, auditor, new_password=strong_password(), settings=settings, actor=by.actor, now=T0, by=by
        )
    with pytest.raises(ForbiddenError, match="your own account"):
        service.set_disabled(session, sysadmin, True, actor=by.actor, now=T0, by=by)
    service.set_disabled(session, planner, True, actor=by.actor, now=T0, by=by)
    assert planner.disabled
    with pytest.raises(service.ConflictError):
        service.grant_role(session, planner, Role.security_admin, actor=SYSTEM, now=T0)


def test_guessing_the_current_password_locks_the_account(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user, password = add(session, settings, "guess_me")
    for _ in range(5):
        with pytest.raises(service.WrongPasswordError):
            service.change_password(
                session,
                user,
                new_password=strong_password(),
                old_password="wrong",
                settings=settings,
                actor=SYSTEM,
                now=T0,
            )
    assert user.locked_until is not None
    assert login(session, settings, "guess_me", password, T0 + timedelta(minutes=1)).user is None


def test_reserved_and_look_alike_names(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    add(session, settings, "Alice")
    for name in (
        "anonymous",
        "system",
        "cli:root",
        "alice",
        "line\u2028break".encode().decode("unicode_escape"),
    ):
        with pytest.raises((InvalidValueError, service.ConflictError)):
            add(session, settings, name)


def test_unicode_case_variants_are_the_same_name(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    add(session, settings, "Ärger")
    with pytest.raises(service.ConflictError):
        add(session, settings, "ärger")


def test_a_lockout_does_not_sign_anyone_out(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    user, _ = add(session, settings, "busy_admin")
    secret, _ = service.open_session(session, user, source_ip="-", settings=settings, now=T0)
    for _ in range(5):
        login(session, settings, "busy_admin", "wrong", T0, ip="203.0.113.66")
    assert user.locked_until is not None
    assert service.resolve_session(session, secret, settings=settings, now=T0) is not None


def test_administrator_roles_are_not_granted_through_the_web(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    from planwatch.errors import ForbiddenError

    security, _ = add(session, settings, "sec2", Role.security_admin)
    target, _ = add(session, settings, "newbie")
    by = service.principal_for(security, division_tree(session), via="session", settings=settings, now=T0)
    with pytest.raises(ForbiddenError, match="granted at the server"):
        service.grant_role(session, target, Role.audit_admin, actor=by.actor, now=T0, by=by)
    service.grant_role(session, target, Role.reviewer, actor=by.actor, now=T0, by=by)


def test_user_lookup_by_odd_digits(session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    from planwatch.errors import NotFoundError

    for ref in ("²", "9" * 40, "٣"):
        with pytest.raises(NotFoundError):
            service.get_user(session, ref)
