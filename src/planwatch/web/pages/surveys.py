"""Demand-survey pages (公共服务需求调查) and the supply–demand page (供需对接).

The answering page works on a phone without JavaScript: one column, large touch targets, radio
buttons, check boxes, a scale as a row of radio buttons (a slider for long scales) and a text box.
The division picker is a select of streets grouped by district; "choose community" re-renders the
same form (a POST, so nothing typed travels in a URL) with the street's communities added.
Anonymous forms carry the double-submit token of the ``pw_csrf`` cookie, signed-in ones the
session's token. Each page shares its service function with its JSON twin in ``web/api/surveys.py``.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from planwatch.accounts.principal import Principal
from planwatch.divisions.service import division_tree
from planwatch.errors import ConflictError, InvalidValueError
from planwatch.models import Survey
from planwatch.models.enums import DivisionLevel, QuestionKind, RequestChannel, SurveyStatus
from planwatch.service_requests.matching import PAIRS, MatchResult, supply_demand
from planwatch.service_requests.survey_results import SurveyResults, survey_results
from planwatch.service_requests.surveys import (
    TEXT_MAX_CHARS,
    communities_of,
    division_choices,
    get_survey,
    list_surveys,
    submit_answers,
)
from planwatch.web.api.surveys import may_manage, may_read_texts, survey_out
from planwatch.web.deps import (
    CSRF_COOKIE,
    LanguageDep,
    NowDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    app_limiter,
    source_ip,
)
from planwatch.web.i18n import translator
from planwatch.web.pages.routes import render, script_json

router = APIRouter(include_in_schema=False)

SLIDER_FROM = 12
"""Scales with this many points or more are a slider; shorter ones a row of radio buttons."""
RESULT_ROWS = 300
"""Divisions tabulated on the results page per question (all of them in the JSON twin)."""
_CSRF_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{32,128}")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- list


@router.get("/surveys", response_class=HTMLResponse)
def surveys_page(
    request: Request, session: SessionDep, principal: PrincipalDep, lang: LanguageDep
) -> Response:
    """Open and closed surveys (drafts too for those who manage them)."""
    surveys = [survey_out(s) for s in list_surveys(session, include_drafts=may_manage(principal))]
    return render(request, "survey_list.html", lang, surveys=surveys)


# ---------------------------------------------------------------- answering


def _form_token(request: Request, principal: Principal) -> tuple[str, bool]:
    """The CSRF token the form carries, and whether the ``pw_csrf`` cookie must be (re)set."""
    if principal.via == "session":
        return principal.csrf_token or "", False
    token = request.cookies.get(CSRF_COOKIE, "")
    if _CSRF_COOKIE_VALUE.fullmatch(token):
        return token, False
    return secrets.token_urlsafe(32), True


def _answer_form(
    request: Request,
    session: Session,
    principal: Principal,
    lang: str,
    survey: Survey,
    *,
    secure: bool,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    values = values or {}
    token, set_cookie = _form_token(request, principal)
    street = str(values.get("street") or request.query_params.get("street") or "")
    communities = communities_of(division_tree(session), street) if street else []
    response = render(
        request,
        "survey_form.html",
        lang,
        status_code=status_code,
        survey=survey_out(survey),
        is_open=survey.status is SurveyStatus.open,
        districts=division_choices(session),
        street=street,
        communities=communities,
        values=values,
        error=error,
        csrf_token=token,
        slider_from=SLIDER_FROM,
    )
    if set_cookie:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=secure, samesite="lax", path="/")
    return _no_store(response)


@router.get("/surveys/{code}", response_class=HTMLResponse)
def survey_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    lang: LanguageDep,
    code: str,
) -> Response:
    """The answering page: a survey's questions and the division picker."""
    survey = get_survey(session, code, include_drafts=may_manage(principal))
    return _answer_form(request, session, principal, lang, survey, secure=settings.cookie_secure)


def answers_from_form(survey: Survey, form: Any) -> dict[str, Any]:
    """The answers a form holds, typed as ``check_answers`` expects: a scale's digits become an
    integer (anything else is passed on, and reported as not a number)."""
    answers: dict[str, Any] = {}
    for question in survey.questions:
        if question.kind is QuestionKind.multiple:
            chosen = [str(v) for v in form.getlist(question.code)]
            if chosen:
                answers[question.code] = chosen
            continue
        raw = form.get(question.code)
        if raw is None or str(raw).strip() == "":
            continue
        text = str(raw)
        if question.kind is QuestionKind.scale and re.fullmatch(r"-?\d{1,4}", text.strip()):
            answers[question.code] = int(text)
        else:
            answers[question.code] = text
    return answers


async def _form(request: Request) -> FormData:
    # the question codes are the survey's, so the form is read whole (csrf_guard has read it too)
    return await request.form()


FormDep = Annotated[FormData, Depends(_form)]


