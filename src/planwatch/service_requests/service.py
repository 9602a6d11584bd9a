"""The 12345 workflow (接-派-办-评): intake, dispatch, handling, reply, closing and the caller's
callback, with every step a timeline event.

States and the steps between them (``TRANSITIONS``)::

    received ─dispatched→ dispatched ─accepted→ accepted ─contacted/progress→ in_progress ─replied→ replied ─closed→ closed
        │                  │  ↑ transferred          │                                                   ↑          │
        └─closed (直办)     └─returned→ returned ─dispatched/transferred┘   returned←┘      reopened (重办) ← closed/replied

Intake validates every field (naming the Open311 field), locates the request, suggests a type
from its text, routes it and sets its deadlines; it is dispatched at once unless the suggested
type strongly disagrees with the chosen one, in which case a person triages it first.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.audit.security_log import record
from planwatch.config import Settings
from planwatch.crypto import decrypt, encrypt
from planwatch.errors import ConflictError, ForbiddenError, InvalidValueError, NotFoundError, OutOfScopeError
from planwatch.models import Department, Open311Client, RequestEvent, ServiceRequest, ServiceType
from planwatch.models.enums import (
    OPEN311_CLOSED,
    RequestAction,
    RequestChannel,
    RequestKind,
    RequestState,
    Satisfaction,
)
from planwatch.pii import mask_text, mask_value
from planwatch.service_requests.catalogue import government_code
from planwatch.service_requests.locate import Locator
from planwatch.service_requests.routing import Router

S = RequestState
A = RequestAction

TRANSITIONS: dict[RequestAction, tuple[frozenset[RequestState], RequestState | None]] = {
    # action: (states it may start from, the state it leads to; None: stays where it is)
    A.dispatched: (frozenset({S.received, S.returned}), S.dispatched),
    A.transferred: (frozenset({S.dispatched, S.accepted, S.in_progress, S.returned}), S.dispatched),
    A.accepted: (frozenset({S.dispatched}), S.accepted),
    A.contacted: (frozenset({S.accepted, S.in_progress}), S.in_progress),
    A.progress: (frozenset({S.accepted, S.in_progress}), S.in_progress),
    A.replied: (frozenset({S.accepted, S.in_progress}), S.replied),
    A.returned: (frozenset({S.dispatched, S.accepted}), S.returned),
    A.closed: (frozenset({S.received, S.replied, S.returned}), S.closed),
    A.reopened: (frozenset({S.replied, S.closed}), S.dispatched),
    A.classified: (frozenset({S.received, S.dispatched, S.accepted, S.in_progress, S.returned}), None),
    A.callback: (frozenset({S.replied, S.closed}), None),
    A.note: (frozenset(RequestState), None),
}
"""The state machine; ``received`` and ``anonymised`` events are written by the system only."""

DISPATCHER_ACTIONS = frozenset({A.dispatched, A.transferred, A.closed, A.reopened, A.classified, A.callback})
"""The 12345 centre's steps (requests.dispatch); the others are the handling unit's (requests.handle)."""
NOTE_REQUIRED = frozenset({A.replied, A.returned, A.transferred, A.reopened})
STEP_ACTIONS = frozenset({A.received} | {a for a, (_, target) in TRANSITIONS.items() if target is not None})
"""Steps that move the request: the public always sees that they happened (not always their note)."""
PUBLIC_NOTE_ACTIONS = frozenset({A.progress, A.replied, A.closed, A.reopened})
"""Steps whose note the citizen reads unless staff say otherwise (进展, 答复, 办结, 重办); the notes of
the others (派单, 签收, 联系, 退单, 转办 and plain notes) are internal unless staff make them public."""
CLOSE_REASONS = ("resolved", "duplicate", "not_responsible", "no_further_action")
TRIAGE_CONFIDENCE = 0.8
"""A suggested type this sure and different from the chosen one holds the request for a person."""
MEDIA_URL = re.compile(r"^https?://\S{1,990}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


@dataclass
class NewRequest:
    """A request as submitted (Open311 POST fields)."""

    service_code: str
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    media_url: str | None = None
    attributes: dict[str, str | list[str]] = field(default_factory=dict)
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    kind: RequestKind = RequestKind.complaint


def open311_status(request: ServiceRequest) -> Literal["open", "closed"]:
    """Open311 knows only ``open`` (reported) and ``closed`` (resolved)."""
    return "closed" if request.state in OPEN311_CLOSED else "open"


def get_service_type(session: Session, code: str) -> ServiceType:
    service_type = session.scalar(select(ServiceType).where(ServiceType.code == code.strip()))
    if service_type is None or not service_type.active:
        raise NotFoundError(
            f"service_code {code!r} is not a request type here; GET /open311/v2/services.json lists them"
        )
    return service_type


def _clean_text(value: str | None, name: str, limit: int) -> str | None:
    if value is None:
        return None
    value = _CONTROL.sub("", value).strip()
    if len(value) > limit:
        raise InvalidValueError(f"{name} is {len(value):,} characters long; the limit is {limit:,}")
    return value or None


def _attributes(service_type: ServiceType, given: dict[str, str | list[str]]) -> dict[str, Any]:
    """Check the Open311 attributes against the type's definition; raise naming the attribute."""
    definitions = {a["code"]: a for a in service_type.attributes}
    out: dict[str, Any] = {}
    for code, value in given.items():
        spec = definitions.get(code)
        if spec is None:
            known = ", ".join(definitions) or "none"
            raise InvalidValueError(
                f"attribute[{code}] is not an attribute of {service_type.code} (its attributes: {known})"
            )
        values = value if isinstance(value, list) else [value]
        values = [str(v).strip() for v in values if str(v).strip()]
        if not values:
            continue
        keys = {v["key"] for v in spec.get("values", [])}
        kind = spec["datatype"]
        if kind == "multivaluelist":
            bad = [v for v in values if v not in keys]
            if bad:
                raise InvalidValueError(f"attribute[{code}]: {bad[0]!r} is not one of {sorted(keys)}")
            out[code] = values
            continue
        if len(values) > 1:
            raise InvalidValueError(f"attribute[{code}] takes one value, not {len(values)}")
        single = values[0]
        if kind == "singlevaluelist" and single not in keys:
            raise InvalidValueError(f"attribute[{code}]: {single!r} is not one of {sorted(keys)}")
        if kind == "number":
            try:
                number = float(single)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise InvalidValueError(f"attribute[{code}] must be a number, not {single[:40]!r}")
        if kind == "datetime":
            try:
                datetime.fromisoformat(single.replace("Z", "+00:00"))
            except ValueError as exc:
                raise InvalidValueError(f"attribute[{code}] must be an ISO 8601 datetime") from exc
        if len(single) > 1000:
            raise InvalidValueError(f"attribute[{code}] is longer than 1,000 characters")
        out[code] = single
    missing = [
        c for c, a in definitions.items() if a.get("required") and a.get("variable", True) and c not in out
    ]
    if missing:
        spec = definitions[missing[0]]
        choices = ", ".join(f"{v['key']} ({v['name']})" for v in spec.get("values", []))
        raise InvalidValueError(
            f"attribute[{missing[0]}] is required for {service_type.code}: {spec['description']}"
            + (f"; one of {choices}" if choices else "")
        )
    return out


