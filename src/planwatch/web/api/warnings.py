"""The early warnings (预警) as JSON: the twin of the /warnings page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from planwatch.evaluation.early_warning import WarningLevel
from planwatch.evaluation.service import get_plan, latest_data_year
from planwatch.evaluation.warning_views import WarningsOut, warnings_view
from planwatch.web.deps import AudienceDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/warnings", response_model=WarningsOut, summary="Early warnings (预警) of a plan for a year")
def api_warnings(
    audience: AudienceDep,
    session: SessionDep,
    settings: SettingsDep,
    year: Annotated[int | None, Query(description="Evaluation year (default: the latest with data)")] = None,
    plan: Annotated[str | None, Query(description="Plan code")] = None,
    level: Annotated[WarningLevel | None, Query(description="Only red or only yellow")] = None,
) -> WarningsOut:
    plan_row = get_plan(session, plan, audience=audience)
    year = year if year is not None else latest_data_year(session, plan_row)
    return warnings_view(
        session, plan_row, year, thresholds=settings.thresholds, audience=audience, level=level
    )
