"""JSON API for sessions, accounts, API tokens and the security log. Each route checks the policy
table through the principal; request models refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from planwatch.accounts import service
from planwatch.accounts.policy import Operation
from planwatch.audit import security_log
from planwatch.clock import as_utc
from planwatch.divisions.service import division_tree
from planwatch.errors import ForbiddenError
from planwatch.models import ApiToken, AuthSession
from planwatch.models.enums import Role, ScopeKind
from planwatch.web.deps import (
    SESSION_COOKIE,
    Id,
    NowDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    requires,
    source_ip,
)

router = APIRouter(prefix="/api", tags=["accounts"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class PasswordIn(_In):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class WhoAmI(BaseModel):
    username: str | None
    roles: list[str]
    via: str
    must_change_password: bool
    csrf_token: str | None = Field(
        default=None, description="Send as X-CSRF-Token on unsafe requests made with the session cookie."
    )


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str | None
    phone: str | None = Field(description="Masked (138****8000); see POST /api/users/{id}/unmask")
    roles: list[str]
    capture: list[str]
    view: list[str]
    departments: list[str]
    disabled: bool
    locked: bool
    must_change_password: bool
    service_account: bool


class UserIn(_In):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(default="", max_length=1024, description="Not used for a service account")
    service_account: bool = Field(
        default=False, description="A department system's account: no sign-in, API tokens only"
    )
    display_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)


class ResetIn(_In):
    new_password: str = Field(min_length=1, max_length=1024)


class UnmaskIn(_In):
    reason: str = Field(min_length=4, max_length=500)


class UnmaskOut(BaseModel):
    phone: str | None


class TokenIn(_In):
    user: str = Field(min_length=1, max_length=150, description="User name or id the token acts as")
    name: str = Field(min_length=1, max_length=200)
    days: int = Field(default=90, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret, shown once; only its hash is stored")


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str
    source_ip: str
    action: str
    object_type: str
    object_id: str
    result: str
    request_id: str
    detail: dict[str, Any]
    hash: str


class VerifyOut(BaseModel):
    checked: int
    intact: bool
    broken_at: int | None
    message: str


def _whoami(principal: Any) -> WhoAmI:
    return WhoAmI(
        username=None if principal.anonymous else principal.username,
        roles=sorted(r.value for r in principal.roles),
        via=principal.via,
        must_change_password=principal.must_change_password,
        csrf_token=principal.csrf_token,
    )


def set_session_cookie(response: Response, secret: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, secret, httponly=True, secure=secure, samesite="lax", max_age=max_age, path="/"
    )


@router.get("/session", response_model=WhoAmI, summary="Who is calling")
def api_whoami(principal: PrincipalDep) -> WhoAmI:
    return _whoami(principal)


@router.post(
    "/session",
    response_model=WhoAmI,
    summary="Sign in with user name and password; sets the session cookie",
    responses={
        401: {"description": "Wrong user name or password, or the account is unavailable"},
        429: {"description": "Too many failures from this address"},
    },
)
def api_login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep, now: NowDep
) -> Response:
    ip = source_ip(request)
    try:
        result = service.authenticate(
            session,
            body.username,
            body.password,
            source_ip=ip,
            settings=settings,
            now=now,
            request_id=request.state.request_id,
        )
    except service.RateLimitedError as exc:  # answered, not raised: the attempt stays recorded
        return JSONResponse({"error": {"type": "RateLimitedError", "message": exc.message}}, status_code=429)
    if result.user is None:
        return JSONResponse(
            {"error": {"type": "UnauthorizedError", "message": service.LOGIN_FAILED}}, status_code=401
        )
    secret, auth = service.open_session(session, result.user, source_ip=ip, settings=settings, now=now)

    principal = service.principal_for(
        result.user,
        division_tree(session),
        via="session",
        settings=settings,
        now=now,
        session_id=auth.id,
        csrf_token=auth.csrf_token,
    )
    response = JSONResponse(_whoami(principal).model_dump())
    set_session_cookie(
        response, secret, secure=settings.cookie_secure, max_age=settings.session_absolute_hours * 3600
    )
    return response


@router.delete("/session", status_code=204, summary="Sign out (ends the session on the server)")
def api_logout(principal: PrincipalDep, session: SessionDep, now: NowDep) -> Response:
    if principal.session_id is not None:
        auth = session.get(AuthSession, principal.session_id)
        if auth is not None:
            service.end_session(session, auth, reason="logout", now=now)
            security_log.record(
                session, principal.actor, "logout", now=now, object_type="user", object_id=principal.username
            )
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post(
    "/session/password", status_code=204, summary="Change your own password (ends all your sessions)"
)
def api_change_password(
    body: PasswordIn, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> Response:
    if principal.via != "session" or principal.user_id is None:
        raise ForbiddenError("sign in with your password first (a token cannot change a password)")
    user = service.get_user(session, principal.user_id)
    try:
        service.change_password(
            session,
            user,
            new_password=body.new_password,
            old_password=body.current_password,
            settings=settings,
            actor=principal.actor,
            now=now,
        )
    except service.WrongPasswordError as exc:  # answered, not raised: the failed attempt stays recorded
        return JSONResponse({"error": {"type": "ForbiddenError", "message": exc.message}}, status_code=403)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _user_out(session: Any, user: Any, settings: Any, now: datetime) -> UserOut:
    return UserOut(**service.user_view(session, user, settings=settings, now=now).__dict__)


@router.get(
    "/users",
    response_model=list[UserOut],
    summary="Accounts (system and security administrators)",
    dependencies=[requires(Operation.accounts_read)],
)
def api_users(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> list[UserOut]:
    return [UserOut(**v.__dict__) for v in service.list_users(session, settings=settings, now=now)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Create an account (system administrator)",
    dependencies=[requires(Operation.accounts_manage)],
)
def api_create_user(
    body: UserIn, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> UserOut:
    user = service.create_user(
        session,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        phone=body.phone,
        service_account=body.service_account,
        settings=settings,
        actor=principal.actor,
        now=now,
    )
    return _user_out(session, user, settings, now)


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    summary="One account",
    dependencies=[requires(Operation.accounts_read)],
)
def api_user(
    user_id: Id, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> UserOut:
    return _user_out(session, service.get_user(session, user_id), settings, now)


@router.post(
    "/users/{user_id}/disable",
    response_model=UserOut,
    summary="Disable an account (ends its sessions)",
    dependencies=[requires(Operation.accounts_manage)],
)
def api_disable(
    user_id: Id, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> UserOut:
    user = service.get_user(session, user_id)
    service.set_disabled(session, user, True, actor=principal.actor, now=now, by=principal)
    return _user_out(session, user, settings, now)


@router.post(
    "/users/{user_id}/enable",
    response_model=UserOut,
    summary="Re-enable an account",
    dependencies=[requires(Operation.accounts_manage)],
)
def api_enable(
    user_id: Id, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> UserOut:
    user = service.get_user(session, user_id)
    service.set_disabled(session, user, False, actor=principal.actor, now=now, by=principal)
    return _user_out(session, user, settings, now)


@router.post(
    "/users/{user_id}/password",
    status_code=204,
    summary="Reset a password; the user must change it at next sign-in",
    dependencies=[requires(Operation.accounts_manage)],
)
def api_reset_password(
    user_id: Id,
    body: ResetIn,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    user = service.get_user(session, user_id)
    service.change_password(
        session,
        user,
        new_password=body.new_password,
        settings=settings,
        actor=principal.actor,
        now=now,
        must_change=True,
        by=principal,
    )
    return Response(status_code=204)


@router.put(
    "/users/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="Grant a role (security administrator)",
    dependencies=[requires(Operation.grants_manage)],
)
def api_grant_role(
    user_id: Id, role: Role, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> UserOut:
    user = service.get_user(session, user_id)
    service.grant_role(session, user, role, actor=principal.actor, now=now, by=principal)
    return _user_out(session, user, settings, now)


@router.delete(
    "/users/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="Revoke a role (security administrator)",
    dependencies=[requires(Operation.grants_manage)],
)
def api_revoke_role(
    user_id: Id, role: Role, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> UserOut:
    user = service.get_user(session, user_id)
    service.revoke_role(session, user, role, actor=principal.actor, now=now, by=principal)
    return _user_out(session, user, settings, now)


@router.put(
    "/users/{user_id}/scopes/{kind}/{code}",
    response_model=UserOut,
    summary="Grant a capture, view or department scope",
    dependencies=[requires(Operation.grants_manage)],
)
def api_grant_scope(
    user_id: Id,
    kind: ScopeKind,
    code: str,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> UserOut:
    user = service.get_user(session, user_id)
    service.grant_scope(session, user, kind, code, actor=principal.actor, now=now, by=principal)
    return _user_out(session, user, settings, now)


@router.delete(
    "/users/{user_id}/scopes/{kind}/{code}",
    response_model=UserOut,
    summary="Revoke a scope",
    dependencies=[requires(Operation.grants_manage)],
)
def api_revoke_scope(
    user_id: Id,
    kind: ScopeKind,
    code: str,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> UserOut:
    user = service.get_user(session, user_id)
    service.revoke_scope(session, user, kind, code, actor=principal.actor, now=now, by=principal)
    return _user_out(session, user, settings, now)


@router.post(
    "/users/{user_id}/unmask",
    response_model=UnmaskOut,
    summary="See a user's full phone number, with a reason (audited)",
    dependencies=[requires(Operation.pii_unmask)],
)
def api_unmask(
    user_id: Id,
    body: UnmaskIn,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> UnmaskOut:
    user = service.get_user(session, user_id)
    return UnmaskOut(
        phone=service.unmask_phone(session, principal, user, reason=body.reason, settings=settings, now=now)
    )


def _token_out(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": token.user.username,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": as_utc(token.created_at),
        "expires_at": as_utc(token.expires_at),
        "revoked_at": as_utc(token.revoked_at) if token.revoked_at else None,
        "last_used_at": as_utc(token.last_used_at) if token.last_used_at else None,
    }


@router.get(
    "/tokens",
    response_model=list[TokenOut],
    summary="API tokens (security administrator)",
    dependencies=[requires(Operation.tokens_manage)],
)
def api_tokens(principal: PrincipalDep, session: SessionDep) -> list[TokenOut]:
    return [TokenOut(**_token_out(t)) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]


@router.post(
    "/tokens",
    response_model=NewTokenOut,
    status_code=201,
    summary="Create an API token for a (service) account",
    dependencies=[requires(Operation.tokens_manage)],
)
def api_create_token(
    body: TokenIn, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> NewTokenOut:
    user = service.get_user(session, body.user)
    secret, token = service.create_token(
        session, user, name=body.name, days=body.days, settings=settings, actor=principal.actor, now=now
    )
    return NewTokenOut(token=secret, **_token_out(token))


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenOut,
    summary="Revoke an API token",
    dependencies=[requires(Operation.tokens_manage)],
)
def api_revoke_token(token_id: Id, principal: PrincipalDep, session: SessionDep, now: NowDep) -> TokenOut:
    return TokenOut(**_token_out(service.revoke_token(session, token_id, actor=principal.actor, now=now)))


@router.get(
    "/audit/security-log",
    response_model=list[EventOut],
    summary="The security log (audit administrator)",
    dependencies=[requires(Operation.audit_read)],
)
def api_security_log(
    principal: PrincipalDep,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=150)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[EventOut]:
    rows = security_log.events(session, action=action, actor=actor, limit=limit, offset=offset)
    return [
        EventOut(
            id=e.id,
            at=as_utc(e.at),
            actor=e.actor,
            actor_role=e.actor_role,
            source_ip=e.source_ip,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            result=e.result,
            request_id=e.request_id,
            detail=e.detail,
            hash=e.hash,
        )
        for e in rows
    ]


@router.get(
    "/audit/security-log/verify",
    response_model=VerifyOut,
    summary="Recompute the hash chain",
    dependencies=[requires(Operation.audit_read)],
)
def api_verify_log(principal: PrincipalDep, session: SessionDep) -> VerifyOut:
    result = security_log.verify(session)
    return VerifyOut(
        checked=result.checked,
        intact=result.broken_at is None,
        broken_at=result.broken_at,
        message=result.message,
    )
