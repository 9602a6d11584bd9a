"""Citizens' requests (市民诉求, 12345 / Open311): request types and their routing rules, address
points, the requests themselves with every step of their timeline, and the Open311 API clients.

A request keeps the reporter's contact details encrypted (``planwatch.crypto``) and only until
they are anonymised; every state change is one ``request_events`` row, so every rate can be
recomputed from the timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from planwatch.models.base import Base, str_enum, utcnow
from planwatch.models.division import Division
from planwatch.models.enums import (
    RequestAction,
    RequestChannel,
    RequestKind,
    RequestState,
    Satisfaction,
)
from planwatch.models.plan import Department


class ServiceType(Base):
    """A request type (Open311 *service*, 12345 派单目录 item)."""

    __tablename__ = "service_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    """Open311 ``service_code``."""
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    group: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    """Synonyms; also the keyword rules that suggest this type while the history is small."""
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    """The handling department when no routing rule is more specific."""
    deadline_hours: Mapped[int]
    """Feedback deadline (办理时限) from receipt: 2 h emergencies, 24 h urgent utilities, 168 h (7 d)
    general, 360 h (15 d) complex requests (configurable per type)."""
    response_hours: Mapped[int]
    """Time to sign for the ticket and first contact the caller (响应时限)."""
    duplicate_radius_m: Mapped[float] = mapped_column(Float)
    duplicate_window_days: Mapped[int]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Open311 service-definition attributes (code, datatype, required, description, values …)."""
    anonymous_allowed: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department] = relationship()


class RoutingRule(Base):
    """Who handles a request: the most specific rule wins (type and division, then type alone,
    then division alone). A rule's division matches every division below it."""

    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("service_type_id", "division_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_type_id: Mapped[int | None] = mapped_column(ForeignKey("service_types.id", ondelete="CASCADE"))
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    district_government: Mapped[bool] = mapped_column(default=False)
    """Route to the government of the request's district (属地兜底) instead of ``department``."""
    street_office: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    """Route to the office of the request's street or town (街道办事处 / 乡镇政府) instead of
    ``department``."""

    service_type: Mapped[ServiceType | None] = relationship()
    division: Mapped[Division | None] = relationship()
    department: Mapped[Department | None] = relationship()


class AddressPoint(Base):
    """A master-address point (门牌地址, Open311 ``address_id``) with the community it lies in.
    Points below the deepest level with boundaries are located by their nearest address point."""

    __tablename__ = "address_points"
    __table_args__ = (Index("ix_address_points_division", "division_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(300))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    simulated: Mapped[bool] = mapped_column(default=False)

    division: Mapped[Division] = relationship()


class Open311Client(Base):
    """An application allowed to POST requests (Open311 ``api_key``); only the key's SHA-256 is
    stored."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    revoked_at: Mapped[datetime | None]


class ServiceRequest(Base):
    """One citizen's request (诉求工单)."""

    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_requested_at", "requested_at"),
        Index("ix_service_requests_type_requested", "service_type_id", "requested_at"),
        Index("ix_service_requests_department_state", "department_id", "state"),
        Index("ix_service_requests_street", "street_id"),
        Index("ix_service_requests_district", "district_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    """Open311 ``service_request_id``."""
    token: Mapped[str] = mapped_column(String(40), unique=True)
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_types.id", ondelete="RESTRICT"))
    suggested_type_id: Mapped[int | None] = mapped_column(ForeignKey("service_types.id", ondelete="SET NULL"))
    suggested_confidence: Mapped[float | None] = mapped_column(Float)
    suggested_by: Mapped[str | None] = mapped_column(String(32))
    """``model`` (the classifier trained on the history) or ``keywords`` (the rules)."""
    type_confirmed: Mapped[bool] = mapped_column(default=False)
    """A person confirmed the type (the reporter picked it, or an operator confirmed it)."""
    kind: Mapped[RequestKind] = mapped_column(str_enum(RequestKind, "request_kind"))
    state: Mapped[RequestState] = mapped_column(str_enum(RequestState, "request_state"))
    channel: Mapped[RequestChannel] = mapped_column(str_enum(RequestChannel, "request_channel"))
    description: Mapped[str] = mapped_column(Text)
    """Plain text, never rendered as HTML."""
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    address_id: Mapped[str | None] = mapped_column(String(64))
    zipcode: Mapped[str | None] = mapped_column(String(16))
    media_url: Mapped[str | None] = mapped_column(String(1000))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    """The deepest division the request was located in (a community where address points exist)."""
    street_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    """The unit holding the ticket now (承办单位)."""
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    response_due_at: Mapped[datetime]
    expected_at: Mapped[datetime]
    """The deadline (Open311 ``expected_datetime``)."""
    status_notes: Mapped[str | None] = mapped_column(Text)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    """``resolved``, ``duplicate``, ``not_responsible``, ``no_further_action``."""
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_requests.id", ondelete="SET NULL")
    )
    returned_count: Mapped[int] = mapped_column(default=0)
    reopened_count: Mapped[int] = mapped_column(default=0)
    resolved: Mapped[bool | None]
    """The caller's answer at the callback (回访): was it solved?"""
    satisfaction: Mapped[Satisfaction | None] = mapped_column(str_enum(Satisfaction, "satisfaction"))
    callback_at: Mapped[datetime | None]
    # the reporter (encrypted; never in GET output; erased by anonymisation)
    first_name: Mapped[str | None] = mapped_column(String(500))
    last_name: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(500))
    device_id: Mapped[str | None] = mapped_column(String(500))
    account_id: Mapped[str | None] = mapped_column(String(500))
    anonymised_at: Mapped[datetime | None]
    client_id: Mapped[int | None] = mapped_column(ForeignKey("open311_clients.id", ondelete="SET NULL"))
    simulated: Mapped[bool] = mapped_column(default=False)

    service_type: Mapped[ServiceType] = relationship(foreign_keys=[service_type_id])
    suggested_type: Mapped[ServiceType | None] = relationship(foreign_keys=[suggested_type_id])
    division: Mapped[Division] = relationship(foreign_keys=[division_id])
    street: Mapped[Division | None] = relationship(foreign_keys=[street_id])
    district: Mapped[Division | None] = relationship(foreign_keys=[district_id])
    department: Mapped[Department | None] = relationship()


class RequestEvent(Base):
    """One step of a request's timeline; public steps are Open311 request updates."""

    __tablename__ = "request_events"
    __table_args__ = (
        Index("ix_request_events_request", "request_id"),
        Index("ix_request_events_at", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    """FixMyStreet's ``update_id``."""
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[RequestAction] = mapped_column(str_enum(RequestAction, "request_action"))
    from_state: Mapped[RequestState | None] = mapped_column(str_enum(RequestState, "event_from_state"))
    to_state: Mapped[RequestState] = mapped_column(str_enum(RequestState, "event_to_state"))
    actor: Mapped[str] = mapped_column(String(150))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(default=True)
    """Shown to the public (Open311 ``status_notes`` and request updates)."""

    department: Mapped[Department | None] = relationship()
