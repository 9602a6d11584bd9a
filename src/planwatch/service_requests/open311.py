"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2): the documents the API answers with, their
XML and JSON forms, and the queries behind them.

A document is plain data: a root element name and its content (a list of items for the list
documents — services, requests, errors, request updates — or a mapping for the discovery document
and a service definition). ``to_xml`` writes it as the spec's schemaless XML (UTF-8, no
namespace); ``to_json`` as the spec's mechanical "Spark" mapping of that XML, in which every list
becomes an array and an empty element becomes ``null``.

What GET output never holds: the reporter's name, e-mail, phone, device or account (Open311 takes
them in through POST only). Phone and ID numbers that citizens type into free text are masked.

Extensions supported (GeoReport v2 "Extensions" page and FixMyStreet):

- ``page`` / ``page_size`` on ``GET /requests`` (page_size ≤ 1,000);
- ``extensions=true``: ``extended_attributes`` (internal 12345 state, kind, channel) and ``notes``,
  the request's public timeline;
- FixMyStreet's ``servicerequestupdates`` with its extended statuses (``external_status_code``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from planwatch.clock import as_utc
from planwatch.config import Settings
from planwatch.errors import ForbiddenError, InvalidValueError, NotFoundError
from planwatch.models import Department, Open311Client, RequestEvent, ServiceRequest, ServiceType
from planwatch.models.enums import OPEN311_CLOSED, RequestAction, RequestState
from planwatch.pii import mask_text
from planwatch.service_requests.service import (
    NewRequest,
    act,
    check_media_url,
    public_events_clause,
    public_note,
)

__all__ = [
    "MAX_REQUESTS",
    "MEDIA_TYPES",
    "SPECIFICATION",
    "Document",
    "RequestQuery",
    "UpdateQuery",
    "add_citizen_update",
    "attributes_from_fields",
    "check_jurisdiction",
    "created_document",
    "discovery_document",
    "error_document",
    "first_field",
    "fms_status",
    "new_request",
    "parse_flag",
    "parse_format",
    "parse_request_id",
    "parse_request_query",
    "parse_update_query",
    "parse_w3c",
    "query_requests",
    "query_updates",
    "render",
    "request_document",
    "requests_document",
    "service_definition_document",
    "services_document",
    "to_json",
    "to_xml",
    "token_document",
    "update_created_document",
    "updates_document",
    "w3c",
    "xml_text",
]

Format = Literal["xml", "json"]
MEDIA_TYPES: dict[str, str] = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_REQUESTS = 1000
"""The spec's volume cap: at most 1,000 requests per answer (and the largest ``page_size``)."""
WINDOW = timedelta(days=90)
"""The spec's default and largest ``start_date``–``end_date`` range."""
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Datetimes are written in Beijing time, the jurisdiction's own (no daylight saving)."""
SIMULATED_NOTICE = "模拟数据 / simulated demo data, not a real citizen's request"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

ITEMS: dict[str, str] = {
    "services": "service",
    "service_requests": "request",
    "service_requests_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
}
"""The element name of one item of each list (``<services><service>…``); JSON drops it."""

# Characters XML 1.0 cannot carry even as references; written as U+FFFD in both formats so that
# the XML and the JSON of one document always say the same thing.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Document:
    """One Open311 answer: the XML root element and its content."""

    root: str
    content: list[Any] | dict[str, Any]


# ---------------------------------------------------------------------------------------------
# serialisation


def xml_text(text: str) -> str:
    """``text`` as both formats carry it: characters XML 1.0 cannot hold (most C0 controls, lone
    surrogates, U+FFFE/U+FFFF) become U+FFFD; everything else is kept exactly."""
    return _NOT_XML.sub("\ufffd", text)


def w3c(moment: datetime) -> str:
    """A W3C datetime with its offset, in Beijing time: ``2026-05-01T08:00:00+08:00``."""
    return as_utc(moment).astimezone(CHINA).isoformat(timespec="seconds")