def _suggestion(session: Session, text: str) -> tuple[str, float, str] | None:
    """The classifier's suggested type for ``text`` (code, confidence, method), if any."""
    if not text.strip():
        return None
    from planwatch.service_requests.classify import classifier_for  # scikit-learn loads on first use

    suggestion = classifier_for(session, background=True).suggest(text)
    return suggestion.code, float(suggestion.confidence), suggestion.method


def submit_request(
    session: Session,
    new: NewRequest,
    *,
    channel: RequestChannel,
    actor: str,
    now: datetime,
    settings: Settings,
    client: Open311Client | None = None,
    type_confirmed: bool | None = None,
) -> ServiceRequest:
    """Take in one request: validate, locate, suggest a type, route, set deadlines, dispatch.

    Parameters
    ----------
    new : the submitted fields
    channel : how it arrived
    actor : who entered it (``open311:<client>``, ``web``, a hotline operator's user name)
    type_confirmed : whether a person already confirmed the type (a hotline operator did);
        by default only requests entered by staff count as confirmed, since citizens often pick a
        wrong type (FixMyStreet #1323)

    Raises
    ------
    NotFoundError
        Unknown ``service_code``.
    InvalidValueError
        A field that does not fit, named as the Open311 field.
    """
    service_type = get_service_type(session, new.service_code)
    description = _clean_text(new.description, "description", settings.request_description_max_chars) or ""
    address = _clean_text(new.address_string, "address_string", 300)
    attributes = _attributes(service_type, new.attributes)
    if new.media_url:
        check_media_url(new.media_url)
    phone = _clean_text(new.phone, "phone", 30)
    if phone and not _PHONE.match(phone):
        raise InvalidValueError(f"phone {phone[:3]}… is not a phone number (digits, spaces, dashes, + only)")
    email = _clean_text(new.email, "email", 320)
    if email and not _EMAIL.match(email):
        raise InvalidValueError("email is not an e-mail address")
    if not service_type.anonymous_allowed and not (phone or email):
        raise InvalidValueError(
            f"{service_type.code} needs a phone or email so the handling unit can reach you"
        )
    location = Locator.from_session(session, max_distance_m=settings.request_location_max_m).locate(
        lat=new.lat, lon=new.lon, address_id=(new.address_id or "").strip() or None, address_string=address
    )
    suggestion = _suggestion(session, description)
    suggested = (
        session.scalar(select(ServiceType).where(ServiceType.code == suggestion[0])) if suggestion else None
    )
    department_id = Router.from_session(session).department_for(service_type.id, location.division_id)
    confirmed = type_confirmed if type_confirmed is not None else channel is RequestChannel.hotline
    request = ServiceRequest(
        token=secrets.token_urlsafe(18),
        service_type_id=service_type.id,
        suggested_type_id=suggested.id if suggested else None,
        suggested_confidence=suggestion[1] if suggestion else None,
        suggested_by=suggestion[2] if suggestion else None,
        type_confirmed=confirmed,
        kind=new.kind,
        state=S.received,
        channel=channel,
        description=description,
        lat=location.lat,
        lon=location.lon,
        address=location.address,
        address_id=(new.address_id or "").strip() or None,
        zipcode=_clean_text(new.zipcode, "zipcode", 16),
        media_url=new.media_url.strip() if new.media_url else None,
        attributes=attributes,
        division_id=location.division_id,
        street_id=location.street_id,
        district_id=location.district_id,
        department_id=None,
        requested_at=now,
        updated_at=now,
        response_due_at=now + timedelta(hours=service_type.response_hours),
        expected_at=now + timedelta(hours=service_type.deadline_hours),
        first_name=encrypt(settings, _clean_text(new.first_name, "first_name", 100)),
        last_name=encrypt(settings, _clean_text(new.last_name, "last_name", 100)),
        email=encrypt(settings, email),
        phone=encrypt(settings, phone),
        device_id=encrypt(settings, _clean_text(new.device_id, "device_id", 200)),
        account_id=encrypt(settings, _clean_text(new.account_id, "account_id", 200)),
        client_id=client.id if client else None,
        simulated=False,
    )
    session.add(request)
    session.flush()
    _event(session, request, A.received, None, S.received, actor=actor, now=now, note=None)
    held = (
        suggestion is not None
        and suggested is not None
        and suggested.id != service_type.id
        and suggestion[1] >= TRIAGE_CONFIDENCE
        and not confirmed
    )
    if not held:
        _dispatch(session, request, department_id, actor="routing", now=now, note=None)
    return request


