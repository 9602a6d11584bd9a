"""The early-warnings page (预警): red and yellow targets, the units behind them, who answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from planwatch.evaluation.early_warning import WarningLevel
from planwatch.evaluation.service import get_plan, latest_data_year, plan_years
from planwatch.evaluation.warning_views import warnings_view
from planwatch.web.deps import AudienceDep, LanguageDep, SessionDep, SettingsDep
from planwatch.web.pages.routes import render

router = APIRouter(include_in_schema=False)


@router.get("/warnings", response_class=HTMLResponse)
def warnings_page(
    audience: AudienceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: LanguageDep,
    year: Annotated[int | None, Query()] = None,
    plan: Annotated[str | None, Query()] = None,
    level: Annotated[WarningLevel | None, Query()] = None,
) -> Response:
    plan_row = get_plan(session, plan, audience=audience)
    year = year if year is not None else latest_data_year(session, plan_row)
    view = warnings_view(
        session, plan_row, year, thresholds=settings.thresholds, audience=audience, level=level
    )
    return render(
        request,
        "warnings.html",
        lang,
        view=view,
        years=list(plan_years(plan_row)),
        level=level.value if level else "",
        plan_title=plan_row.title_en if lang == "en" and plan_row.title_en else plan_row.title_zh,
    )
