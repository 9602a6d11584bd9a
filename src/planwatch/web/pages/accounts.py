"""Account pages: sign in and out, change your own password, manage users, roles, scopes and API
tokens, read the security log. Plain HTML forms (no JavaScript); every handler calls the same
service functions as its JSON twin in ``web/api/accounts.py`` and checks the policy on the server,
whatever forms the page showed.

CSRF: the global ``csrf_guard`` checks every POST. A signed-in form carries the session's token; the
anonymous login form carries the double-submit token of the ``pw_csrf`` cookie set by GET /login.

Flash messages travel in the query string of the redirect (``?ok=…`` / ``?error=…``) with an HMAC
keyed by the session's CSRF token, so a crafted link cannot make the page show someone else's text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.accounts import service
from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.audit import security_log
from planwatch.clock import as_utc, system_clock
from planwatch.config import Settings
from planwatch.divisions.service import division_tree
from planwatch.errors import ForbiddenError, PlanwatchError
from planwatch.models import ApiToken, AuthSession
from planwatch.models.enums import Role, ScopeKind
from planwatch.web.api.accounts import set_session_cookie
from planwatch.web.deps import (
    SESSION_COOKIE,
    Id,
    LanguageDep,
    NowDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    anonymous_form_token,
    request_id,
    requires,
    set_form_cookie,
    source_ip,
)
from planwatch.web.i18n import translator
from planwatch.web.pages.flash import back, flash
from planwatch.web.pages.routes import TEMPLATES, render, render_error

router = APIRouter(include_in_schema=False)

USERS_PAGE = "/admin/users"
LOGIN_NOTICES = ("password_changed",)
"""The only notices the (anonymous) login page shows from its query string."""
_POLICY_PREFIX = "the password is not accepted: "


def _utc(moment: datetime | None) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "—"


TEMPLATES.env.globals["Operation"] = Operation
TEMPLATES.env.filters["utc"] = _utc


def safe_next(target: str | None) -> str:
    """Only a local path ("/…", not "//…" nor "/\\…") may follow a sign-in; anything else goes home."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(ord(c) < 32 or c == "\\" for c in target)
    ):
        return "/"
    return target


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- flash messages


# ---------------------------------------------------------------- sign in and out