def _event(
    session: Session,
    request: ServiceRequest,
    action: RequestAction,
    before: RequestState | None,
    after: RequestState,
    *,
    actor: str,
    now: datetime,
    note: str | None,
    public: bool = True,
    department_id: int | None = None,
) -> RequestEvent:
    event = RequestEvent(
        request_id=request.id,
        at=now,
        action=action,
        from_state=before,
        to_state=after,
        actor=actor[:150],
        department_id=department_id if department_id is not None else request.department_id,
        note=note,
        public=public,
    )
    session.add(event)
    request.updated_at = now
    return event


def _dispatch(
    session: Session,
    request: ServiceRequest,
    department_id: int,
    *,
    actor: str,
    now: datetime,
    note: str | None,
    public: bool = True,
) -> RequestEvent:
    before = request.state
    request.department_id = department_id
    request.state = S.dispatched
    if request.dispatched_at is None:
        request.dispatched_at = now
    return _event(
        session, request, A.dispatched, before, S.dispatched, actor=actor, now=now, note=note, public=public
    )


def requests_version(session: Session) -> tuple[int | None, int | None]:
    """A stamp that changes whenever requests change (every change writes a timeline event):
    the newest event's and request's ids, two index lookups. Cached metrics key on it."""
    return (
        session.scalar(select(func.max(RequestEvent.id))),
        session.scalar(select(func.max(ServiceRequest.id))),
    )


