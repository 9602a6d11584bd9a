"""Open311 GeoReport v2 at ``/open311/v2`` (XML, which the spec requires, and JSON), plus
FixMyStreet's ``servicerequestupdates``.

Every answer, errors included, is in the spec's format: an error is
``<errors><error><code/><description/></error></errors>`` (or its JSON array) with 404 for a
resource that does not exist, 403 for a missing or bad ``api_key``, 429 (with ``Retry-After``) for
a client over its rate, and 400 for anything else. The routes convert planwatch's errors
themselves (``Open311Route``), so the app's usual JSON error handler never answers here.

POSTs are form-encoded and authenticated by the ``api_key`` field, not by a session: they carry no
cookies and no CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy.exc
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from planwatch.accounts.principal import anonymous
from planwatch.audit.security_log import record
from planwatch.config import Settings
from planwatch.errors import (
    ForbiddenError,
    InvalidValueError,
    NotFoundError,
    PlanwatchError,
    UnauthorizedError,
)
from planwatch.models import Open311Client
from planwatch.models.enums import RequestChannel
from planwatch.service_requests import open311
from planwatch.service_requests.open311 import MEDIA_TYPES, Document, Format
from planwatch.service_requests.ratelimit import RateLimitExceededError
from planwatch.service_requests.service import authenticate_client, submit_request
from planwatch.web.deps import NowDep, SessionDep, SettingsDep, app_limiter, source_ip

PREFIX = "/open311/v2"


# ---------------------------------------------------------------------------------------------
# errors in the spec's format


def _status_for(exc: Exception) -> int:
    if isinstance(exc, RateLimitExceededError):
        return 429
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ForbiddenError | UnauthorizedError):
        return 403
    if isinstance(exc, StarletteHTTPException) and exc.status_code in (404, 405):
        return 404
    return 400


def _message(exc: Exception) -> str:
    if isinstance(exc, PlanwatchError):
        return exc.message
    if isinstance(exc, RequestValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p not in ('body', 'query', 'path'))}: {err['msg']}"
            for err in exc.errors()
        )
    if isinstance(exc, sqlalchemy.exc.DataError):
        return (
            "the request holds a character or value the database cannot store (for example a NUL "
            "character); remove it and try again (请删除不可见字符后重试)"
        )
    if isinstance(exc, StarletteHTTPException):
        return str(exc.detail)
    return "the request could not be processed"


def _requested_format(request: Request) -> Format:
    """The format the client asked for; XML (the required one) when it cannot be told."""
    fmt = request.path_params.get("fmt") or request.url.path.rpartition(".")[2]
    return "json" if fmt == "json" else "xml"


def _record_denial(request: Request, status: int, message: str) -> None:
    """A refused api_key goes to the security log, in a transaction of its own (the request's
    own was rolled back with the error)."""
    principal = getattr(request.state, "principal", None) or anonymous(
        request.client.host if request.client else "-", getattr(request.state, "request_id", "-")
    )
    with request.app.state.sessions() as session, session.begin():
        record(
            session,
            principal.actor,
            "access.denied",
            now=request.app.state.clock(),
            object_type="route",
            object_id=f"{request.method} {request.url.path}",
            result="denied",
            detail={"status": status, "reason": "open311", "message": message[:300]},
        )


async def error_response(request: Request, exc: Exception) -> Response:
    """``exc`` as the spec's error document, in the format the client asked for."""
    status = _status_for(exc)
    message = _message(exc)
    if status == 403:
        await run_in_threadpool(_record_denial, request, status, message)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitExceededError) else None
    fmt = _requested_format(request)
    body = open311.render(open311.error_document([(status, message)]), fmt)
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)


HANDLED = (PlanwatchError, RequestValidationError, StarletteHTTPException, sqlalchemy.exc.DataError)