@router.post("/surveys/{code}", response_class=HTMLResponse)
def survey_submit(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    form: FormDep,
    code: str,
) -> Response:
    """Submit the answering form (or, with step=refine, show the chosen street's communities).
    Problems are answered on the form with everything typed kept; nothing is stored."""
    survey = get_survey(session, code)
    answers = answers_from_form(survey, form)
    street = str(form.get("street") or "").strip()
    community = str(form.get("community") or "").strip()
    phone = str(form.get("phone") or "").strip()
    # what was typed is shown again, but not a pasted novel
    shown = {k: v[: TEXT_MAX_CHARS + 100] if isinstance(v, str) else v for k, v in answers.items()}
    values: dict[str, Any] = {
        **shown,
        "street": street[:32],
        "community": community[:32],
        "phone": phone[:30],
    }
    t = translator(lang)
    if form.get("step") == "refine":
        return _answer_form(
            request, session, principal, lang, survey, secure=settings.cookie_secure, values=values
        )
    try:
        app_limiter(request, "survey answers").check(
            source_ip(request), what="survey answers from this address"
        )
        if not street and not community:
            raise InvalidValueError(f"division_code: {t('sv_pick_street')}")
        submit_answers(
            session,
            survey,
            answers,
            division_code=community or street,
            identity=phone or None,
            channel=RequestChannel.web,
            now=now,
            settings=settings,
        )
    except (InvalidValueError, ConflictError) as exc:
        return _answer_form(
            request,
            session,
            principal,
            lang,
            survey,
            secure=settings.cookie_secure,
            values=values,
            error=exc.message,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/surveys/{survey.code}/thanks", status_code=303)


@router.get("/surveys/{code}/thanks", response_class=HTMLResponse)
def survey_thanks_page(request: Request, session: SessionDep, lang: LanguageDep, code: str) -> Response:
    """Thank-you page after answering."""
    return render(request, "survey_thanks.html", lang, survey=survey_out(get_survey(session, code)))


# ---------------------------------------------------------------- results


def results_chart(results: SurveyResults, lang: str) -> dict[str, Any]:
    """Per question a bar chart of the whole survey's shares (choices) or counts (scale points)."""
    charts = []
    for q in results.total.questions:
        if q.kind is QuestionKind.text:
            continue
        labels = [(o.name_en or o.name_zh) if lang == "en" else o.name_zh for o in q.options]
        charts.append(
            {
                "id": f"chart-{q.code}",
                "title": (q.text_en or q.text_zh) if lang == "en" else q.text_zh,
                "labels": labels,
                "values": [o.share if o.share is not None else 0 for o in q.options],
                "unit": "%",
            }
        )
    return {"charts": charts, "simulated": results.simulated}


@router.get("/surveys/{code}/results", response_class=HTMLResponse)
def survey_results_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    lang: LanguageDep,
    code: str,
    level: Annotated[Literal["district", "street", "community"], Query()] = "district",
) -> Response:
    """A survey's results per division: a table per question and bar charts of the whole survey."""
    survey = get_survey(session, code, include_drafts=may_manage(principal))
    readers = may_read_texts(principal)
    results = survey_results(
        session,
        survey,
        level=DivisionLevel(level),
        include_texts=readers,
        min_n=1 if readers else settings.request_min_n,
    )
    return render(
        request,
        "survey_results.html",
        lang,
        survey=survey_out(survey),
        results=results,
        level=level,
        can_read_texts=readers,
        shown=RESULT_ROWS,
        chart_json=script_json(results_chart(results, lang)),
    )


# ---------------------------------------------------------------- supply and demand


def match_chart(result: MatchResult, lang: str, *, top: int = 15) -> dict[str, Any]:
    """The divisions shortest of supply: demand per unit of supply, as horizontal bars; a division
    without any supply gets a red bar as long as the longest, labelled "no supply"."""
    rows = [r for r in result.rows if r.rank is not None][:top]
    longest = max((r.ratio for r in rows if r.ratio is not None), default=1.0)
    no_supply = translator(lang)("sd_no_supply")
    return {
        "id": f"chart-{result.pair.code}",
        "title": result.pair.ratio_label_en if lang == "en" else result.pair.ratio_label_zh,
        "labels": [(r.name_en or r.name_zh) if lang == "en" else r.name_zh for r in rows],
        "values": [longest * 1.05 if r.no_supply else (r.ratio or 0.0) for r in rows],
        "text": [no_supply if r.no_supply else f"{r.ratio or 0:.1f}" for r in rows],
        "no_supply": [r.no_supply for r in rows],
        "unit": "",
        "horizontal": True,
    }


@router.get("/supply-demand", response_class=HTMLResponse)
def supply_demand_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    pair: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[Literal["district", "street"], Query()] = "district",
    top: Annotated[int, Query(ge=5, le=100)] = 20,
) -> Response:
    """Per pair the divisions shortest of supply, with a chart; a banner when inputs are simulated."""
    codes = [pair] if pair else list(PAIRS)
    results = [supply_demand(session, c, level=DivisionLevel(level)) for c in codes]
    return render(
        request,
        "supply_demand.html",
        lang,
        results=results,
        pairs=list(PAIRS.values()),
        pair=pair or "",
        level=level,
        top=top,
        simulated=any(r.simulated for r in results),
        chart_json=script_json({"charts": [match_chart(r, lang, top=top) for r in results]}),
    )
