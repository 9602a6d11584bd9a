"""Pages of citizens' requests (市民诉求): the filing form (works on a phone, no sign-in), a
request's timeline (public steps for everyone, the whole timeline and the workflow forms for the
units that handle it) and a unit's queue (待办)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from planwatch.accounts.policy import Operation
from planwatch.errors import InvalidValueError, PlanwatchError
from planwatch.models.enums import RequestAction, RequestChannel, RequestKind, Satisfaction
from planwatch.service_requests.open311 import attributes_from_fields
from planwatch.service_requests.ratelimit import RateLimitExceededError
from planwatch.service_requests.service import (
    CLOSE_REASONS,
    NewRequest,
    act,
    get_request,
    record_callback,
    reveal_reporter,
    submit_request,
)
from planwatch.service_requests.views import detail_view, queue_view, service_types_view
from planwatch.web.deps import (
    Id,
    LanguageDep,
    NowDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    anonymous_form_token,
    app_limiter,
    requires,
    set_form_cookie,
    source_ip,
)
from planwatch.web.pages.flash import back, flash
from planwatch.web.pages.routes import render

router = APIRouter(include_in_schema=False)

CITIZEN_KINDS = (RequestKind.complaint, RequestKind.help, RequestKind.suggestion, RequestKind.consultation,
                 RequestKind.report, RequestKind.praise)  # fmt: skip
FORM_FIELDS = ("service_code", "description", "kind", "lat", "lon", "address_string", "first_name", "phone")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page(
    request: Request,
    session: SessionDep,
    lang: str,
    *,
    secure: bool,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = anonymous_form_token(request)
    response = render(
        request,
        "request_new.html",
        lang,
        status_code=status_code,
        types=service_types_view(session),
        kinds=CITIZEN_KINDS,
        form=form or {},
        error=error,
        csrf_token=token,
    )
    set_form_cookie(response, token, secure=secure)
    return _no_store(response)


@router.get("/requests/new", response_class=HTMLResponse)
def request_form(request: Request, session: SessionDep, settings: SettingsDep, lang: LanguageDep,
                 service: Annotated[str | None, Query(max_length=64)] = None) -> Response:  # fmt: skip
    return _form_page(
        request, session, lang, secure=settings.cookie_secure, form={"service_code": service or ""}
    )


def _float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


async def _typed_attributes(request: Request) -> dict[str, list[str]]:
    """The form's type-specific fields, named ``{service_code}:attribute[CODE]`` so that only the
    chosen type's answers count (the form shows every type's fields when scripts are off)."""
    form = await request.form()  # already read for the route's own fields
    typed: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if ":attribute[" in key and isinstance(value, str):
            typed.setdefault(key, []).append(value)
    return typed


# Starlette caps a form field at 1 MiB before the route runs; a longer paste is let through to be
# refused on the form with the description's own limit (the body limit still applies)
@router.post("/requests/new", response_class=HTMLResponse, form_limits={"max_part_size": 8 * 2**20})
def request_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    typed: Annotated[dict[str, list[str]], Depends(_typed_attributes)],
    service_code: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form()] = "",
    kind: Annotated[str, Form(max_length=32)] = "complaint",
    lat: Annotated[str, Form(max_length=32)] = "",
    lon: Annotated[str, Form(max_length=32)] = "",
    address_string: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    """Problems are answered on the form with everything typed kept; nothing is stored."""
    form: dict[str, Any] = dict(zip(FORM_FIELDS, (service_code, description, kind, lat, lon, address_string,
                                                  first_name, phone), strict=True))  # fmt: skip
    form["attributes"] = typed
    try:
        app_limiter(request, "request form").check(source_ip(request), what="requests from this address")
        if kind not in RequestKind._value2member_map_:
            raise InvalidValueError(f"kind {kind[:32]!r} is not a kind of request; choose one from the list")
        try:
            point = (_float(lat), _float(lon))
        except ValueError as exc:
            raise InvalidValueError(
                "lat/long must be numbers (WGS84 degrees); clear them and use the address"
            ) from exc
        filed = submit_request(
            session,
            NewRequest(
                service_code=service_code,
                description=description,
                kind=RequestKind(kind),
                lat=point[0],
                lon=point[1],
                address_string=address_string or None,
                first_name=first_name or None,
                phone=phone or None,
                attributes=attributes_from_fields(
                    [
                        (key.removeprefix(f"{service_code}:"), value)
                        for key, values in typed.items()
                        if key.startswith(f"{service_code}:")
                        for value in values
                    ]
                ),
            ),
            channel=RequestChannel.web,
            actor="web",
            now=now,
            settings=settings,
        )
    except PlanwatchError as exc:
        # the form keeps what was typed (a 5 MB paste is not echoed back)
        form["description"] = form["description"][: settings.request_description_max_chars]
        page = _form_page(request, session, lang, secure=settings.cookie_secure, form=form, error=exc.message,
                          status_code=exc.status_code if exc.status_code != 422 else 400)  # fmt: skip
        if isinstance(exc, RateLimitExceededError):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return RedirectResponse(f"/requests/{filed.id}?filed=1", status_code=303)


@router.get("/requests/queue", response_class=HTMLResponse, dependencies=[requires(Operation.requests_read)])
def request_queue(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    lang: LanguageDep,
    state: Annotated[
        str | None, Query(pattern="^(open|received|dispatched|accepted|in_progress|replied|closed|returned)$")
    ] = "open",
    overdue: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    queue = queue_view(session, principal, now=now, state=state or None, overdue=overdue, page=page)
    return render(request, "requests_queue.html", lang, queue=queue, state=state, overdue=overdue,
                  flash=flash(request, principal))  # fmt: skip


def _request_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
    lang: str,
    request_id: int,
    *,
    revealed: dict[str, str | None] | None = None,
) -> Response:
    detail = detail_view(session, request_id, principal=principal, now=now, settings=settings)
    context: dict[str, Any] = {
        "r": detail,
        "filed": request.query_params.get("filed") == "1",
        "flash": flash(request, principal),
        "csrf_token": principal.csrf_token or "",
        "revealed": revealed,
        "close_reasons": CLOSE_REASONS,
        "satisfactions": list(Satisfaction),
        "types": service_types_view(session) if detail.actions else [],
        "can_reveal": principal.can(Operation.pii_unmask),
    }
    return _no_store(render(request, "request.html", lang, **context))


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request,
    request_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
) -> Response:
    return _request_page(request, session, principal, settings, now, lang, request_id)


@router.post("/requests/{request_id}/act", dependencies=[requires(Operation.requests_read)])
def request_act(
    request_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    action: Annotated[str, Form(max_length=32)],
    note: Annotated[str, Form(max_length=4000)] = "",
    department_code: Annotated[str, Form(max_length=64)] = "",
    service_code: Annotated[str, Form(max_length=64)] = "",
    close_reason: Annotated[str, Form(max_length=32)] = "",
    visibility: Annotated[Literal["default", "public", "internal"], Form()] = "default",
) -> Response:
    """A workflow step from the request page; the outcome is flashed on it."""
    path = f"/requests/{request_id}"
    if action not in RequestAction._value2member_map_:
        return back(principal, path, error=f"unknown step {action!r}")
    try:
        with session.begin_nested():
            act(session, get_request(session, request_id, principal), RequestAction(action), now=now,
                principal=principal, note=note or None, department_code=department_code or None,
                service_code=service_code or None, close_reason=close_reason or None,
                public=None if visibility == "default" else visibility == "public")  # fmt: skip
    except PlanwatchError as exc:
        if exc.status_code in (403, 404):
            raise
        return back(principal, path, error=exc.message)
    return back(principal, path, ok=RequestAction(action).zh)


@router.post("/requests/{request_id}/callback", dependencies=[requires(Operation.requests_dispatch)])
def request_callback(
    request_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    resolved: Annotated[str, Form(pattern="^(yes|no)$")],
    satisfaction: Annotated[Satisfaction, Form()],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    path = f"/requests/{request_id}"
    try:
        with session.begin_nested():
            record_callback(session, get_request(session, request_id, principal), resolved=resolved == "yes",
                            satisfaction=satisfaction, now=now, principal=principal, note=note or None)  # fmt: skip
    except PlanwatchError as exc:
        if exc.status_code in (403, 404):
            raise
        return back(principal, path, error=exc.message)
    return back(principal, path, ok=RequestAction.callback.zh)


@router.post("/requests/{request_id}/reveal", response_class=HTMLResponse,
             dependencies=[requires(Operation.pii_unmask)])  # fmt: skip
def request_reveal(
    request: Request,
    request_id: Id,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    """The full details are shown once on this answer (not cached) and the reveal is audited."""
    shown = reveal_reporter(session, principal, get_request(session, request_id, principal), reason=reason,
                            settings=settings, now=now)  # fmt: skip
    return _request_page(request, session, principal, settings, now, lang, request_id, revealed=shown)