def _scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return w3c(value)
    text = xml_text(str(value))
    return text or None  # an empty element is null in the Spark mapping


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, list):
        tag = ITEMS[element.tag]
        for item in value:
            _fill(ET.SubElement(element, tag), item)
    elif isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    else:
        scalar = _scalar(value)
        if isinstance(scalar, bool):
            element.text = "true" if scalar else "false"
        elif scalar is not None:
            element.text = str(scalar)


def to_xml(document: Document) -> bytes:
    """The document as the spec's XML: declaration, one root, no namespace, UTF-8.

    A carriage return is written as ``&#13;`` because XML parsers turn a literal one into a line
    feed; every other character XML can hold comes back exactly as it went in.
    """
    root = ET.Element(document.root)
    _fill(root, document.content)
    body = ET.tostring(root, encoding="unicode").replace("\r", "&#13;")
    return (XML_DECLARATION + body).encode("utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return _scalar(value)


def to_json(document: Document) -> bytes:
    """The document as JSON (the Spark mapping of its XML: lists are arrays, the list documents
    are top-level arrays). ``<``, ``>`` and ``&`` are written as ``\\u`` escapes, so text such as
    ``<script>`` never appears raw in the body even though it reads back unchanged."""
    text = json.dumps(_jsonable(document.content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


def render(document: Document, fmt: Format) -> bytes:
    """The document in the format a resource was asked for."""
    return to_xml(document) if fmt == "xml" else to_json(document)


def error_document(errors: Sequence[tuple[int, str]]) -> Document:
    """``<errors><error><code/><description/></error>…</errors>``, or the JSON array of them."""
    return Document("errors", [{"code": code, "description": text} for code, text in errors])


# ---------------------------------------------------------------------------------------------
# arguments


def _arg(params: Mapping[str, str | None], name: str) -> str | None:
    """An optional argument; sent empty it is the same as not sent (the spec's rule)."""
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_format(fmt: str) -> Format:
    """``xml`` or ``json``, the suffix of every resource."""
    if fmt == "xml":
        return "xml"
    if fmt == "json":
        return "json"
    raise NotFoundError(f"no format {fmt[:20]!r}: add .xml or .json to the resource (Open311 formats)")


def check_jurisdiction(params: Mapping[str, str | None], settings: Settings) -> None:
    """A single-jurisdiction endpoint: ``jurisdiction_id`` may be left out or name this one."""
    given = _arg(params, "jurisdiction_id")
    if given is not None and given.lower() != settings.jurisdiction_id.lower():
        raise NotFoundError(
            f"jurisdiction_id {given[:80]!r} is not served here; this endpoint serves "
            f"{settings.jurisdiction_id!r} (or leave jurisdiction_id out)"
        )


_UNENCODED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def parse_w3c(value: str, name: str) -> datetime:
    """A W3C datetime argument (``2026-05-01T00:00:00Z``, ``…+08:00``, or a date); without an
    offset it is read as Beijing time. A ``+`` that reached us as a space (an unencoded query
    string) is read as the ``+`` it was."""
    text = _UNENCODED_OFFSET.sub(r"\1+\2", value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(
            f"{name} {value[:40]!r} is not a W3C datetime; write it like 2026-05-01T00:00:00+08:00 "
            "or 2026-05-01T00:00:00Z (日期时间格式错误)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA)


def _window(params: Mapping[str, str | None], now: datetime) -> tuple[datetime, datetime]:
    """``start_date``/``end_date``: default the last 90 days; a range may not exceed 90 days."""
    start_text, end_text = _arg(params, "start_date"), _arg(params, "end_date")
    start = parse_w3c(start_text, "start_date") if start_text else None
    end = parse_w3c(end_text, "end_date") if end_text else None
    try:
        if start is None:
            end = end or now
            start = end - WINDOW
        elif end is None:
            end = start + WINDOW
        start, end = as_utc(start).astimezone(UTC), as_utc(end).astimezone(UTC)
    except OverflowError:
        raise InvalidValueError(
            "start_date or end_date is too close to the year 1 or 9999; give dates of this era"
        ) from None
    if end < start:
        raise InvalidValueError(f"end_date {w3c(end)} is before start_date {w3c(start)}")
    if end - start > WINDOW:
        days = (end - start).total_seconds() / 86400
        raise InvalidValueError(
            f"the range from start_date to end_date spans {days:.1f} days; Open311 allows at most 90 days "
            "per query, so query the period in parts of up to 90 days (查询时段不能超过90天)"
        )
    return start, end


def _positive_int(text: str, name: str, *, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= high:
        raise InvalidValueError(f"{name} must be a whole number from 1 to {high:,}, not {text[:20]!r}")
    return int(text)


def _paging(params: Mapping[str, str | None]) -> tuple[int, int]:
    page_text, size_text = _arg(params, "page"), _arg(params, "page_size")
    page = _positive_int(page_text, "page", high=10**9) if page_text else 1
    size = _positive_int(size_text, "page_size", high=MAX_REQUESTS) if size_text else MAX_REQUESTS
    return page, size


def parse_flag(params: Mapping[str, str | None], name: str) -> bool:
    """A ``true``/``false`` argument such as ``extensions``; absent or empty is false."""
    value = _arg(params, name)
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise InvalidValueError(f"{name} must be true or false, not {value[:20]!r}")


def _comma_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class RequestQuery:
    """The arguments of ``GET /requests`` once checked."""

    ids: tuple[int, ...] = ()
    """``service_request_id``: when given it overrides every other argument."""
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] = frozenset({"open", "closed"})
    page: int = 1
    page_size: int = MAX_REQUESTS
    extensions: bool = False


def parse_request_id(text: str) -> int:
    """A ``service_request_id`` argument: a positive whole number."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**53:
        raise InvalidValueError(f"service_request_id {text[:30]!r} is not a request number")
    return int(text)


def parse_request_query(params: Mapping[str, str | None], *, now: datetime) -> RequestQuery:
    """Check the arguments of ``GET /requests``; raise ``InvalidValueError`` (400) naming the bad one.

    Parameters
    ----------
    params
        The query string (``service_request_id``, ``service_code``, ``start_date``, ``end_date``,
        ``status``, ``page``, ``page_size``, ``extensions``).
    now
        The end of the default 90-day window.
    """
    extensions = parse_flag(params, "extensions")
    ids = _comma_list(_arg(params, "service_request_id"))
    if ids:
        if len(ids) > MAX_REQUESTS:
            raise InvalidValueError(f"at most {MAX_REQUESTS:,} service_request_id values per query")
        return RequestQuery(ids=tuple(parse_request_id(i) for i in ids), extensions=extensions)
    statuses = _comma_list(_arg(params, "status"))
    unknown = [s for s in statuses if s not in ("open", "closed")]
    if unknown:
        raise InvalidValueError(f"status {unknown[0][:20]!r} is not open or closed (comma-separate both)")
    start, end = _window(params, now)
    page, page_size = _paging(params)
    return RequestQuery(
        service_codes=tuple(_comma_list(_arg(params, "service_code"))),
        start=start,
        end=end,
        statuses=frozenset(statuses) or frozenset({"open", "closed"}),
        page=page,
        page_size=page_size,
        extensions=extensions,
    )


@dataclass(frozen=True)
class UpdateQuery:
    """The arguments of FixMyStreet's ``GET /servicerequestupdates``."""

    start: datetime
    end: datetime
    page: int = 1
    page_size: int = MAX_REQUESTS


def parse_update_query(params: Mapping[str, str | None], *, now: datetime) -> UpdateQuery:
    """``start_date``/``end_date`` (matched against each update's time; the same 90-day rules as
    requests) and ``page``/``page_size``."""
    start, end = _window(params, now)
    page, page_size = _paging(params)
    return UpdateQuery(start=start, end=end, page=page, page_size=page_size)


def first_field(fields: Sequence[tuple[str, str]], name: str) -> str | None:
    """The first value posted under ``name`` (None when absent)."""
    return next((value for key, value in fields if key == name), None)


_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")


def _number(fields: Sequence[tuple[str, str]], name: str) -> float | None:
    text = (first_field(fields, name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidValueError(f"{name} {text[:30]!r} is not a number; send WGS84 degrees such as 30.6598")
    return value


def attributes_from_fields(fields: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    """``attribute[CODE]`` fields, and the repeated ``attribute[CODE][]`` of a multivaluelist, as
    the request's attributes (checked against the type's definition when the request is filed)."""
    attributes: dict[str, str | list[str]] = {}
    for key, value in fields:
        match = _ATTRIBUTE.match(key)
        if match is None:
            continue
        code, many = match.group(1), match.group(2)
        if many or code in attributes:
            previous = attributes.get(code, [])
            attributes[code] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            attributes[code] = value
    return attributes


def new_request(fields: Sequence[tuple[str, str]]) -> NewRequest:
    """The Open311 POST fields as a ``NewRequest``; ``attribute[CODE]`` and the repeated
    ``attribute[CODE][]`` of a multivaluelist become the request's attributes."""
    service_code = (first_field(fields, "service_code") or "").strip()
    if not service_code:
        raise InvalidValueError("service_code is required; GET services.xml lists the request types")
    attributes = attributes_from_fields(fields)

    def text(name: str) -> str | None:
        value = first_field(fields, name)
        return value if value is not None and value.strip() else None

    return NewRequest(
        service_code=service_code,
        description=first_field(fields, "description") or "",
        lat=_number(fields, "lat"),
        lon=_number(fields, "long"),
        address_string=text("address_string"),
        address_id=text("address_id"),
        zipcode=text("zipcode"),
        media_url=text("media_url"),
        attributes=attributes,
        first_name=text("first_name"),
        last_name=text("last_name"),
        email=text("email"),
        phone=text("phone"),
        device_id=text("device_id"),
        account_id=text("account_id"),
    )


def add_citizen_update(
    session: Session, fields: Sequence[tuple[str, str]], *, client: Open311Client, now: datetime
) -> RequestEvent:
    """A citizen's update posted through FixMyStreet's ``servicerequestupdates``: a public note
    (备注) on a request the same client filed. ``status`` is not taken from the citizen (the
    handling unit moves the request); a ``media_url`` is kept as a link in the note.

    Raises
    ------
    InvalidValueError
        No ``service_request_id`` or ``description``, or a bad ``media_url``.
    NotFoundError
        No such request.
    ForbiddenError
        The request was filed through another client.
    """
    id_text = (first_field(fields, "service_request_id") or "").strip()
    if not id_text:
        raise InvalidValueError("service_request_id is required: the request the update is about")
    request = session.get(ServiceRequest, parse_request_id(id_text))
    if request is None:
        raise NotFoundError(f"no service request {id_text[:30]!r}")
    if request.client_id != client.id:
        raise ForbiddenError(
            f"service request {request.id} was not submitted through this api_key; only the client that "
            "filed a request may add the citizen's updates to it"
        )
    description = (first_field(fields, "description") or "").strip()
    if not description:
        raise InvalidValueError("description is required: the text of the citizen's update")
    media_url = (first_field(fields, "media_url") or "").strip()
    if media_url:
        check_media_url(media_url)
        description = f"{description}\n附件 / media: {media_url}"
    event = act(
        session,
        request,
        RequestAction.note,
        now=now,
        actor=f"open311:{client.name}",
        note=description,
        public=True,
    )
    session.flush()
    return event


# ---------------------------------------------------------------------------------------------
# queries


def query_requests(session: Session, query: RequestQuery) -> list[ServiceRequest]:
    """The requests ``query`` selects, newest first, at most one page (≤ 1,000)."""
    statement = select(ServiceRequest).options(
        joinedload(ServiceRequest.service_type), joinedload(ServiceRequest.department)
    )
    if query.ids:
        statement = statement.where(ServiceRequest.id.in_(query.ids)).order_by(ServiceRequest.id)
        return list(session.scalars(statement.limit(MAX_REQUESTS)))
    if query.service_codes:
        statement = statement.join(ServiceRequest.service_type).where(
            ServiceType.code.in_(query.service_codes)
        )
    if query.start is not None:
        statement = statement.where(ServiceRequest.requested_at >= query.start)
    if query.end is not None:
        statement = statement.where(ServiceRequest.requested_at <= query.end)
    closed = list(OPEN311_CLOSED)
    if query.statuses == {"open"}:
        statement = statement.where(ServiceRequest.state.not_in(closed))
    elif query.statuses == {"closed"}:
        statement = statement.where(ServiceRequest.state.in_(closed))
    statement = (
        statement.order_by(ServiceRequest.requested_at.desc(), ServiceRequest.id.desc())
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    return list(session.scalars(statement))


def public_events(session: Session, request_ids: Sequence[int]) -> dict[int, list[RequestEvent]]:
    """The public timeline of each request (what Open311 may show), oldest first."""
    timeline: dict[int, list[RequestEvent]] = {id_: [] for id_ in request_ids}
    if not request_ids:
        return timeline
    events = session.scalars(
        select(RequestEvent)
        .options(joinedload(RequestEvent.department))
        .where(
            RequestEvent.request_id.in_(request_ids),
            public_events_clause(),
        )
        .order_by(RequestEvent.at, RequestEvent.id)
    )
    for event in events:
        timeline[event.request_id].append(event)
    return timeline


def query_updates(session: Session, query: UpdateQuery) -> list[tuple[RequestEvent, ServiceRequest]]:
    """Public timeline events in the window, oldest first (the order a client syncs in)."""
    statement = (
        select(RequestEvent, ServiceRequest)
        .join(ServiceRequest, ServiceRequest.id == RequestEvent.request_id)
        .options(joinedload(RequestEvent.department))
        .where(
            public_events_clause(),
            RequestEvent.at >= query.start,
            RequestEvent.at <= query.end,
        )
        .order_by(RequestEvent.at, RequestEvent.id)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    return [(event, request) for event, request in session.execute(statement)]


# ---------------------------------------------------------------------------------------------
# documents


def _masked(text: str | None) -> str | None:
    return mask_text(text) if text else text


def _status(state: RequestState) -> Literal["open", "closed"]:
    return "closed" if state in OPEN311_CLOSED else "open"


def services_fingerprint(session: Session) -> str:
    """A short digest of the service list and definitions: it changes exactly when they do, which
    is what the discovery ``changeset`` tells clients (refresh your cached services)."""
    document = services_document(session)
    definitions = [t.attributes for t in session.scalars(select(ServiceType).order_by(ServiceType.code))]
    payload = json.dumps([document.content, definitions], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def discovery_document(session: Session, *, url: str, settings: Settings) -> Document:
    """The service discovery document: contact, how to get a key, and this one endpoint.

    Parameters
    ----------
    url
        The endpoint's base URL as clients reach it (``…/open311/v2``).
    """
    changeset = services_fingerprint(session)
    return Document(
        "discovery",
        {
            "changeset": changeset,
            "contact": (
                f"Open311 GeoReport v2 endpoint of {settings.jurisdiction_id} (planwatch); for a request "
                "itself call the citizens' service hotline 12345 (市民服务热线)"
            ),
            "key_service": (
                "POST needs an api_key: ask the administrators of this planwatch installation, who "
                "issue one per application (请向平台管理员申请 api_key)"
            ),
            "max_requests": MAX_REQUESTS,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": url,
                    "changeset": changeset,
                    "type": "test" if settings.demo else "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


def _active_types(session: Session) -> list[ServiceType]:
    return list(
        session.scalars(
            select(ServiceType)
            .where(ServiceType.active.is_(True))
            .order_by(ServiceType.group, ServiceType.code)
        )
    )


def services_document(session: Session) -> Document:
    """``<services><service>``: every active request type."""
    return Document(
        "services",
        [
            {
                "service_code": t.code,
                "service_name": t.name_zh,
                "description": t.description,
                "metadata": bool(t.attributes),
                "type": "realtime",
                "keywords": ", ".join(t.keywords),
                "group": t.group,
            }
            for t in _active_types(session)
        ],
    )


def _attribute(spec: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "variable": bool(spec.get("variable", True)),
        "code": spec["code"],
        "datatype": spec["datatype"],
        "required": bool(spec.get("required", False)),
        "datatype_description": spec.get("datatype_description"),
        "order": int(spec["order"]),
        "description": spec.get("description"),
    }
    if spec["datatype"] in ("singlevaluelist", "multivaluelist"):
        attribute["values"] = [{"key": v["key"], "name": v["name"]} for v in spec.get("values", [])]
    return attribute


def service_definition_document(session: Session, service_code: str) -> Document:
    """``<service_definition><service_code/><attributes><attribute>…``; 404 for an unknown code."""
    service_type = session.scalar(select(ServiceType).where(ServiceType.code == service_code))
    if service_type is None or not service_type.active:
        raise NotFoundError(
            f"service_code {service_code[:64]!r} is not a request type here; services.xml lists them"
        )
    attributes = sorted(service_type.attributes, key=lambda a: int(a["order"]))
    return Document(
        "service_definition",
        {"service_code": service_type.code, "attributes": [_attribute(a) for a in attributes]},
    )


def _department_name(department: Department | None) -> str | None:
    return department.name_zh if department is not None else None


_CLOSE_STATUS = {
    "resolved": "FIXED",
    "duplicate": "DUPLICATE",
    "not_responsible": "NOT_COUNCILS_RESPONSIBILITY",
    "no_further_action": "NO_FURTHER_ACTION",
}
_STATUS_BY_ACTION = {
    RequestAction.received: "OPEN",
    RequestAction.dispatched: "OPEN",
    RequestAction.accepted: "INVESTIGATING",
    RequestAction.contacted: "INVESTIGATING",
    RequestAction.progress: "IN_PROGRESS",
    RequestAction.replied: "IN_PROGRESS",
    RequestAction.returned: "INTERNAL_REFERRAL",
    RequestAction.transferred: "INTERNAL_REFERRAL",
    RequestAction.reopened: "REOPEN",
}
_STATUS_BY_STATE = {
    RequestState.received: "OPEN",
    RequestState.dispatched: "OPEN",
    RequestState.accepted: "INVESTIGATING",
    RequestState.in_progress: "IN_PROGRESS",
    RequestState.replied: "IN_PROGRESS",
    RequestState.returned: "INTERNAL_REFERRAL",
}


def fms_status(event: RequestEvent, request: ServiceRequest) -> str:
    """FixMyStreet's extended status for one timeline step.

    Workflow steps map by what they do (签收 and first contact: INVESTIGATING; 退单 and 转办:
    INTERNAL_REFERRAL; 重办: REOPEN; a reply is still IN_PROGRESS until the request is closed);
    notes, classification and callbacks by the state the request is in. A closing maps by the
    request's close reason (resolved: FIXED, duplicate: DUPLICATE, not_responsible:
    NOT_COUNCILS_RESPONSIBILITY, no_further_action: NO_FURTHER_ACTION), CLOSED when unknown.
    """
    if event.action in _STATUS_BY_ACTION:
        return _STATUS_BY_ACTION[event.action]
    if event.to_state is RequestState.closed:
        reason = request.close_reason if request.state is RequestState.closed else None
        return _CLOSE_STATUS.get(reason or "", "CLOSED")
    return _STATUS_BY_STATE.get(event.to_state, "OPEN")


def _event_text(event: RequestEvent) -> str:
    """An update's public text: its public note (numbers masked), else what the step was."""
    note = public_note(event)
    if note:
        return note
    text = f"{event.action.zh} / {event.action.value}"
    if event.action in (RequestAction.dispatched, RequestAction.transferred) and event.department:
        english = event.department.name_en or event.department.code
        text = f"派单至 {event.department.name_zh} / {event.action.value} to {english}"
    return text


def request_item(request: ServiceRequest, *, events: Sequence[RequestEvent] | None = None) -> dict[str, Any]:
    """One ``<request>`` of ``GET /requests``; with ``events`` (``extensions=true``) also its
    internal state and public timeline. Never the reporter's identity."""
    closed = request.state in OPEN311_CLOSED
    item: dict[str, Any] = {
        "service_request_id": str(request.id),
        "status": _status(request.state),
        "status_notes": _masked(request.status_notes),
        "service_name": request.service_type.name_zh,
        "service_code": request.service_type.code,
        "description": _masked(request.description),
        "agency_responsible": _department_name(request.department),
        "service_notice": SIMULATED_NOTICE if request.simulated else None,
        "requested_datetime": request.requested_at,
        "updated_datetime": (request.closed_at or request.updated_at) if closed else request.updated_at,
        "expected_datetime": request.expected_at,
        "address": _masked(request.address),
        "address_id": request.address_id,
        "zipcode": request.zipcode,
        "lat": request.lat,
        "long": request.lon,
        "media_url": request.media_url,
    }
    if events is not None:
        item["extended_attributes"] = {
            "state": request.state.value,
            "state_zh": request.state.zh,
            "kind": request.kind.value,
            "kind_zh": request.kind.zh,
            "channel": request.channel.value,
            "channel_zh": request.channel.zh,
            "simulated": request.simulated,
        }
        item["notes"] = [
            {"datetime": e.at, "description": _event_text(e), "type": e.action.value} for e in events
        ]
    return item


def requests_document(session: Session, query: RequestQuery) -> Document:
    """``<service_requests><request>…``: the requests ``query`` selects."""
    requests = query_requests(session, query)
    timeline = public_events(session, [r.id for r in requests]) if query.extensions else None
    return Document(
        "service_requests",
        [request_item(r, events=timeline[r.id] if timeline is not None else None) for r in requests],
    )


def request_document(session: Session, service_request_id: str, *, extensions: bool = False) -> Document:
    """``GET /requests/{id}``: still a list, of one request; 404 when there is none."""
    try:
        request_id = parse_request_id(service_request_id)
    except InvalidValueError:
        request_id = 0
    found = query_requests(session, RequestQuery(ids=(request_id,))) if request_id else []
    if not found:
        raise NotFoundError(f"no service request {service_request_id[:30]!r}")
    events = public_events(session, [request_id])[request_id] if extensions else None
    return Document("service_requests", [request_item(found[0], events=events)])


def token_document(session: Session, token: str) -> Document:
    """``GET /tokens/{token}``: the request a token stands for."""
    request_id = session.scalar(select(ServiceRequest.id).where(ServiceRequest.token == token))
    if request_id is None:
        raise NotFoundError(f"no service request has the token {token[:60]!r}")
    return Document("service_requests", [{"service_request_id": str(request_id), "token": token}])


def created_document(request: ServiceRequest) -> Document:
    """The answer to ``POST /requests``: the new id (requests are realtime, so never a token) and
    a notice saying who handles it and by when."""
    department = _department_name(request.department)
    if department:
        notice = (
            f"已受理并派至{department},办理时限 {w3c(request.expected_at)} / received and dispatched; "
            f"expected by {w3c(request.expected_at)}"
        )
    else:
        notice = "已受理,待分派 / received; a person will check its type and dispatch it"
    return Document("service_requests", [{"service_request_id": str(request.id), "service_notice": notice}])


def update_item(event: RequestEvent, request: ServiceRequest) -> dict[str, Any]:
    """One FixMyStreet ``<request_update>``."""
    return {
        "update_id": str(event.id),
        "service_request_id": str(request.id),
        "status": _status(event.to_state),
        "description": _event_text(event),
        "updated_datetime": event.at,
        "media_url": None,
        "external_status_code": fms_status(event, request),
    }


def updates_document(session: Session, query: UpdateQuery) -> Document:
    """``<service_requests_updates><request_update>…``: public steps in the window."""
    return Document(
        "service_requests_updates",
        [update_item(event, request) for event, request in query_updates(session, query)],
    )


def update_created_document(event: RequestEvent) -> Document:
    """The answer to a posted update: its ``update_id``."""
    return Document("service_requests_updates", [{"update_id": str(event.id)}])
