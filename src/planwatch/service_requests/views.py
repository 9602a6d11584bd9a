"""What the API, the pages and ``--json`` show of requests: one set of schemas, personal data
masked everywhere (names to their first character, phones to 138****8000, phone and ID numbers
inside free text), the public seeing only the public timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.clock import as_utc
from planwatch.config import Settings
from planwatch.crypto import decrypt
from planwatch.models import Department, RequestEvent, ServiceRequest, ServiceType
from planwatch.models.enums import RequestState
from planwatch.pii import mask_phone, mask_text, mask_value
from planwatch.service_requests.duplicates import duplicate_candidates
from planwatch.service_requests.service import (
    DISPATCHER_ACTIONS,
    TRANSITIONS,
    get_request,
    may_handle,
    open311_status,
    public_events_clause,
    public_note,
    visible_to,
)

OPEN_STATES = tuple(s for s in RequestState if s is not RequestState.closed)


class Named(BaseModel):
    code: str
    name_zh: str
    name_en: str | None = None


class EventOut(BaseModel):
    id: int
    at: datetime
    action: str
    action_zh: str
    from_state: str | None
    to_state: str
    to_state_zh: str
    department: Named | None
    note: str | None
    public: bool
    actor: str | None
    """Staff only: who took the step."""


class SuggestionOut(BaseModel):
    type: Named
    confidence: float
    method: str


class ReporterOut(BaseModel):
    """The reporter's details, masked (the full details need pii.unmask and a reason)."""

    name: str | None
    phone: str | None
    email: str | None
    anonymised: bool


class DuplicateOut(BaseModel):
    id: int
    distance_m: float
    days_apart: float
    """Negative: reported before this request."""
    state: str
    state_zh: str
    close_reason: str | None


class RequestSummary(BaseModel):
    id: int
    service: Named
    state: str
    state_zh: str
    status: str
    """Open311: ``open`` or ``closed``."""
    kind: str
    kind_zh: str
    channel: str
    district: Named | None
    street: Named | None
    division: Named
    department: Named | None
    requested_at: datetime
    expected_at: datetime
    overdue: bool
    """Not replied by the deadline (still open past it, or answered after it)."""
    response_overdue: bool
    """Not signed for and contacted by the response deadline."""
    excerpt: str
    simulated: bool


class RequestDetail(RequestSummary):
    description: str
    address: str | None
    lat: float | None
    lon: float | None
    attributes: dict[str, Any]
    media_url: str | None
    status_notes: str | None
    type_confirmed: bool | None
    suggestion: SuggestionOut | None
    reporter: ReporterOut | None
    resolved: bool | None
    satisfaction: str | None
    close_reason: str | None
    returned_count: int
    reopened_count: int
    timeline: list[EventOut]
    duplicates: list[DuplicateOut]
    """Staff only: requests of the same type nearby within the type's window (疑似重复件)."""
    actions: list[str]
    """The steps the viewer may take now."""


def _named(obj: Any) -> Named | None:
    return Named(code=obj.code, name_zh=obj.name_zh, name_en=obj.name_en) if obj is not None else None


def _mask_name(first: str | None, last: str | None) -> str | None:
    full = f"{last or ''}{first or ''}".strip()
    return full[0] + "*" * max(1, len(full) - 1) if full else None


def _mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def is_overdue(request: ServiceRequest, now: datetime) -> bool:
    expected = as_utc(request.expected_at)
    if request.replied_at is not None:
        return as_utc(request.replied_at) > expected
    return request.state is not RequestState.closed and as_utc(now) > expected


def is_response_overdue(request: ServiceRequest, now: datetime) -> bool:
    due = as_utc(request.response_due_at)
    signed = request.accepted_at is not None and as_utc(request.accepted_at) <= due
    contacted = request.contacted_at is not None and as_utc(request.contacted_at) <= due
    if request.close_reason is not None and request.dispatched_at is None:
        return False  # answered on the call (直办): nothing to respond to
    return not (signed and contacted) and as_utc(now) > due


def summary_view(request: ServiceRequest, *, now: datetime) -> RequestSummary:
    service = request.service_type
    text = mask_text(request.description)
    return RequestSummary(
        id=request.id,
        service=Named(code=service.code, name_zh=service.name_zh, name_en=service.name_en),
        state=request.state.value,
        state_zh=request.state.zh,
        status=open311_status(request),
        kind=request.kind.value,
        kind_zh=request.kind.zh,
        channel=request.channel.value,
        district=_named(request.district),
        street=_named(request.street),
        division=Named(
            code=request.division.code, name_zh=request.division.name_zh, name_en=request.division.name_en
        ),
        department=_named(request.department),
        requested_at=request.requested_at,
        expected_at=request.expected_at,
        overdue=is_overdue(request, now),
        response_overdue=is_response_overdue(request, now),
        excerpt=text[:80] + ("…" if len(text) > 80 else ""),
        simulated=request.simulated,
    )


def allowed_actions(session: Session, principal: Principal | None, request: ServiceRequest) -> list[str]:
    if principal is None or principal.anonymous:
        return []
    codes = dict(session.execute(select(Department.id, Department.code)).all())
    out = []
    for action, (sources, _) in TRANSITIONS.items():
        if request.state not in sources:
            continue
        if action in DISPATCHER_ACTIONS:
            if principal.can(Operation.requests_dispatch):
                out.append(action.value)
        elif may_handle(principal, request, codes):
            out.append(action.value)
    return out


