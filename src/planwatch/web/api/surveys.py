"""Demand surveys (公共服务需求调查) and supply–demand matching (供需对接) as JSON: the twins of the
/surveys and /supply-demand pages.

Anyone may read open and closed surveys, answer an open one (anonymously unless the survey asks
for a phone number: one answer per person) and read the tallied results. Drafts, defining,
publishing and closing need ``surveys.manage``; free-text answers are listed (masked) only to
callers with ``requests.read``. Answers from one address are rate-limited like request forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.models import Survey
from planwatch.models.enums import DivisionLevel, RequestChannel
from planwatch.service_requests.matching import PAIRS, MatchResult, PairOut, supply_demand
from planwatch.service_requests.survey_results import SurveyResults, survey_results
from planwatch.service_requests.surveys import (
    close_survey,
    define_survey,
    get_survey,
    list_surveys,
    publish_survey,
    submit_answers,
    validate_survey_data,
)
from planwatch.web.deps import NowDep, PrincipalDep, SessionDep, SettingsDep, app_limiter, requires, source_ip

router = APIRouter(tags=["surveys"])

SurveyCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="A survey's code, e.g. `cd-demand-2025` (its link is /surveys/{code})",
    ),
]
ResultLevel = Literal["district", "street", "community"]


class OptionOut(BaseModel):
    key: str
    name_zh: str
    name_en: str | None


class QuestionOut(BaseModel):
    code: str
    kind: str
    text_zh: str
    text_en: str | None
    required: bool
    options: list[OptionOut]
    scale_min: int | None
    scale_max: int | None
    demand_indicator: str | None


class SurveyOut(BaseModel):
    code: str
    title_zh: str
    title_en: str | None
    description: str | None
    status: str
    identity_required: bool
    opens_at: datetime | None
    closes_at: datetime | None
    simulated: bool
    link: str
    questions: list[QuestionOut]


def survey_out(survey: Survey) -> SurveyOut:
    """A survey as the API and the pages show it (never the answers' identities)."""
    return SurveyOut(
        code=survey.code,
        title_zh=survey.title_zh,
        title_en=survey.title_en,
        description=survey.description,
        status=survey.status.value,
        identity_required=survey.identity_required,
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        simulated=survey.simulated,
        link=f"/surveys/{survey.code}",
        questions=[
            QuestionOut(
                code=q.code,
                kind=q.kind.value,
                text_zh=q.text_zh,
                text_en=q.text_en,
                required=q.required,
                options=[OptionOut(key=o["key"], name_zh=o["zh"], name_en=o.get("en")) for o in q.options],
                scale_min=q.scale_min,
                scale_max=q.scale_max,
                demand_indicator=(q.demand or {}).get("indicator"),
            )
            for q in survey.questions
        ],
    )


class AnswersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_code: str = Field(
        min_length=1, max_length=32, description="Where you live: a street or community code (街道/社区代码)"
    )
    answers: dict[str, Any] = Field(
        description="Question code → option key (single), list of keys (multiple), integer (scale) or text"
    )
    phone: str | None = Field(
        default=None,
        max_length=30,
        description="Mobile number; only for surveys with one answer per person (it is not stored, only a keyed hash)",
    )


class ResponseOut(BaseModel):
    survey: str
    id: int
    submitted_at: datetime
    division_code: str
    simulated: bool


def may_manage(principal: Principal) -> bool:
    return principal.can(Operation.surveys_manage)


def may_read_texts(principal: Principal) -> bool:
    return principal.can(Operation.requests_read)


@router.get("/api/surveys", response_model=list[SurveyOut], summary="Demand surveys (需求调查), newest first")
def api_surveys(session: SessionDep, principal: PrincipalDep) -> list[SurveyOut]:
    """Open and closed surveys; drafts too for those who manage surveys."""
    return [survey_out(s) for s in list_surveys(session, include_drafts=may_manage(principal))]


@router.post(
    "/api/surveys",
    response_model=SurveyOut,
    status_code=201,
    summary="Define a survey (format planwatch.survey/v1) as a draft, or replace a draft's definition",
    dependencies=[requires(Operation.surveys_manage)],
)
def api_define_survey(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    definition: Annotated[dict[str, Any], Body(description="A planwatch.survey/v1 definition as JSON")],
) -> SurveyOut:
    survey, _ = define_survey(
        session,
        validate_survey_data(definition, name="body"),
        actor=principal.username,
        now=now,
        source="body",
    )
    return survey_out(survey)


@router.get("/api/surveys/{code}", response_model=SurveyOut, summary="One survey with its questions")
def api_survey(session: SessionDep, principal: PrincipalDep, code: SurveyCode) -> SurveyOut:
    return survey_out(get_survey(session, code, include_drafts=may_manage(principal)))


@router.post(
    "/api/surveys/{code}/publish",
    response_model=SurveyOut,
    summary="Open a draft survey for answers (发布)",
    dependencies=[requires(Operation.surveys_manage)],
)
def api_publish_survey(session: SessionDep, now: NowDep, code: SurveyCode) -> SurveyOut:
    return survey_out(publish_survey(session, get_survey(session, code, include_drafts=True), now=now))


@router.post(
    "/api/surveys/{code}/close",
    response_model=SurveyOut,
    summary="Stop taking answers (结束调查)",
    dependencies=[requires(Operation.surveys_manage)],
)
def api_close_survey(session: SessionDep, now: NowDep, code: SurveyCode) -> SurveyOut:
    return survey_out(close_survey(session, get_survey(session, code, include_drafts=True), now=now))


@router.post(
    "/api/surveys/{code}/responses",
    response_model=ResponseOut,
    status_code=201,
    summary="Answer an open survey (public; anonymous unless the survey allows one answer per person)",
    responses={409: {"description": "The survey is not open, or this phone number has answered already"}},
)
def api_answer_survey(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    code: SurveyCode,
    body: AnswersIn,
) -> ResponseOut:
    survey = get_survey(session, code)
    app_limiter(request, "survey answers").check(source_ip(request), what="survey answers from this address")
    response = submit_answers(
        session,
        survey,
        body.answers,
        division_code=body.division_code,
        identity=body.phone,
        channel=RequestChannel.web,
        now=now,
        settings=settings,
    )
    session.flush()
    return ResponseOut(
        survey=survey.code,
        id=response.id,
        submitted_at=response.submitted_at,
        division_code=body.division_code.strip(),
        simulated=response.simulated,
    )


@router.get(
    "/api/surveys/{code}/results",
    response_model=SurveyResults,
    summary="A survey's answers tallied per division (分区统计)",
)
def api_survey_results(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    code: SurveyCode,
    level: Annotated[
        ResultLevel, Query(description="Tabulate per district, street or community")
    ] = "district",
) -> SurveyResults:
    """Divisions with fewer than ``request_min_n`` answers show their N only, except to those who
    read citizens' input; they also get the free-text answers (phone and ID numbers masked)."""
    readers = may_read_texts(principal)
    return survey_results(
        session,
        get_survey(session, code, include_drafts=may_manage(principal)),
        level=DivisionLevel(level),
        include_texts=readers,
        min_n=1 if readers else settings.request_min_n,
    )


@router.get(
    "/api/supply-demand/pairs",
    response_model=list[PairOut],
    summary="Supply–demand pairs (供需对接): target group, facility types, standard and its source",
)
def api_supply_demand_pairs() -> list[PairOut]:
    return [PairOut.of(pair) for pair in PAIRS.values()]


@router.get(
    "/api/supply-demand",
    response_model=list[MatchResult],
    summary="Supply–demand matching per division (供需匹配): demand, supply, ratio, standard gap, shortage rank",
)
def api_supply_demand(
    session: SessionDep,
    pair: Annotated[
        str | None, Query(max_length=64, description="One pair (e.g. `elderly_beds`); default: every pair")
    ] = None,
    level: Annotated[
        Literal["district", "street", "community"], Query(description="Per district, street or community")
    ] = "district",
    year: Annotated[
        int | None, Query(ge=1900, le=2100, description="Data year; default: the latest of each source")
    ] = None,
) -> list[MatchResult]:
    codes = [pair] if pair else list(PAIRS)
    return [supply_demand(session, code, level=DivisionLevel(level), year=year) for code in codes]
