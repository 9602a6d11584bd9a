"""Evaluation round pages (监测评估): the list of rounds with the publish form, one round, the
comparison of two; and the qualitative assessment form of a target page. Each handler calls the
same functions as its JSON twin in ``web/api/evaluation.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from planwatch.accounts.policy import Operation
from planwatch.errors import ConflictError, InvalidValueError
from planwatch.evaluation.assessments import local_today, record_assessment
from planwatch.evaluation.round_views import list_round_views, round_diff_view, round_view
from planwatch.evaluation.rounds import publish_round
from planwatch.evaluation.service import get_plan
from planwatch.models.enums import RoundKind
from planwatch.plans.views import get_target
from planwatch.web.api.evaluation import internal, require_plan_scope
from planwatch.web.deps import (
    AudienceDep,
    Id,
    LanguageDep,
    NowDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    requires,
)
from planwatch.web.i18n import translator
from planwatch.web.pages.flash import back, flash
from planwatch.web.pages.routes import render

router = APIRouter(include_in_schema=False)

PlanQuery = Annotated[str | None, Query(max_length=64)]


@router.get("/rounds", response_class=HTMLResponse)
def rounds_page(
    request: Request,
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    lang: LanguageDep,
    plan: PlanQuery = None,
) -> Response:
    """The twin of GET /api/evaluation-rounds, with the publish form for planners."""
    plan_row = get_plan(session, plan, audience=audience) if plan else None
    return render(
        request,
        "evaluation_rounds.html",
        lang,
        rounds=list_round_views(session, plan=plan_row, audience=audience, internal=internal(principal)),
        plan=plan_row.code if plan_row else "",
        kinds=list(RoundKind),
        can_publish=principal.can(Operation.evaluation_publish),
        csrf_token=principal.csrf_token or "",
        flash=flash(request, principal),
    )


@router.post("/rounds", dependencies=[requires(Operation.evaluation_publish)])
def rounds_publish(
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    kind: Annotated[RoundKind, Form()],
    year: Annotated[str, Form(max_length=8)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    supersede: Annotated[bool, Form()] = False,
    plan: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The twin of POST /api/evaluation-rounds; a refusal comes back as a message on the list."""
    t = translator(lang)
    plan_row = get_plan(session, plan or None, audience=audience)
    require_plan_scope(principal, plan_row)
    try:
        published = publish_round(
            session,
            plan_row,
            kind=kind,
            year=_year(year),
            actor=principal.actor,
            note=note,
            supersede=supersede,
            thresholds=settings.thresholds,
            now=now,
        )
    except (ConflictError, InvalidValueError) as exc:
        return back(principal, "/rounds", error=exc.message)
    message = t("flash.round_published").format(
        kind=t(f"round_kind.{published.kind.value}"), year=published.year, id=published.id
    )
    return back(principal, f"/rounds/{published.id}", ok=message)


def _year(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) != 4:
        msg = f"年份应为四位数字,如 2023。the year must be four digits, e.g. 2023 (got {text!r})"
        raise InvalidValueError(msg)
    return int(text)


@router.get("/rounds/diff", response_class=HTMLResponse)
def round_diff_page(
    request: Request,
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    lang: LanguageDep,
    before: Annotated[int, Query(ge=1, le=2**53)],
    after: Annotated[int, Query(ge=1, le=2**53)],
) -> Response:
    """The twin of GET /api/evaluation-rounds/{before}/diff/{after}."""
    diff = round_diff_view(session, before, after, audience=audience, internal=internal(principal))
    return render(request, "evaluation_diff.html", lang, diff=diff)


@router.get("/rounds/{round_id}", response_class=HTMLResponse)
def round_page(
    request: Request,
    round_id: Id,
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    lang: LanguageDep,
) -> Response:
    """The twin of GET /api/evaluation-rounds/{round_id}."""
    shown = round_view(session, round_id, audience=audience, internal=internal(principal))
    others = [
        r
        for r in list_round_views(session, audience=audience, internal=False)
        if r.plan == shown.plan and r.id != shown.id
    ]
    return render(
        request,
        "evaluation_round.html",
        lang,
        round=shown,
        others=others,
        flash=flash(request, principal),
    )


@router.post("/targets/{target_id}/assessments", dependencies=[requires(Operation.evaluation_publish)])
def assessment_submit(
    target_id: Id,
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    lang: LanguageDep,
    year: Annotated[int, Form(ge=1949, le=2100)],
    status: Annotated[str, Form(max_length=32)],
    evidence: Annotated[str, Form(max_length=10_000)] = "",
    assessor: Annotated[str, Form(max_length=150)] = "",
    assessed_on: Annotated[date | None, Form()] = None,
) -> Response:
    """The twin of POST /api/targets/{target_id}/assessments; back to the target page either way."""
    target = get_target(session, target_id, audience=audience)
    principal.require_capture(target.scope_division_id, "target")
    page = f"/targets/{target.id}"
    try:
        record_assessment(
            session,
            target,
            year=year,
            status=status,
            evidence=evidence,
            assessor=assessor,
            assessed_on=assessed_on or local_today(now),
            actor=principal.actor,
            channel="page",
            now=now,
        )
    except InvalidValueError as exc:
        return _to_assessments(back(principal, page, error=exc.message))
    message = translator(lang)("flash.assessment_recorded").format(year=year)
    return _to_assessments(back(principal, page, ok=message))


def _to_assessments(response: Response) -> Response:
    """Land on the target page's assessment block, where the message is shown."""
    response.headers["location"] += "#assessments"
    return response
