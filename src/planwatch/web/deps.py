"""Request-scoped dependencies: a database session per request, settings, language, the clock,
and the acting principal (session cookie, API token or anonymous)."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request, Response
from sqlalchemy.orm import Session

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal, anonymous
from planwatch.accounts.service import principal_for, resolve_session, resolve_token
from planwatch.config import Settings
from planwatch.divisions.service import division_tree
from planwatch.errors import ForbiddenError, UnauthorizedError
from planwatch.evaluation.service import PUBLIC, Audience
from planwatch.service_requests.ratelimit import RateLimiter
from planwatch.web.i18n import LANGUAGES

Id = Annotated[int, Path(ge=1, le=2**53, description="A numeric id")]
"""Ids in paths: out-of-range numbers answer 422, never reach the database."""

SESSION_COOKIE = "pw_session"
CSRF_COOKIE = "pw_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (``scope="function"``),
    so a client that reads right after a write sees it."""
    with request.app.state.sessions() as session, session.begin():
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def get_language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang")
    if lang in LANGUAGES:
        return lang
    settings: Settings = request.app.state.settings
    return settings.language if settings.language in LANGUAGES else "zh"


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LanguageDep = Annotated[str, Depends(get_language)]
NowDep = Annotated[datetime, Depends(get_now)]


def source_ip(request: Request) -> str:
    return request.client.host if request.client else "-"


_LIMITERS_LOCK = threading.Lock()


def app_limiter(request: Request, name: str) -> RateLimiter:
    """The app's rate limiter called ``name`` (Open311 POSTs per api_key, web forms and survey
    answers per source address, bad api_keys per address): ``requests_per_minute`` events per
    rolling minute and key, on the app's clock (tests move time instead of sleeping), created on
    first use."""
    state = request.app.state
    with _LIMITERS_LOCK:
        limiters: dict[str, RateLimiter] | None = getattr(state, "rate_limiters", None)
        if limiters is None:
            limiters = state.rate_limiters = {}
        if name not in limiters:
            clock = state.clock
            limiters[name] = RateLimiter(
                state.settings.requests_per_minute, window=60, clock=lambda: clock().timestamp()
            )
        return limiters[name]


T = TypeVar("T")
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES = 128


def cached(request: Request, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or its result kept from an earlier call with the same ``key``.

    For expensive public reads (request metrics, hot spots): the key must hold everything the
    result depends on, the data's version included (e.g. the newest timeline event's id), so a
    kept result is never stale; the app keeps the ``CACHE_ENTRIES`` most recently used results.
    Two callers missing at once both compute (the lock is never held while computing)."""
    state = request.app.state
    with _CACHE_LOCK:
        store: OrderedDict[Hashable, Any] | None = getattr(state, "result_cache", None)
        if store is None:
            store = state.result_cache = OrderedDict()
        if key in store:
            store.move_to_end(key)
            return store[key]  # type: ignore[no-any-return]
    value = compute()
    with _CACHE_LOCK:
        store[key] = value
        while len(store) > CACHE_ENTRIES:
            store.popitem(last=False)
    return value


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = uuid.uuid4().hex
    return str(rid)


def get_principal(request: Request, session: SessionDep, settings: SettingsDep, now: NowDep) -> Principal:
    """Who is calling. A bearer token authenticates a machine client and never a browser session;
    a session cookie a person; neither, the anonymous public."""
    ip, rid = source_ip(request), request_id(request)
    authorization = request.headers.get("authorization", "")
    principal = anonymous(ip, rid)
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        token = resolve_token(session, secret.strip(), now=now) if scheme.lower() == "bearer" else None
        if token is None:
            request.state.principal = principal
            raise UnauthorizedError("the API token is unknown, expired or revoked")
        principal = principal_for(
            token.user,
            division_tree(session),
            via="token",
            settings=settings,
            now=now,
            source_ip=ip,
            request_id=rid,
            token_id=token.id,
        )
    elif cookie := request.cookies.get(SESSION_COOKIE):
        auth = resolve_session(session, cookie, settings=settings, now=now)
        if auth is not None:
            principal = principal_for(
                auth.user,
                division_tree(session),
                via="session",
                settings=settings,
                now=now,
                session_id=auth.id,
                csrf_token=auth.csrf_token,
                source_ip=ip,
                request_id=rid,
            )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_audience(principal: PrincipalDep) -> Audience:
    """Signed-in readers see unapproved values of the divisions in their view scope and draft
    plans; everyone else sees published plans and approved values only [ACC-4]."""
    if principal.can(Operation.data_read):
        return Audience(unapproved_in=principal.view, drafts=principal.can(Operation.catalogue_read))
    return PUBLIC


AudienceDep = Annotated[Audience, Depends(get_audience)]


def requires(operation: Operation) -> Any:
    """A route dependency that checks the policy table before the request body is even read.
    Routes declare it in their decorator; the route sweep test reads ``operation`` back."""

    def permission(principal: PrincipalDep) -> None:
        principal.require(operation)

    permission.operation = operation  # type: ignore[attr-defined]
    return Depends(permission)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ANONYMOUS_WRITES = re.compile(
    r"^(/api/session|/login|/requests/new|/surveys/[A-Za-z0-9_\-]{1,64}|/api/surveys/[A-Za-z0-9_\-]{1,64}/responses)$"
)
"""The only unsafe requests the anonymous public may make: signing in, filing a request (诉求) and
answering a demand survey."""
KEY_AUTHENTICATED_WRITES = re.compile(r"^/open311/v2/(requests|servicerequestupdates)\.[a-z]{1,8}$")
"""Open311 POSTs: authenticated by the client's ``api_key`` inside the route, never by a cookie,
so no CSRF token applies."""


async def csrf_guard(request: Request, principal: PrincipalDep) -> None:
    """The public may only read (and sign in) [ACC-4]. Every unsafe request made with a browser session carries the session's CSRF token (header
    ``X-CSRF-Token`` or form field ``csrf_token``); an anonymous form (the login form) carries the
    token of its ``pw_csrf`` cookie. Token-authenticated and JSON-only anonymous calls need none."""
    if request.method not in UNSAFE or KEY_AUTHENTICATED_WRITES.match(request.url.path):
        return
    if principal.anonymous and not ANONYMOUS_WRITES.match(request.url.path):
        raise ForbiddenError("sign in first (登录后再操作); the public may only read")
    is_form = request.headers.get("content-type", "").startswith(FORM_TYPES)
    given = request.headers.get(CSRF_HEADER, "")
    if not given and is_form:
        given = str((await request.form()).get("csrf_token", ""))
    if principal.via == "session":
        expected = principal.csrf_token or ""
    elif principal.anonymous and is_form:
        expected = request.cookies.get(CSRF_COOKIE, "")
    else:
        return
    if not (expected and given and hmac.compare_digest(given.encode(), expected.encode())):
        raise ForbiddenError("missing or wrong CSRF token; reload the page and try again (请刷新页面后重试)")


_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")


def anonymous_form_token(request: Request) -> str:
    """The CSRF token an anonymous form carries (double submit: the same value in the ``pw_csrf``
    cookie, set with ``set_form_cookie``); a valid existing cookie is kept so other open forms work."""
    token = request.cookies.get(CSRF_COOKIE, "")
    return token if _FORM_TOKEN.fullmatch(token) else secrets.token_urlsafe(32)


def set_form_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=secure, samesite="lax", path="/")
