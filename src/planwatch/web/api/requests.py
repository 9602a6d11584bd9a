"""Citizens' requests (市民诉求) for staff and the public: queues, one request with its timeline,
the workflow steps, callbacks, intake by hotline operators, type suggestions and duplicates.

Personal data is masked in every answer; the full reporter details need ``pii.unmask``, a reason,
and leave an audit record. The public reads a request as Open311 publishes it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from planwatch.accounts.policy import Operation
from planwatch.models.enums import RequestAction, RequestChannel, RequestKind, Satisfaction
from planwatch.service_requests.service import (
    NewRequest,
    act,
    get_request,
    record_callback,
    reveal_reporter,
    submit_request,
)
from planwatch.service_requests.views import (
    QueuePage,
    RequestDetail,
    detail_view,
    queue_view,
    service_types_view,
)
from planwatch.web.deps import Id, NowDep, PrincipalDep, SessionDep, SettingsDep, requires

router = APIRouter(prefix="/api/requests", tags=["requests"])

StateFilter = Literal[
    "open", "received", "dispatched", "accepted", "in_progress", "replied", "closed", "returned"
]
STEPS = tuple(
    a.value
    for a in RequestAction
    if a not in (RequestAction.received, RequestAction.anonymised, RequestAction.callback)
)


class ActionIn(BaseModel):
    action: Literal[STEPS]  # type: ignore[valid-type]
    note: str | None = Field(default=None, max_length=4000)
    department_code: str | None = Field(default=None, max_length=64)
    service_code: str | None = Field(default=None, max_length=64)
    close_reason: Literal["resolved", "duplicate", "not_responsible", "no_further_action"] | None = None
    public: bool | None = Field(
        default=None,
        description="whether the citizen may read the note; null: the step's default (进展, 答复, "
        "办结 and 重办 notes are public, the others internal)",
    )


class CallbackIn(BaseModel):
    resolved: bool
    satisfaction: Satisfaction
    note: str | None = Field(default=None, max_length=4000)


class RevealIn(BaseModel):
    reason: str = Field(min_length=4, max_length=500)


class IntakeIn(BaseModel):
    """A request taken by a hotline operator (12345热线) or entered from another channel."""

    service_code: str = Field(min_length=1, max_length=64)
    description: str = Field(max_length=100_000)
    kind: RequestKind = RequestKind.complaint
    channel: Literal["hotline", "wechat", "web"] = "hotline"
    lat: float | None = None
    lon: float | None = None
    address_string: str | None = Field(default=None, max_length=300)
    address_id: str | None = Field(default=None, max_length=64)
    attributes: dict[str, str | list[str]] = {}
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=320)


class AlternativeOut(BaseModel):
    code: str
    score: float


class SuggestionOut(BaseModel):
    code: str
    confidence: float
    method: str
    alternatives: list[AlternativeOut]


@router.get("", response_model=QueuePage, dependencies=[requires(Operation.requests_read)],
            summary="Requests in the caller's scope (待办/已办), soonest deadline first")  # fmt: skip
def api_requests(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    state: StateFilter | None = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    service_code: Annotated[str | None, Query(max_length=64)] = None,
    overdue: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> QueuePage:
    return queue_view(session, principal, now=now, state=state, department=department,
                      service_code=service_code, overdue=overdue, page=page, page_size=page_size)  # fmt: skip


@router.get("/types", summary="Request types (诉求类型) with their deadlines")
def api_request_types(session: SessionDep) -> list[dict[str, Any]]:
    return service_types_view(session)


@router.get("/suggest", response_model=SuggestionOut, dependencies=[requires(Operation.requests_read)],
            summary="The suggested type for a text (confirm it: it is a suggestion)")  # fmt: skip
def api_suggest(
    session: SessionDep, text: Annotated[str, Query(min_length=1, max_length=4000)]
) -> SuggestionOut:
    from planwatch.service_requests.classify import classifier_for  # scikit-learn loads on first use

    suggestion = classifier_for(session, background=True).suggest(text)
    return SuggestionOut(
        code=suggestion.code,
        confidence=float(suggestion.confidence),
        method=suggestion.method,
        alternatives=[
            AlternativeOut(code=code, score=float(score)) for code, score in suggestion.alternatives
        ],
    )


@router.post("", response_model=RequestDetail, status_code=201, dependencies=[requires(Operation.requests_dispatch)],
             summary="Take in a request (12345 operator intake)")  # fmt: skip
def api_intake(
    body: IntakeIn, session: SessionDep, principal: PrincipalDep, settings: SettingsDep, now: NowDep
) -> RequestDetail:
    fields = body.model_dump(exclude={"channel"})
    request = submit_request(
        session,
        NewRequest(**fields),
        channel=RequestChannel(body.channel),
        actor=principal.username,
        now=now,
        settings=settings,
        type_confirmed=True,
    )
    return detail_view(session, request.id, principal=principal, now=now, settings=settings)


@router.get("/{request_id}", response_model=RequestDetail,
            summary="One request with its timeline (the public sees the public steps only)")  # fmt: skip
def api_request(
    request_id: Id, session: SessionDep, principal: PrincipalDep, settings: SettingsDep, now: NowDep
) -> RequestDetail:
    return detail_view(session, request_id, principal=principal, now=now, settings=settings)


@router.post("/{request_id}/actions", response_model=RequestDetail, dependencies=[requires(Operation.requests_read)],
             summary="Take a workflow step (签收, 联系, 答复, 退单, 转办, 办结, 重办 …)")  # fmt: skip
def api_act(
    request_id: Id,
    body: ActionIn,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
) -> RequestDetail:
    request = get_request(session, request_id, principal)
    act(session, request, RequestAction(body.action), now=now, principal=principal, note=body.note,
        department_code=body.department_code, service_code=body.service_code, close_reason=body.close_reason,
        public=body.public)  # fmt: skip
    return detail_view(session, request_id, principal=principal, now=now, settings=settings)


@router.post("/{request_id}/callback", response_model=RequestDetail,
             dependencies=[requires(Operation.requests_dispatch)], summary="Record the caller's callback (回访)")  # fmt: skip
def api_callback(
    request_id: Id,
    body: CallbackIn,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
) -> RequestDetail:
    request = get_request(session, request_id, principal)
    record_callback(session, request, resolved=body.resolved, satisfaction=body.satisfaction, now=now,
                    principal=principal, note=body.note)  # fmt: skip
    return detail_view(session, request_id, principal=principal, now=now, settings=settings)


@router.post("/{request_id}/reveal", dependencies=[requires(Operation.pii_unmask)],
             summary="The reporter's full contact details, with a reason (audited)")  # fmt: skip
def api_reveal(
    request_id: Id,
    body: RevealIn,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
) -> dict[str, str | None]:
    request = get_request(session, request_id, principal)
    return reveal_reporter(session, principal, request, reason=body.reason, settings=settings, now=now)