def detail_view(
    session: Session,
    request_id: int,
    *,
    principal: Principal | None,
    now: datetime,
    settings: Settings,
) -> RequestDetail:
    """One request. Staff who may read it see the whole timeline and the masked reporter; the
    public sees what Open311 publishes (the public steps, no reporter)."""
    staff = principal is not None and not principal.anonymous and principal.can(Operation.requests_read)
    request = get_request(session, request_id, principal if staff else None)
    events_query = select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.id)
    if not staff:
        events_query = events_query.where(public_events_clause())
    timeline = [
        EventOut(
            id=e.id,
            at=e.at,
            action=e.action.value,
            action_zh=e.action.zh,
            from_state=e.from_state.value if e.from_state else None,
            to_state=e.to_state.value,
            to_state_zh=e.to_state.zh,
            department=_named(e.department),
            note=(mask_text(e.note) if e.note else None) if staff else public_note(e),
            public=e.public,
            actor=e.actor if staff else None,
        )
        for e in session.scalars(events_query)
    ]
    suggestion = None
    if staff and request.suggested_type is not None and request.suggested_confidence is not None:
        suggestion = SuggestionOut(
            type=Named(
                code=request.suggested_type.code,
                name_zh=request.suggested_type.name_zh,
                name_en=request.suggested_type.name_en,
            ),
            confidence=request.suggested_confidence,
            method=request.suggested_by or "",
        )
    reporter = None
    if staff:
        reporter = ReporterOut(
            name=_mask_name(decrypt(settings, request.first_name), decrypt(settings, request.last_name)),
            phone=mask_phone(decrypt(settings, request.phone)),
            email=_mask_email(decrypt(settings, request.email)),
            anonymised=request.anonymised_at is not None,
        )
    duplicates = []
    if staff:
        duplicates = [
            DuplicateOut(
                id=c.request_id,
                distance_m=round(c.distance_m, 1),
                days_apart=round(c.age.total_seconds() / 86400, 1),
                state=c.state.value,
                state_zh=c.state.zh,
                close_reason=c.close_reason,
            )
            for c in duplicate_candidates(session, request)
        ]
    base = summary_view(request, now=now)
    return RequestDetail(
        **base.model_dump(),
        description=mask_text(request.description),
        address=mask_text(request.address) if request.address else request.address,
        lat=request.lat,
        lon=request.lon,
        attributes=mask_value(request.attributes),
        media_url=request.media_url,
        status_notes=mask_text(request.status_notes) if request.status_notes else None,
        type_confirmed=request.type_confirmed if staff else None,
        suggestion=suggestion,
        reporter=reporter,
        resolved=request.resolved if staff else None,
        satisfaction=request.satisfaction.value if staff and request.satisfaction else None,
        close_reason=request.close_reason,
        returned_count=request.returned_count,
        reopened_count=request.reopened_count,
        timeline=timeline,
        duplicates=duplicates,
        actions=allowed_actions(session, principal, request) if staff else [],
    )


class QueuePage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[RequestSummary]
    counts: dict[str, int]
    """Requests in the viewer's scope per state, plus ``overdue``."""


def queue_view(
    session: Session,
    principal: Principal,
    *,
    now: datetime,
    state: str | None = None,
    department: str | None = None,
    service_code: str | None = None,
    overdue: bool = False,
    page: int = 1,
    page_size: int = 50,
) -> QueuePage:
    """A unit's queue (待办): the requests the viewer may read, soonest deadline first."""
    principal.require(Operation.requests_read)
    conditions = [visible_to(principal)]
    if state == "open":
        conditions.append(ServiceRequest.state.in_(OPEN_STATES))
    elif state:
        conditions.append(ServiceRequest.state == RequestState(state))
    if department:
        dept = aliased(Department)
        conditions.append(ServiceRequest.department_id.in_(select(dept.id).where(dept.code == department)))
    if service_code:
        conditions.append(
            ServiceRequest.service_type_id.in_(select(ServiceType.id).where(ServiceType.code == service_code))
        )
    if overdue:
        conditions.append(
            and_(
                ServiceRequest.state.in_(OPEN_STATES),
                ServiceRequest.expected_at < now,
                ServiceRequest.replied_at.is_(None),
            )
        )
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(ServiceRequest).where(where)) or 0
    r = ServiceRequest
    rows = session.scalars(
        select(r)
        .options(
            selectinload(r.service_type),
            selectinload(r.district),
            selectinload(r.street),
            selectinload(r.division),
            selectinload(r.department),
        )
        .where(where)
        .order_by(ServiceRequest.expected_at, ServiceRequest.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    scope = visible_to(principal)
    counts = {
        state.value: n
        for state, n in session.execute(
            select(ServiceRequest.state, func.count()).where(scope).group_by(ServiceRequest.state)
        ).all()
    }
    counts["overdue"] = (
        session.scalar(
            select(func.count())
            .select_from(ServiceRequest)
            .where(
                scope,
                ServiceRequest.state.in_(OPEN_STATES),
                ServiceRequest.expected_at < now,
                ServiceRequest.replied_at.is_(None),
            )
        )
        or 0
    )
    return QueuePage(
        total=total,
        page=page,
        page_size=page_size,
        items=[summary_view(r, now=now) for r in rows],
        counts=counts,
    )


def service_types_view(session: Session) -> list[dict[str, Any]]:
    """The active request types, grouped order, for forms."""
    rows = session.scalars(
        select(ServiceType).where(ServiceType.active.is_(True)).order_by(ServiceType.group, ServiceType.code)
    )
    return [
        {
            "code": t.code,
            "name_zh": t.name_zh,
            "name_en": t.name_en,
            "group": t.group,
            "description": t.description,
            "attributes": t.attributes,
            "deadline_hours": t.deadline_hours,
        }
        for t in rows
    ]
