"""Server-rendered pages (Chinese by default, English with ?lang=en). Each shares its service
function with a JSON twin under /api."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.evaluation.assessments import ASSESSABLE, local_today
from planwatch.evaluation.progress import Status
from planwatch.evaluation.round_views import assessment_views
from planwatch.evaluation.service import get_plan, latest_data_year
from planwatch.models import Target
from planwatch.models.enums import TargetKind
from planwatch.plans.views import get_target, plan_overview, target_breakdown, target_view
from planwatch.web.deps import AudienceDep, Id, LanguageDep, PrincipalDep, SessionDep, SettingsDep
from planwatch.web.i18n import LANGUAGES, translator
from planwatch.web.pages.flash import flash

TEMPLATES = Jinja2Templates(directory=Path(str(resources.files("planwatch.web") / "templates")))
router = APIRouter(include_in_schema=False)


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _name(obj: Any, lang: str, field: str = "name") -> str:
    zh = str(getattr(obj, f"{field}_zh"))
    en = getattr(obj, f"{field}_en", None)
    return str(en or zh) if lang == "en" else zh


TEMPLATES.env.filters["fmt"] = _fmt
TEMPLATES.env.globals["Status"] = Status


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` can end it early)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render(request: Request, template: str, lang: str, status_code: int = 200, **context: Any) -> Response:
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "t": translator(lang),
            "lang": lang,
            "name": lambda obj, field="name": _name(obj, lang, field),
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


def render_error(request: Request, status_code: int, message: str) -> Response:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    lang = lang if lang in LANGUAGES else "zh"
    return render(request, "error.html", lang, status_code=status_code, code=status_code, message=message)


@router.get("/", response_class=HTMLResponse)
def overview_page(
    audience: AudienceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: LanguageDep,
    year: Annotated[int | None, Query()] = None,
    plan: Annotated[str | None, Query()] = None,
) -> Response:
    plan_row = get_plan(session, plan, audience=audience)
    year = year if year is not None else latest_data_year(session, plan_row)
    overview = plan_overview(session, plan_row, year, thresholds=settings.thresholds, audience=audience)
    chart = {
        "labels": [Status(s).zh if lang == "zh" else Status(s).en for s in overview.counts],
        "statuses": list(overview.counts),
        "values": list(overview.counts.values()),
    }
    return render(
        request, "overview.html", lang, overview=overview, chart_json=json.dumps(chart, ensure_ascii=False)
    )


@router.get("/targets/{target_id}", response_class=HTMLResponse)
def target_page(
    audience: AudienceDep,
    principal: PrincipalDep,
    request: Request,
    target_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    lang: LanguageDep,
    year: Annotated[int | None, Query()] = None,
) -> Response:
    target = get_target(session, target_id, audience=audience)
    year = year if year is not None else latest_data_year(session, target.plan)
    view = target_view(session, target_id, year, thresholds=settings.thresholds, audience=audience)
    t = translator(lang)
    ev = view.evaluation
    chart = None
    if ev is not None and ev.series:
        chart = {
            "series": ev.series,
            "baseline_year": view.baseline_year,
            "baseline": ev.baseline,
            "deadline": view.year,
            "target": ev.target,
            "per_period": ev.per_period,
            "simulated": ev.simulated,
            "forecast": ev.forecast.model_dump() if ev.forecast and ev.forecast.scale == "measure" else None,
            "labels": {
                "title": t("chart_title"),
                "forecast": t("forecast_line"),
                "interval": t("interval80"),
                "expected": t("expected_path"),
                "actual": t("actual_values") + (f" ({t('simulated')})" if ev.simulated else ""),
                "target": t("target_line"),
                "measure": (ev.measure_en if lang == "en" else ev.measure_zh) or "",
            },
        }
    return render(
        request,
        "target.html",
        lang,
        view=view,
        breakdown=target_breakdown(session, target_id, year, audience=audience),
        years=list(range(target.plan.base_year, target.plan.period_end + 1)),
        year=year,
        chart_json=json.dumps(chart, ensure_ascii=False) if chart else None,
        assessments=_assessment_block(request, principal, session, target, year),
    )


def _assessment_block(
    request: Request, principal: Principal, session: Session, target: Target, year: int
) -> dict[str, Any] | None:
    """A qualitative target's assessments and, for planners, the form (templates/_assessments.html)."""
    if target.kind is not TargetKind.qualitative:
        return None
    return {
        "rows": assessment_views(session, target, internal=principal.can(Operation.catalogue_read)),
        "can_assess": principal.can(Operation.evaluation_publish),
        "csrf_token": principal.csrf_token or "",
        "statuses": ASSESSABLE,
        "year": year,
        "today": local_today(request.app.state.clock()).isoformat(),
        "flash": flash(request, principal),
    }


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request, lang: LanguageDep) -> Response:
    spec = request.app.openapi()
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            operations.append({"method": method.upper(), "path": path, **op})
    return render(request, "docs.html", lang, spec=spec, operations=operations)


@router.get("/lang/{code}")
def switch_language(code: str, request: Request) -> Response:
    lang = code if code in LANGUAGES else "zh"
    back = request.headers.get("referer") or "/"
    if not back.startswith(str(request.base_url)):
        back = "/"
    response = RedirectResponse(back, status_code=303)
    response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response