def check_media_url(url: str) -> str:
    """``url`` stripped, or InvalidValueError when it is not an http(s) URL of at most 1,000 characters."""
    url = url.strip()
    if not MEDIA_URL.match(url):
        raise InvalidValueError("media_url must be an http(s) URL of at most 1,000 characters")
    return url


def public_events_clause() -> ColumnElement[bool]:
    """The timeline events the public sees: every step, and the notes staff or the citizen made
    public; never the anonymisation record."""
    return and_(
        RequestEvent.action != A.anonymised,
        or_(RequestEvent.public.is_(True), RequestEvent.action.in_(STEP_ACTIONS)),
    )


def public_note(event: RequestEvent) -> str | None:
    """An event's note as the public reads it: masked, and only when it was made public."""
    return mask_text(event.note) if event.note and event.public else None


def may_handle(principal: Principal, request: ServiceRequest, department_codes: dict[int, str]) -> bool:
    """Whether ``principal`` works on ``request``: the 12345 centre on every request, a
    department's staff on requests their department holds, a district's or street's staff on
    requests held by the government of a district, or the office of a street, in their scope (a
    district's staff work on the requests of its street offices too)."""
    if principal.can(Operation.requests_dispatch):
        return True
    if not principal.can(Operation.requests_handle) or request.department_id is None:
        return False
    if principal.departments:
        return request.department_id in principal.departments
    code = department_codes.get(request.department_id, "")
    return any(
        unit is not None and unit.id in principal.capture and code == government_code(unit.code)
        for unit in (request.district, request.street)
    ) or (
        request.street is not None
        and request.district_id in principal.capture
        and code == government_code(request.street.code)
    )


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The requests a signed-in principal may read: all for the 12345 centre; those held by one's
    departments; those located in one's view or capture scope."""
    if principal.can(Operation.requests_dispatch):
        return true()
    if not principal.can(Operation.requests_read):
        return false()
    scope = principal.capture | principal.view
    clauses = []
    if principal.departments:
        clauses.append(ServiceRequest.department_id.in_(principal.departments))
    else:
        clauses.append(ServiceRequest.division_id.in_(scope))
    return or_(*clauses) if len(clauses) > 1 else clauses[0]


def get_request(session: Session, request_id: int, principal: Principal | None = None) -> ServiceRequest:
    """A request by id; out of a principal's scope it answers like a missing one."""
    request = session.get(ServiceRequest, request_id)
    if request is None:
        raise NotFoundError(f"no request {request_id}")
    if principal is not None:
        allowed = session.scalar(
            select(ServiceRequest.id).where(and_(ServiceRequest.id == request_id, visible_to(principal)))
        )
        if allowed is None:
            raise OutOfScopeError(f"no request {request_id} (不存在或不在您的权限范围内)")
    return request


