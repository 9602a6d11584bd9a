"""Account use cases: users, roles, scopes, login with lockout, sessions, API tokens, unmasking.

Every change is recorded in the security log in the same transaction. Time comes in as ``now``.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planwatch.accounts.passwords import (
    DUMMY_HASH,
    PasswordPolicy,
    hash_password,
    password_problems,
    verify_password,
)
from planwatch.accounts.policy import Operation, conflicting_admin_role
from planwatch.accounts.principal import Principal, Via, expand
from planwatch.audit.security_log import Actor, record
from planwatch.clock import as_utc
from planwatch.config import Settings
from planwatch.crypto import decrypt, encrypt
from planwatch.divisions.tree import DivisionTree
from planwatch.errors import ConflictError, ForbiddenError, InvalidValueError, NotFoundError, PlanwatchError
from planwatch.models import (
    ApiToken,
    AuthSession,
    Department,
    Division,
    LoginAttempt,
    User,
    UserRole,
    UserScope,
)
from planwatch.models.enums import ADMIN_ROLES, Role, ScopeKind
from planwatch.pii import mask_phone

LOGIN_FAILED = (
    "用户名或密码错误,或账户暂时不可用 / wrong user name or password, or the account is unavailable"
)
TOKEN_PREFIX = "pw_"  # noqa: S105 - the public prefix of tokens, not a secret


class RateLimitedError(PlanwatchError):
    status_code = 429


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_username(username: str) -> str:
    name = unicodedata.normalize("NFKC", username).strip()
    if not 1 <= len(name) <= 150 or any(
        unicodedata.category(c)[0] == "C" or unicodedata.category(c) in {"Zl", "Zp"} for c in name
    ):
        msg = "a user name has 1 to 150 printable characters (Chinese names are fine)"
        raise InvalidValueError(msg)
    return name


def username_key(name: str) -> str:
    """What makes two user names the same account: Unicode case folding (Ärger = ärger)."""
    return unicodedata.normalize("NFKC", name).casefold()


def policy_for(settings: Settings) -> PasswordPolicy:
    return PasswordPolicy(min_length=settings.password_min_length, dengbao=settings.dengbao_mode)


def check_password(password: str, *, username: str, settings: Settings) -> None:
    problems = password_problems(password, username=username, policy=policy_for(settings))
    if problems:
        raise InvalidValueError("the password is not accepted: " + "; ".join(problems))


def get_user(session: Session, ref: str | int) -> User:
    """A user by id or by user name."""
    user = session.get(User, ref) if isinstance(ref, int) else None
    if user is None and isinstance(ref, str):
        user = session.scalar(select(User).where(User.username == normalise_username(ref)))
        if user is None and ref.isascii() and ref.isdigit() and len(ref) <= 15:
            user = session.get(User, int(ref))
    if user is None:
        msg = f"no user {ref!r}"
        raise NotFoundError(msg)
    return user


RESERVED_NAMES = frozenset({"anonymous", "system", "-", "local operator"})


def check_manageable(by: Principal | None, user: User) -> None:
    """Administrators do not manage each other or themselves through the web (三权分立): an
    administrator account is changed only at the server (``planwatch users …``), and nobody
    changes their own roles, scopes, state or password this way. ``by`` None is that operator."""
    if by is None:
        return
    if by.user_id == user.id:
        raise ForbiddenError("you cannot change your own account this way; ask another administrator")
    if any(r.role in ADMIN_ROLES for r in user.roles):
        raise ForbiddenError(
            "administrator accounts are managed at the server (`planwatch users …`), not by another administrator"
        )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    settings: Settings,
    actor: Actor,
    now: datetime,
    display_name: str | None = None,
    phone: str | None = None,
    must_change_password: bool = True,
    service_account: bool = False,
) -> User:
    name = normalise_username(username)
    if name.casefold() in RESERVED_NAMES or name.casefold().startswith("cli:"):
        raise InvalidValueError(f"{name!r} is reserved for the log; choose another user name")
    key = username_key(name)
    if session.scalar(select(User.id).where(User.username_key == key)) is not None:
        raise ConflictError(f"the user name {name!r} is taken")
    if service_account:  # a machine's account: nobody signs in with it, its API tokens act as it
        password, must_change_password = secrets.token_urlsafe(48), False
    else:
        check_password(password, username=name, settings=settings)
    user = User(
        username=name,
        username_key=key,
        display_name=display_name,
        phone=encrypt(settings, phone),
        password_hash=hash_password(password),
        password_changed_at=now,
        must_change_password=must_change_password,
        service_account=service_account,
        created_at=now,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ConflictError(f"the user name {name!r} is taken") from None
    record(session, actor, "user.create", now=now, object_type="user", object_id=name,
           detail={"service_account": service_account})  # fmt: skip
    return user


def grant_role(
    session: Session, user: User, role: Role, *, actor: Actor, now: datetime, by: Principal | None = None
) -> None:
    check_manageable(by, user)
    if by is not None and role in ADMIN_ROLES:
        raise ForbiddenError(
            "administrator roles are granted at the server (`planwatch users grant`), not through the web"
        )
    # Write to the user's row first: that takes PostgreSQL's row lock and SQLite's write lock
    # before the roles are read, so two grants at once cannot both pass the check below.
    session.execute(update(User).where(User.id == user.id).values(disabled=User.disabled))
    session.refresh(user, attribute_names=["roles"])
    current = {r.role for r in user.roles}
    if role in current:
        return
    if role in ADMIN_ROLES and user.service_account:
        raise ConflictError("a service account cannot be an administrator")
    clash = conflicting_admin_role(current, role)
    if clash is not None:
        record(session, actor, "role.grant", now=now, object_type="user", object_id=user.username, result="denied",
               detail={"role": role.value, "conflicts_with": clash.value})  # fmt: skip
        msg = (
            f"{user.username} holds {clash.value}; an administrator holds exactly one role (三权分立), "
            f"so {role.value} cannot be added"
        )
        raise ConflictError(msg)
    user.roles.append(UserRole(role=role))
    session.flush()
    record(
        session,
        actor,
        "role.grant",
        now=now,
        object_type="user",
        object_id=user.username,
        detail={"role": role.value},
    )


def revoke_role(
    session: Session, user: User, role: Role, *, actor: Actor, now: datetime, by: Principal | None = None
) -> None:
    check_manageable(by, user)
    kept = [r for r in user.roles if r.role is not role]
    if len(kept) == len(user.roles):
        return
    user.roles = kept
    session.flush()
    record(
        session,
        actor,
        "role.revoke",
        now=now,
        object_type="user",
        object_id=user.username,
        detail={"role": role.value},
    )


def _scope_target(session: Session, kind: ScopeKind, code: str) -> tuple[int | None, int | None]:
    if kind is ScopeKind.department:
        department = session.scalar(select(Department).where(Department.code == code))
        if department is None:
            raise NotFoundError(f"no department with code {code!r}")
        return None, department.id
    division = session.scalar(select(Division).where(Division.code == code, Division.valid_to.is_(None)))
    if division is None:
        raise NotFoundError(f"no division with code {code!r}")
    return division.id, None


def grant_scope(
    session: Session,
    user: User,
    kind: ScopeKind,
    code: str,
    *,
    actor: Actor,
    now: datetime,
    by: Principal | None = None,
) -> None:
    _change_scope(session, user, kind, code, grant=True, actor=actor, now=now, by=by)


def revoke_scope(
    session: Session,
    user: User,
    kind: ScopeKind,
    code: str,
    *,
    actor: Actor,
    now: datetime,
    by: Principal | None = None,
) -> None:
    _change_scope(session, user, kind, code, grant=False, actor=actor, now=now, by=by)


def _change_scope(
    session: Session,
    user: User,
    kind: ScopeKind,
    code: str,
    *,
    grant: bool,
    actor: Actor,
    now: datetime,
    by: Principal | None,
) -> None:
    """Add or remove one scope; a change that changes nothing records nothing."""
    check_manageable(by, user)
    division_id, department_id = _scope_target(session, kind, code)

    def same(scope: UserScope) -> bool:
        return (
            scope.kind is kind and scope.division_id == division_id and scope.department_id == department_id
        )

    kept = [scope for scope in user.scopes if not same(scope)]
    if grant == (len(kept) < len(user.scopes)):
        return  # already granted, or nothing to revoke
    user.scopes = (
        [*kept, UserScope(kind=kind, division_id=division_id, department_id=department_id)] if grant else kept
    )
    session.flush()
    record(session, actor, "scope.grant" if grant else "scope.revoke", now=now, object_type="user",
           object_id=user.username, detail={"kind": kind.value, "code": code})  # fmt: skip


def set_disabled(
    session: Session, user: User, disabled: bool, *, actor: Actor, now: datetime, by: Principal | None = None
) -> None:
    check_manageable(by, user)
    if user.disabled == disabled:
        return
    user.disabled = disabled
    if disabled:
        end_user_sessions(session, user.id, reason="disabled", now=now)
    record(
        session,
        actor,
        "user.disable" if disabled else "user.enable",
        now=now,
        object_type="user",
        object_id=user.username,
    )


class WrongPasswordError(ForbiddenError):
    """The current password given to a password change was wrong (counted like a failed login)."""


def change_password(
    session: Session,
    user: User,
    *,
    new_password: str,
    settings: Settings,
    actor: Actor,
    now: datetime,
    old_password: str | None = None,
    must_change: bool = False,
    by: Principal | None = None,
) -> None:
    """Set a new password. Users give their current one, and a wrong one counts as a failed sign-in
    (five lock the account); a reset by the system administrator (``by``) gives none and makes the
    user choose a new one at next sign-in. Every session of the user ends.

    A wrong current password raises ``WrongPasswordError`` *after* recording the attempt: callers
    commit before answering, so the attempt and a lockout are kept."""
    if old_password is None:
        check_manageable(by, user)
    elif user.locked_until is not None and as_utc(user.locked_until) > now:
        raise WrongPasswordError("the account is locked for a while after too many wrong passwords")
    elif not verify_password(old_password, user.password_hash):
        session.add(
            LoginAttempt(username=user.username, source_ip=actor.source_ip[:64], at=now, success=False)
        )
        record(
            session,
            actor,
            "password.change",
            now=now,
            object_type="user",
            object_id=user.username,
            result="failure",
        )
        _lock_if_too_many(session, user, actor, settings=settings, now=now)
        raise WrongPasswordError("the current password is wrong")
    check_password(new_password, username=user.username, settings=settings)
    if verify_password(new_password, user.password_hash):
        raise InvalidValueError("the new password must differ from the current one")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    user.must_change_password = must_change
    user.locked_until = None
    end_user_sessions(session, user.id, reason="password_change", now=now)
    record(session, actor, "password.reset" if old_password is None else "password.change", now=now,
           object_type="user", object_id=user.username)  # fmt: skip


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked_now: bool = False


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    source_ip: str,
    settings: Settings,
    now: datetime,
    request_id: str = "-",
) -> LoginResult:
    """Check a login. The answer is the same for an unknown user, a wrong password, a locked or a
    disabled account; every attempt is recorded. Raises ``RateLimitedError`` when the address has
    failed too often. The caller commits whatever the outcome."""
    window_start = now - timedelta(minutes=settings.lockout_window_minutes)
    ip_failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.source_ip == source_ip,
            LoginAttempt.at >= window_start,
            LoginAttempt.success.is_(False),
        )
    )
    try:
        name = normalise_username(username)
    except InvalidValueError:
        name = username[:150]
    actor = Actor(name=name, roles="-", source_ip=source_ip, request_id=request_id)
    if (ip_failures or 0) >= settings.ip_failures_per_window:
        session.add(LoginAttempt(username=name, source_ip=source_ip, at=now, success=False))
        record(
            session,
            actor,
            "login.rate_limited",
            now=now,
            object_type="address",
            object_id=source_ip,
            result="denied",
        )
        msg = "too many failed logins from this address; wait 15 minutes (登录失败次数过多,请15分钟后再试)"
        raise RateLimitedError(msg)
    user = session.scalar(select(User).where(User.username == name))
    password_ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
    locked = user is not None and user.locked_until is not None and as_utc(user.locked_until) > now
    ok = user is not None and password_ok and not locked and not user.disabled and not user.service_account
    session.add(LoginAttempt(username=name, source_ip=source_ip, at=now, success=ok))
    if ok:
        assert user is not None  # noqa: S101 - ok implies a user
        roles = ",".join(sorted(r.role.value for r in user.roles)) or "-"
        record(
            session, replace(actor, roles=roles), "login.success", now=now, object_type="user", object_id=name
        )
        return LoginResult(user)
    reason = (
        "unknown_user"
        if user is None
        else "locked"
        if locked
        else "disabled"
        if user.disabled
        else "wrong_password"
    )
    record(session, actor, "login.failure", now=now, object_type="user", object_id=name, result="failure",
           detail={"reason": reason})  # fmt: skip
    locked_now = (
        user is not None
        and not locked
        and _lock_if_too_many(session, user, actor, settings=settings, now=now)
    )
    return LoginResult(None, locked_now)


def _lock_if_too_many(
    session: Session, user: User, actor: Actor, *, settings: Settings, now: datetime
) -> bool:
    """Lock ``user`` after too many failures in the window (since their last success); say if so."""
    window_start = now - timedelta(minutes=settings.lockout_window_minutes)
    session.flush()
    since = window_start
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == user.username, LoginAttempt.success.is_(True)
        )
    )
    if last_success is not None and as_utc(last_success) > since:
        since = as_utc(last_success)
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.username == user.username, LoginAttempt.at >= since, LoginAttempt.success.is_(False)
        )
    )
    if (failures or 0) < settings.lockout_failures:
        return False
    user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
    # live sessions are left alone: anyone can trigger a lockout by guessing, and must not be able
    # to sign an administrator out in the middle of an incident that way
    record(session, actor, "login.lockout", now=now, object_type="user", object_id=user.username, result="denied",
           detail={"until": user.locked_until.isoformat()})  # fmt: skip
    return True


def open_session(
    session: Session, user: User, *, source_ip: str, settings: Settings, now: datetime
) -> tuple[str, AuthSession]:
    """A new session (new id at every login); returns the cookie value, which is never stored."""
    secret = secrets.token_urlsafe(32)
    auth = AuthSession(
        token_hash=_digest(secret),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        source_ip=source_ip[:64],
    )
    session.add(auth)
    session.flush()
    return secret, auth


def resolve_session(
    session: Session, secret: str, *, settings: Settings, now: datetime
) -> AuthSession | None:
    """The live session for a cookie value, or None (ended, idle too long, past its absolute end,
    or its user disabled). Touches ``last_seen_at``."""
    auth = session.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(secret)))
    if auth is None or auth.ended_at is not None:
        return None
    reason = None
    if now >= as_utc(auth.expires_at):
        reason = "absolute_timeout"
    elif now - as_utc(auth.last_seen_at) >= timedelta(minutes=settings.session_idle_minutes):
        reason = "idle_timeout"
    elif auth.user.disabled:
        reason = "disabled"
    if reason is not None:
        auth.ended_at, auth.ended_reason = now, reason
        return None
    if now - as_utc(auth.last_seen_at) >= timedelta(seconds=60):  # one write a minute, not one a request
        auth.last_seen_at = now
    return auth


def end_session(session: Session, auth: AuthSession, *, reason: str, now: datetime) -> None:
    if auth.ended_at is None:
        auth.ended_at, auth.ended_reason = now, reason


def end_user_sessions(session: Session, user_id: int, *, reason: str, now: datetime) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
    )


def create_token(
    session: Session, user: User, *, name: str, days: int, settings: Settings, actor: Actor, now: datetime
) -> tuple[str, ApiToken]:
    """A new API token for the service account ``user``; the secret is returned once and only its
    hash is kept. Only service accounts get tokens: a token for a person would let whoever created
    it act as that person."""
    if not user.service_account:
        raise ConflictError(
            f"{user.username} is a person's account; API tokens are for service accounts (--service)"
        )
    if not 1 <= days <= settings.token_max_days:
        raise InvalidValueError(f"a token lives 1 to {settings.token_max_days} days, got {days}")
    if user.disabled:
        raise InvalidValueError(f"{user.username} is disabled")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name[:200],
        prefix=secret[:10],
        token_hash=_digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    record(session, actor, "token.create", now=now, object_type="token", object_id=token.id,
           detail={"user": user.username, "name": name, "prefix": token.prefix, "days": days})  # fmt: skip
    return secret, token


def resolve_token(session: Session, secret: str, *, now: datetime) -> ApiToken | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if (
        token is None
        or token.revoked_at is not None
        or now >= as_utc(token.expires_at)
        or token.user.disabled
    ):
        return None
    token.last_used_at = now
    return token


def revoke_token(session: Session, token_id: int, *, actor: Actor, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now
        record(session, actor, "token.revoke", now=now, object_type="token", object_id=token.id)
    return token


def principal_for(
    user: User,
    tree: DivisionTree,
    *,
    via: Via,
    settings: Settings,
    now: datetime,
    session_id: int | None = None,
    csrf_token: str | None = None,
    source_ip: str = "-",
    request_id: str = "-",
    token_id: int | None = None,
) -> Principal:
    roles = frozenset(r.role for r in user.roles)
    rotation_due = (
        settings.dengbao_mode
        and bool(roles & ADMIN_ROLES)
        and now - as_utc(user.password_changed_at) > timedelta(days=settings.password_rotation_days)
    )
    return Principal(
        user.id,
        user.username,
        roles,
        capture=expand(
            tree, [s.division_id for s in user.scopes if s.kind is ScopeKind.capture and s.division_id]
        ),
        view=expand(
            tree,
            [
                s.division_id
                for s in user.scopes
                if s.kind in {ScopeKind.view, ScopeKind.capture} and s.division_id
            ],
        ),
        departments=frozenset(
            s.department_id for s in user.scopes if s.kind is ScopeKind.department and s.department_id
        ),
        via=via,
        session_id=session_id,
        csrf_token=csrf_token,
        must_change_password=user.must_change_password or rotation_due,
        source_ip=source_ip,
        request_id=request_id,
        token_id=token_id,
    )


@dataclass(frozen=True)
class UserView:
    """What account listings show: personal data masked."""

    id: int
    username: str
    display_name: str | None
    phone: str | None
    roles: list[str]
    capture: list[str]
    view: list[str]
    departments: list[str]
    disabled: bool
    locked: bool
    must_change_password: bool
    service_account: bool


def user_view(session: Session, user: User, *, settings: Settings, now: datetime) -> UserView:
    codes = dict(session.execute(select(Division.id, Division.code)).all()) if user.scopes else {}
    departments = dict(session.execute(select(Department.id, Department.code)).all()) if user.scopes else {}
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        phone=mask_phone(decrypt(settings, user.phone)),
        roles=sorted(r.role.value for r in user.roles),
        capture=sorted(
            codes[s.division_id] for s in user.scopes if s.kind is ScopeKind.capture and s.division_id
        ),
        view=sorted(codes[s.division_id] for s in user.scopes if s.kind is ScopeKind.view and s.division_id),
        departments=sorted(
            departments[s.department_id]
            for s in user.scopes
            if s.kind is ScopeKind.department and s.department_id
        ),
        disabled=user.disabled,
        locked=user.locked_until is not None and as_utc(user.locked_until) > now,
        must_change_password=user.must_change_password,
        service_account=user.service_account,
    )


def list_users(session: Session, *, settings: Settings, now: datetime) -> list[UserView]:
    return [
        user_view(session, u, settings=settings, now=now)
        for u in session.scalars(select(User).order_by(User.username))
    ]


def unmask_phone(
    session: Session, principal: Principal, user: User, *, reason: str, settings: Settings, now: datetime
) -> str | None:
    """The full phone number, for a principal allowed to see it, with a reason; audited [PII-1]."""
    principal.require(Operation.pii_unmask)
    if len(reason.strip()) < 4:
        raise InvalidValueError("give the reason for seeing the full number (at least 4 characters)")
    record(session, principal.actor, "pii.unmask", now=now, object_type="user", object_id=user.username,
           detail={"field": "phone", "reason": reason.strip()[:500]})  # fmt: skip
    return decrypt(settings, user.phone)