def _login_form(
    request: Request,
    principal: Principal,
    lang: str,
    *,
    secure: bool,
    next_path: str,
    status_code: int = 200,
    error: str | None = None,
    username: str = "",
) -> Response:
    notice = request.query_params.get("ok")
    context = {
        "principal": principal,
        "next": safe_next(next_path),
        "error": error,
        "username": username,
        "notice": notice if notice in LOGIN_NOTICES else None,
    }
    if principal.via == "session":  # already signed in: no second login form
        return _no_store(render(request, "login.html", lang, status_code=status_code, **context))
    token = anonymous_form_token(request)
    response = render(request, "login.html", lang, status_code=status_code, csrf_token=token, **context)
    set_form_cookie(response, token, secure=secure)
    return _no_store(response)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    principal: PrincipalDep,
    settings: SettingsDep,
    lang: LanguageDep,
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/",
) -> Response:
    return _login_form(request, principal, lang, secure=settings.cookie_secure, next_path=next_path)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    username: Annotated[str, Form(min_length=1, max_length=150)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Failures are answered (not raised) so the recorded attempt is committed."""
    ip = source_ip(request)
    try:
        result = service.authenticate(
            session,
            username,
            password,
            source_ip=ip,
            settings=settings,
            now=now,
            request_id=request_id(request),
        )
    except service.RateLimitedError as exc:
        return render_error(request, exc.status_code, exc.message)
    if result.user is None:
        return _login_form(
            request,
            principal,
            lang,
            secure=settings.cookie_secure,
            next_path=next_path,
            status_code=401,
            error=service.LOGIN_FAILED,
            username=username,
        )
    if principal.session_id is not None:  # signing in again replaces the session of this browser
        previous = session.get(AuthSession, principal.session_id)
        if previous is not None:
            service.end_session(session, previous, reason="relogin", now=now)
    secret, auth = service.open_session(session, result.user, source_ip=ip, settings=settings, now=now)
    signed_in = service.principal_for(
        result.user,
        division_tree(session),
        via="session",
        settings=settings,
        now=now,
        session_id=auth.id,
        csrf_token=auth.csrf_token,
    )
    target = "/account/password" if signed_in.must_change_password else safe_next(next_path)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(
        response, secret, secure=settings.cookie_secure, max_age=settings.session_absolute_hours * 3600
    )
    return response


@router.post("/logout")
def logout(principal: PrincipalDep, session: SessionDep, now: NowDep) -> Response:
    if principal.session_id is not None:
        auth = session.get(AuthSession, principal.session_id)
        if auth is not None:
            service.end_session(session, auth, reason="logout", now=now)
            security_log.record(
                session, principal.actor, "logout", now=now, object_type="user", object_id=principal.username
            )
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- own password


def _problems(message: str) -> list[str]:
    """The password policy's problems one per line; any other message as it is."""
    if message.startswith(_POLICY_PREFIX):
        return message.removeprefix(_POLICY_PREFIX).split("; ")
    return [message]


def _password_form(
    request: Request,
    principal: Principal,
    settings: Settings,
    lang: str,
    *,
    status_code: int = 200,
    problems: list[str] | None = None,
) -> Response:
    return _no_store(
        render(
            request,
            "password.html",
            lang,
            status_code=status_code,
            principal=principal,
            csrf_token=principal.csrf_token or "",
            problems=problems or [],
            min_length=settings.password_min_length,
            dengbao=settings.dengbao_mode,
        )
    )


@router.get("/account/password", response_class=HTMLResponse)
def password_page(
    request: Request, principal: PrincipalDep, settings: SettingsDep, lang: LanguageDep
) -> Response:
    if principal.anonymous:
        return RedirectResponse("/login?" + urlencode({"next": "/account/password"}), status_code=303)
    return _password_form(request, principal, settings, lang)


@router.post("/account/password", response_class=HTMLResponse)
def password_submit(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    current_password: Annotated[str, Form(min_length=1, max_length=1024)],
    new_password: Annotated[str, Form(min_length=1, max_length=1024)],
    repeat_password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> Response:
    if principal.via != "session" or principal.user_id is None:
        raise ForbiddenError("sign in with your password first (a token cannot change a password)")
    if new_password != repeat_password:
        problems = [translator(lang)("passwords_differ")]
        return _password_form(request, principal, settings, lang, status_code=422, problems=problems)
    user = service.get_user(session, principal.user_id)
    try:
        service.change_password(
            session,
            user,
            new_password=new_password,
            old_password=current_password,
            settings=settings,
            actor=principal.actor,
            now=now,
        )
    except PlanwatchError as exc:  # answered, not raised: a wrong current password stays recorded
        problems = _problems(exc.message)
        return _password_form(
            request, principal, settings, lang, status_code=exc.status_code, problems=problems
        )
    response = RedirectResponse("/login?ok=password_changed", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")  # every session of the user has ended
    return response


# ---------------------------------------------------------------- users, roles, scopes, tokens


@router.get(USERS_PAGE, response_class=HTMLResponse, dependencies=[requires(Operation.accounts_read)])
def users_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
) -> Response:
    can_tokens = principal.can(Operation.tokens_manage)
    tokens = list(session.scalars(select(ApiToken).order_by(ApiToken.id))) if can_tokens else []
    return _no_store(
        render(
            request,
            "admin_users.html",
            lang,
            principal=principal,
            csrf_token=principal.csrf_token or "",
            users=service.list_users(session, settings=settings, now=now),
            tokens=tokens,
            roles=list(Role),
            scope_kinds=list(ScopeKind),
            can_manage=principal.can(Operation.accounts_manage),
            can_grant=principal.can(Operation.grants_manage),
            can_tokens=can_tokens,
            flash=flash(request, principal),
            now=now,
            new_token=None,
        )
    )


def _act(principal: Principal, session: Session, action: Callable[[], str]) -> Response:
    """Run ``action`` (the route's ``requires`` dependency has checked the policy already) and go
    back to the users page with its message; a domain error is shown there, not raised."""
    try:
        message = action()
    except ForbiddenError:
        raise  # a refusal is a 403 page and an access.denied row, not a message
    except PlanwatchError as exc:
        # shown on the page rather than raised: the refusal is logged here, in the committed request
        security_log.record(session, principal.actor, "request.refused", now=system_clock(), object_type="route",
                            result="denied", detail={"reason": type(exc).__name__, "message": exc.message[:300]})  # fmt: skip
        return back(principal, USERS_PAGE, error=exc.message)
    return back(principal, USERS_PAGE, ok=message)


def _optional(value: str) -> str | None:
    return value.strip() or None


@router.post(USERS_PAGE, dependencies=[requires(Operation.accounts_manage)])
def create_user(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    username: Annotated[str, Form(min_length=1, max_length=150)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    display_name: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    def action() -> str:
        user = service.create_user(
            session,
            username=username,
            password=password,
            display_name=_optional(display_name),
            phone=_optional(phone),
            settings=settings,
            actor=principal.actor,
            now=now,
        )
        return translator(lang)("flash.user_created").format(name=user.username)

    return _act(principal, session, action)


@router.post(USERS_PAGE + "/{user_id}/disable", dependencies=[requires(Operation.accounts_manage)])
def disable_user(
    user_id: Id, principal: PrincipalDep, session: SessionDep, now: NowDep, lang: LanguageDep
) -> Response:
    def action() -> str:
        user = service.get_user(session, user_id)
        service.set_disabled(session, user, True, actor=principal.actor, now=now, by=principal)
        return translator(lang)("flash.user_disabled").format(name=user.username)

    return _act(principal, session, action)


@router.post(USERS_PAGE + "/{user_id}/enable", dependencies=[requires(Operation.accounts_manage)])
def enable_user(
    user_id: Id, principal: PrincipalDep, session: SessionDep, now: NowDep, lang: LanguageDep
) -> Response:
    def action() -> str:
        user = service.get_user(session, user_id)
        service.set_disabled(session, user, False, actor=principal.actor, now=now, by=principal)
        return translator(lang)("flash.user_enabled").format(name=user.username)

    return _act(principal, session, action)


@router.post(USERS_PAGE + "/{user_id}/password", dependencies=[requires(Operation.accounts_manage)])
def reset_password(
    user_id: Id,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    new_password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> Response:
    def action() -> str:
        user = service.get_user(session, user_id)
        service.change_password(
            session,
            user,
            new_password=new_password,
            settings=settings,
            actor=principal.actor,
            now=now,
            must_change=True,
            by=principal,
        )
        return translator(lang)("flash.password_reset").format(name=user.username)

    return _act(principal, session, action)


Change = Literal["grant", "revoke"]


@router.post(USERS_PAGE + "/{user_id}/roles", dependencies=[requires(Operation.grants_manage)])
def change_role(
    user_id: Id,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    lang: LanguageDep,
    role: Annotated[Role, Form()],
    change: Annotated[Change, Form()],
) -> Response:
    def action() -> str:
        user = service.get_user(session, user_id)
        if change == "grant":
            service.grant_role(session, user, role, actor=principal.actor, now=now, by=principal)
        else:
            service.revoke_role(session, user, role, actor=principal.actor, now=now, by=principal)
        t = translator(lang)
        return t(f"flash.role_{change}").format(name=user.username, role=t(f"role.{role.value}"))

    return _act(principal, session, action)


@router.post(USERS_PAGE + "/{user_id}/scopes", dependencies=[requires(Operation.grants_manage)])
def change_scope(
    user_id: Id,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    lang: LanguageDep,
    kind: Annotated[ScopeKind, Form()],
    code: Annotated[str, Form(min_length=1, max_length=64)],
    change: Annotated[Change, Form()],
) -> Response:
    def action() -> str:
        user = service.get_user(session, user_id)
        if change == "grant":
            service.grant_scope(
                session, user, kind, code.strip(), actor=principal.actor, now=now, by=principal
            )
        else:
            service.revoke_scope(
                session, user, kind, code.strip(), actor=principal.actor, now=now, by=principal
            )
        t = translator(lang)
        scope = f"{t(f'scope.{kind.value}')} {code.strip()}"
        return t(f"flash.scope_{change}").format(name=user.username, scope=scope)

    return _act(principal, session, action)


@router.post("/admin/tokens", response_class=HTMLResponse, dependencies=[requires(Operation.tokens_manage)])
def create_token(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    user: Annotated[str, Form(min_length=1, max_length=150)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    days: Annotated[int, Form(ge=1, le=3650)] = 90,
) -> Response:
    """The secret is on this answer only (never in a URL, never stored): no redirect, no caching."""
    try:
        owner = service.get_user(session, user)
        secret, token = service.create_token(
            session, owner, name=name, days=days, settings=settings, actor=principal.actor, now=now
        )
    except PlanwatchError as exc:
        return back(principal, USERS_PAGE, error=exc.message)
    return _no_store(
        render(
            request,
            "admin_users.html",
            lang,
            principal=principal,
            new_token={"secret": secret, "token": token},
        )
    )


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[requires(Operation.tokens_manage)])
def revoke_token(
    token_id: Id, principal: PrincipalDep, session: SessionDep, now: NowDep, lang: LanguageDep
) -> Response:
    def action() -> str:
        token = service.revoke_token(session, token_id, actor=principal.actor, now=now)
        return translator(lang)("flash.token_revoked").format(name=f"{token.prefix}… ({token.name})")

    return _act(principal, session, action)


# ---------------------------------------------------------------- security log


@router.get("/admin/audit", response_class=HTMLResponse, dependencies=[requires(Operation.audit_read)])
def audit_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    lang: LanguageDep,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=150)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    verification = security_log.verify(session)
    rows = security_log.events(
        session, action=action.strip() or None, actor=actor.strip() or None, limit=limit
    )
    events = [
        {"event": e, "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""}
        for e in rows
    ]
    return _no_store(
        render(
            request,
            "admin_audit.html",
            lang,
            principal=principal,
            verification=verification,
            events=events,
            filters={"action": action, "actor": actor, "limit": limit},
        )
    )