def act(
    session: Session,
    request: ServiceRequest,
    action: RequestAction,
    *,
    now: datetime,
    principal: Principal | None = None,
    actor: str | None = None,
    note: str | None = None,
    department_code: str | None = None,
    service_code: str | None = None,
    close_reason: str | None = None,
    public: bool | None = None,
) -> RequestEvent:
    """Take one workflow step on ``request``.

    Parameters
    ----------
    principal : the acting person; checked against the policy (dispatcher or handling unit).
        ``None`` only for system and citizen steps (a citizen's note through Open311), with
        ``actor`` naming them.
    department_code : the department to dispatch or transfer to (``dispatched`` defaults to the
        routing table's choice; ``transferred`` needs one)
    service_code : the confirmed type (``classified``)
    close_reason : for ``closed``: resolved, duplicate, not_responsible or no_further_action
    public : whether the citizen may read the note (``None``: the step's default,
        ``PUBLIC_NOTE_ACTIONS``). A step itself is always public; a plain note only when public.

    Raises
    ------
    ConflictError
        The step is not allowed from the request's state.
    ForbiddenError
        The principal may not take this step on this request.
    InvalidValueError
        A missing note, department or reason.
    """
    if action in (A.received, A.anonymised):
        raise InvalidValueError(f"{action.value} is written by the system only")
    sources, target = TRANSITIONS[action]
    if request.state not in sources:
        allowed = ", ".join(a.value for a, (src, _) in TRANSITIONS.items() if request.state in src)
        raise ConflictError(
            f"request {request.id} is {request.state.value} ({request.state.zh}); {action.value} "
            f"({action.zh}) is not possible now — possible steps: {allowed}"
        )
    if principal is not None:
        codes = dict(session.execute(select(Department.id, Department.code)).all())
        needed = Operation.requests_dispatch if action in DISPATCHER_ACTIONS else Operation.requests_handle
        principal.require(needed)
        if needed is Operation.requests_handle and not may_handle(principal, request, codes):
            raise ForbiddenError(
                f"request {request.id} is held by another unit; you cannot {action.value} it"
            )
    who = actor or (principal.username if principal else "system")
    note = _clean_text(note, "note", 4000)
    if action in NOTE_REQUIRED and not note:
        raise InvalidValueError(f"{action.value} ({action.zh}) needs a note saying why or what was done")
    if public is None:
        public = action in PUBLIC_NOTE_ACTIONS
    before = request.state
    if action in (A.dispatched, A.transferred, A.reopened):
        if department_code:
            department_id = session.scalar(select(Department.id).where(Department.code == department_code))
            if department_id is None:
                raise InvalidValueError(f"no department {department_code!r}")
        elif action is A.transferred:
            raise InvalidValueError("transferred (转办) needs the department to transfer to")
        elif action is A.reopened and request.department_id is not None:
            department_id = request.department_id
        else:
            department_id = Router.from_session(session).department_for(
                request.service_type_id, request.division_id
            )
        if action is A.reopened:
            request.reopened_count += 1
            request.closed_at = None
            request.close_reason = None
            request.replied_at = None
        event = _dispatch(session, request, department_id, actor=who, now=now, note=note, public=public)
        event.action = action
        if note and public:
            request.status_notes = note
        return event
    if action is A.classified:
        if not service_code:
            raise InvalidValueError("classified (确认分类) needs the service_code of the confirmed type")
        service_type = get_service_type(session, service_code)
        changed = service_type.id != request.service_type_id
        request.service_type_id = service_type.id
        request.type_confirmed = True
        text = f"类型确认为 {service_type.name_zh} / type confirmed: {service_type.code}"
        return _event(session, request, A.classified, before, before, actor=who, now=now,
                      note=f"{text}; {note}" if note else text, public=changed)  # fmt: skip
    if action is A.closed:
        reason = close_reason or ("resolved" if before is S.replied else None)
        if reason not in CLOSE_REASONS:
            raise InvalidValueError(f"closed (办结) needs a close_reason, one of {', '.join(CLOSE_REASONS)}")
        request.close_reason = reason
        request.closed_at = now
    elif action is A.accepted:
        request.accepted_at = request.accepted_at or now
    elif action is A.contacted:
        request.contacted_at = request.contacted_at or now
    elif action is A.replied:
        request.replied_at = now
    elif action is A.returned:
        request.returned_count += 1
    after = target if target is not None else before
    request.state = after
    if note and public:
        request.status_notes = note
    event = _event(session, request, action, before, after, actor=who, now=now, note=note, public=public)
    if action is A.returned:
        request.department_id = None
    return event


def record_callback(
    session: Session,
    request: ServiceRequest,
    *,
    resolved: bool,
    satisfaction: Satisfaction,
    now: datetime,
    principal: Principal | None = None,
    actor: str | None = None,
    note: str | None = None,
) -> RequestEvent:
    """The caller's answers at the callback (回访): was it solved, were they satisfied. A later
    callback replaces an earlier one (the timeline keeps both)."""
    event = act(
        session, request, A.callback, now=now, principal=principal, actor=actor, note=note, public=False
    )
    request.resolved = resolved
    request.satisfaction = satisfaction
    request.callback_at = now
    event.note = f"resolved={'yes' if resolved else 'no'}; satisfaction={satisfaction.value}" + (
        f"; {event.note}" if event.note else ""
    )
    return event