class Open311Route(APIRoute):
    """A route whose errors, from its dependencies (the app's CSRF guard too) or its body, answer
    in the spec's error format instead of planwatch's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except HANDLED as exc:
                return await error_response(request, exc)

        return open311_handler


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)

SPEC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/xml": {}, "application/json": {}}, "description": "The document"},
    400: {"description": "`<errors>`: a bad argument (the description says which)"},
    404: {"description": "`<errors>`: no such resource, service_code, jurisdiction_id or format"},
}
POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    **SPEC_RESPONSES,
    403: {"description": "`<errors>`: api_key missing or bad"},
    429: {"description": "`<errors>`: too many POSTs from this api_key; see Retry-After"},
}

Fmt = Annotated[str, Path(description="The format: xml (required by the spec) or json")]
Jurisdiction = Annotated[
    str | None,
    Query(description="Optional on this single-jurisdiction endpoint; if given, must be this city's id"),
]


def _answer(document: Document, fmt: Format) -> Response:
    return Response(open311.render(document, fmt), media_type=MEDIA_TYPES[fmt])


def _checked(fmt: str, jurisdiction_id: str | None, settings: Settings) -> Format:
    format_ = open311.parse_format(fmt)
    open311.check_jurisdiction({"jurisdiction_id": jurisdiction_id}, settings)
    return format_


# ---------------------------------------------------------------------------------------------
# posted forms and the rate limit

MAX_FORM_FIELDS = 200


async def posted_form(request: Request, settings: SettingsDep) -> FormData:
    """The form-encoded body. A field may be as large as the whole body limit, so that an
    over-long description is answered with its length and the limit rather than a parser error."""
    return await request.form(
        max_fields=MAX_FORM_FIELDS, max_files=0, max_part_size=settings.upload_max_bytes
    )


FormDep = Annotated[FormData, Depends(posted_form)]


def _fields(form: FormData, request: Request) -> list[tuple[str, str]]:
    """The posted fields as text; ``api_key`` and ``jurisdiction_id`` are also taken from the query
    string, where some clients put them."""
    fields: list[tuple[str, str]] = []
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise InvalidValueError(
                f"{key}: files are not accepted; upload the photo elsewhere and send its URL as media_url"
            )
        fields.append((key, value))
    posted = {key for key, _ in fields}
    for name in ("api_key", "jurisdiction_id"):
        if name not in posted and name in request.query_params:
            fields.append((name, request.query_params[name]))
    return fields


def _client(
    session: Session, fields: list[tuple[str, str]], request: Request, settings: Settings, now: datetime
) -> Open311Client:
    """The client of the posted api_key (403 if bad), counted against its rate (429 if over).
    Bad keys count against the sending address: past ``requests_per_minute`` of them in a
    minute the address's bad keys get 429 with Retry-After instead of 403 (a guessing client is
    slowed down and does not fill the security log); good keys from it still work."""
    try:
        client = authenticate_client(session, open311.first_field(fields, "api_key"), now=now)
    except ForbiddenError:
        app_limiter(request, "open311 bad keys").check(
            source_ip(request), what="POSTs with a missing or bad api_key from this address"
        )
        raise
    app_limiter(request, "open311 POSTs").check(client.id, what="POSTs from this api_key")
    return client


# ---------------------------------------------------------------------------------------------
# routes


@router.get("/discovery.{fmt}", responses=SPEC_RESPONSES, summary="Open311 service discovery (服务发现)")
def open311_discovery(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Endpoints, formats, contact and how to get an api_key."""
    format_ = _checked(fmt, jurisdiction_id, settings)
    url = str(request.base_url).rstrip("/") + PREFIX
    return _answer(open311.discovery_document(session, url=url, settings=settings), format_)


@router.get("/services.{fmt}", responses=SPEC_RESPONSES, summary="Open311 service list (诉求类型)")
def open311_services(
    session: SessionDep, settings: SettingsDep, fmt: Fmt, jurisdiction_id: Jurisdiction = None
) -> Response:
    """Every request type with its code, group and keywords."""
    return _answer(open311.services_document(session), _checked(fmt, jurisdiction_id, settings))