def reveal_reporter(
    session: Session,
    principal: Principal,
    request: ServiceRequest,
    *,
    reason: str,
    settings: Settings,
    now: datetime,
) -> dict[str, str | None]:
    """The reporter's contact details in full, for a permitted principal with a reason; audited."""
    principal.require(Operation.pii_unmask)
    get_request(session, request.id, principal)
    if len(reason.strip()) < 4:
        raise InvalidValueError("give the reason for seeing the reporter's details (at least 4 characters)")
    if request.anonymised_at is not None:
        raise ConflictError(
            f"request {request.id}'s personal data was erased on {request.anonymised_at:%Y-%m-%d}"
        )
    record(session, principal.actor, "pii.unmask", now=now, object_type="service_request",
           object_id=str(request.id), detail={"fields": "reporter", "reason": reason.strip()[:500]})  # fmt: skip
    return {name: decrypt(settings, getattr(request, name)) for name in PERSONAL_FIELDS}


PERSONAL_FIELDS = ("first_name", "last_name", "phone", "email", "device_id", "account_id")


def anonymise_closed(session: Session, *, now: datetime, retention_days: int, actor: str = "system") -> int:
    """Erase the reporter's details of requests closed more than ``retention_days`` ago, and mask
    phone and ID numbers wherever citizens or staff wrote them (description, address, attributes,
    status notes and every timeline note); returns how many requests were anonymised."""
    cutoff = now - timedelta(days=retention_days)
    requests = session.scalars(
        select(ServiceRequest).where(
            ServiceRequest.state == S.closed,
            ServiceRequest.closed_at <= cutoff,
            ServiceRequest.anonymised_at.is_(None),
        )
    ).all()
    for request in requests:
        for name in PERSONAL_FIELDS:
            setattr(request, name, None)
        request.description = mask_text(request.description)
        request.address = mask_text(request.address) if request.address else request.address
        request.status_notes = (
            mask_text(request.status_notes) if request.status_notes else request.status_notes
        )
        request.attributes = mask_value(request.attributes)
        for event in session.scalars(select(RequestEvent).where(RequestEvent.request_id == request.id)):
            if event.note:
                event.note = mask_text(event.note)
        request.anonymised_at = now
        _event(session, request, A.anonymised, request.state, request.state, actor=actor, now=now,
               note=f"personal data erased {retention_days} days after closing", public=False)  # fmt: skip
    return len(requests)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_client(session: Session, name: str, *, actor: str, now: datetime) -> tuple[Open311Client, str]:
    """A new Open311 client; the api_key is returned once and only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidValueError("a client needs a name of 1 to 200 characters")
    if session.scalar(select(Open311Client.id).where(Open311Client.name == name)) is not None:
        raise ConflictError(f"an Open311 client named {name!r} exists already")
    key = "o311_" + secrets.token_urlsafe(24)
    client = Open311Client(
        name=name, prefix=key[:9], key_hash=hash_key(key), created_at=now, created_by=actor
    )
    session.add(client)
    session.flush()
    return client, key


def revoke_client(session: Session, name: str, *, now: datetime) -> Open311Client:
    client = session.scalar(select(Open311Client).where(Open311Client.name == name))
    if client is None:
        raise NotFoundError(f"no Open311 client named {name!r}")
    client.revoked_at = client.revoked_at or now
    return client


def authenticate_client(session: Session, api_key: str | None, *, now: datetime) -> Open311Client:
    """The client an ``api_key`` belongs to; ForbiddenError (Open311: 403) when missing or bad."""
    if not api_key or not api_key.strip():
        raise ForbiddenError("api_key is required to submit a request; ask the city for a key")
    client = session.scalar(select(Open311Client).where(Open311Client.key_hash == hash_key(api_key.strip())))
    if client is None or (client.revoked_at is not None and client.revoked_at <= now):
        raise ForbiddenError("the api_key is unknown or revoked")
    return client