@router.get(
    "/services/{service_code}.{fmt}",
    responses=SPEC_RESPONSES,
    summary="Open311 service definition (诉求类型属性)",
)
def open311_service_definition(
    session: SessionDep,
    settings: SettingsDep,
    service_code: str,
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The extra attributes a request type asks for."""
    format_ = _checked(fmt, jurisdiction_id, settings)
    return _answer(open311.service_definition_document(session, service_code), format_)


POST_FIELDS = (
    "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "zipcode",
    "description", "media_url", "email", "phone", "first_name", "last_name", "device_id", "account_id",
)  # fmt: skip
POST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code"],
                    "properties": {name: {"type": "string"} for name in POST_FIELDS},
                    "description": "Plus attribute[CODE]=value, and attribute[CODE][]=value repeated for a "
                    "multivaluelist. One location is required: lat and long, address_string or address_id.",
                }
            }
        },
    }
}


@router.post(
    "/requests.{fmt}",
    responses=POST_RESPONSES,
    openapi_extra=POST_BODY,
    summary="Open311 POST service request (提交诉求)",
)
def open311_create_request(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep, form: FormDep, fmt: Fmt
) -> Response:
    """File a request; answers its service_request_id and a notice of who handles it by when."""
    fields = _fields(form, request)
    format_ = _checked(fmt, open311.first_field(fields, "jurisdiction_id"), settings)
    client = _client(session, fields, request, settings, now)
    created = submit_request(
        session,
        open311.new_request(fields),
        channel=RequestChannel.open311,
        actor=f"open311:{client.name}",
        now=now,
        settings=settings,
        client=client,
    )
    return _answer(open311.created_document(created), format_)


@router.get(
    "/tokens/{token}.{fmt}", responses=SPEC_RESPONSES, summary="Open311 service_request_id from a token"
)
def open311_token(
    session: SessionDep, settings: SettingsDep, token: str, fmt: Fmt, jurisdiction_id: Jurisdiction = None
) -> Response:
    """The request a token stands for."""
    format_ = _checked(fmt, jurisdiction_id, settings)
    return _answer(open311.token_document(session, token), format_)


@router.get("/requests.{fmt}", responses=SPEC_RESPONSES, summary="Open311 GET service requests (诉求列表)")
def open311_requests(
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[
        str | None, Query(description="Comma-separated ids; overrides every other argument")
    ] = None,
    service_code: Annotated[str | None, Query(description="Comma-separated service codes")] = None,
    start_date: Annotated[
        str | None, Query(description="W3C datetime; default: 90 days before end_date")
    ] = None,
    end_date: Annotated[str | None, Query(description="W3C datetime; default: now")] = None,
    status: Annotated[str | None, Query(description="open, closed, or open,closed")] = None,
    page: Annotated[str | None, Query(description="Extension: page number, from 1")] = None,
    page_size: Annotated[str | None, Query(description="Extension: requests per page, at most 1000")] = None,
    extensions: Annotated[
        str | None, Query(description="Extension: true adds extended_attributes and notes (the timeline)")
    ] = None,
) -> Response:
    """Requests in a window of at most 90 days, newest first, at most 1,000 per page."""
    format_ = _checked(fmt, jurisdiction_id, settings)
    params = {
        "service_request_id": service_request_id,
        "service_code": service_code,
        "start_date": start_date,
        "end_date": end_date,
        "status": status,
        "page": page,
        "page_size": page_size,
        "extensions": extensions,
    }
    query = open311.parse_request_query(params, now=now)
    return _answer(open311.requests_document(session, query), format_)


@router.get(
    "/requests/{service_request_id}.{fmt}",
    responses=SPEC_RESPONSES,
    summary="Open311 GET one service request",
)
def open311_request(
    session: SessionDep,
    settings: SettingsDep,
    service_request_id: str,
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
    extensions: Annotated[str | None, Query(description="Extension: true adds the timeline")] = None,
) -> Response:
    """One request, still as a list of one."""
    format_ = _checked(fmt, jurisdiction_id, settings)
    wanted = open311.parse_flag({"extensions": extensions}, "extensions")
    document = open311.request_document(session, service_request_id, extensions=wanted)
    return _answer(document, format_)


@router.get(
    "/servicerequestupdates.{fmt}",
    responses=POST_RESPONSES,
    summary="FixMyStreet GET service request updates (办理进展)",
)
def open311_updates(
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    fmt: Fmt,
    api_key: Annotated[str | None, Query(description="The client's api_key (required)")] = None,
    jurisdiction_id: Jurisdiction = None,
    start_date: Annotated[
        str | None, Query(description="W3C datetime; default: 90 days before end_date")
    ] = None,
    end_date: Annotated[str | None, Query(description="W3C datetime; default: now")] = None,
    page: Annotated[str | None, Query(description="Page number, from 1")] = None,
    page_size: Annotated[str | None, Query(description="Updates per page, at most 1000")] = None,
) -> Response:
    """The public steps of every request in a window, oldest first, with FixMyStreet's extended
    status in external_status_code."""
    format_ = _checked(fmt, jurisdiction_id, settings)
    authenticate_client(session, api_key, now=now)
    params = {"start_date": start_date, "end_date": end_date, "page": page, "page_size": page_size}
    return _answer(open311.updates_document(session, open311.parse_update_query(params, now=now)), format_)


@router.post(
    "/servicerequestupdates.{fmt}",
    responses=POST_RESPONSES,
    summary="FixMyStreet POST a citizen's update (补充说明)",
)
def open311_post_update(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep, form: FormDep, fmt: Fmt
) -> Response:
    """A citizen's note on a request this client submitted; answers its update_id."""
    fields = _fields(form, request)
    format_ = _checked(fmt, open311.first_field(fields, "jurisdiction_id"), settings)
    client = _client(session, fields, request, settings, now)
    event = open311.add_citizen_update(session, fields, client=client, now=now)
    return _answer(open311.update_created_document(event), format_)


@router.get("/{path:path}", include_in_schema=False)
def open311_unknown(path: str) -> Response:
    """Any other GET under the endpoint: the spec's 404, not an HTML page. (GET only: an unknown
    POST stays an anonymous write, which the app's CSRF guard refuses before any route runs.)"""
    raise NotFoundError(
        f"no Open311 resource {path[:80]!r}; see discovery.xml (services, requests, tokens, servicerequestupdates)"
    )
