"""What the CLI, the JSON API and the warnings page show of the early warnings: one model, one builder."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from planwatch.config import StatusThresholds
from planwatch.evaluation.alerts import TargetWarning, plan_warnings
from planwatch.evaluation.data import OPERATOR, Audience
from planwatch.evaluation.early_warning import WarningLevel
from planwatch.models import Plan
from planwatch.plans.views import EvaluationOut, evaluation_out


class RuleOut(BaseModel):
    code: str
    level: str
    zh: str
    en: str


class DepartmentOut(BaseModel):
    code: str
    name_zh: str
    name_en: str | None
    role: str = Field(
        description="lead: the task's lead department; source: the indicator's source department"
    )


class UnitWarningOut(BaseModel):
    code: str
    name_zh: str
    name_en: str | None
    level: str
    level_zh: str
    status: str
    status_zh: str
    value: float | None


class WarningOut(BaseModel):
    target_id: int
    code: str
    indicator_zh: str
    indicator_en: str | None
    nature: str
    nature_zh: str
    level: str | None = Field(description="The target's own level (red/yellow); null when only units warn")
    level_zh: str | None
    top_level: str
    rules: list[RuleOut]
    department: DepartmentOut | None
    evaluation: EvaluationOut
    unit_level: str | None
    unit_level_zh: str | None
    units: list[UnitWarningOut]
    source_sentence: str


class WarningsOut(BaseModel):
    plan: str
    year: int
    counts: dict[str, int] = Field(description="Targets per top level (red, yellow)")
    simulated: bool = Field(description="True when any value behind a warning is simulated (模拟数据).")
    warnings: list[WarningOut]


def warning_out(warning: TargetWarning) -> WarningOut:
    target, level = warning.target, warning.level
    department = warning.department
    return WarningOut(
        target_id=target.id,
        code=target.code,
        indicator_zh=target.indicator.name_zh,
        indicator_en=target.indicator.name_en,
        nature=target.indicator.nature.value,
        nature_zh=target.indicator.nature.zh,
        level=level.value if level else None,
        level_zh=level.zh if level else None,
        top_level=warning.top_level.value,
        rules=[RuleOut(code=r.code, level=r.level.value, zh=r.zh, en=r.en) for r in warning.rules],
        department=DepartmentOut(
            code=department.code,
            name_zh=department.name_zh,
            name_en=department.name_en,
            role=warning.department_role or "",
        )
        if department is not None
        else None,
        evaluation=evaluation_out(warning.evaluation, target.deadline_year),
        unit_level=warning.unit_level.value if warning.unit_level else None,
        unit_level_zh=warning.unit_level.zh if warning.unit_level else None,
        units=[
            UnitWarningOut(
                code=u.code,
                name_zh=u.name_zh,
                name_en=u.name_en,
                level=u.level.value,
                level_zh=u.level.zh,
                status=u.status.value,
                status_zh=u.status.zh,
                value=u.value,
            )
            for u in warning.units
        ],
        source_sentence=target.source_sentence,
    )


def warnings_view(
    session: Session,
    plan: Plan,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
    level: WarningLevel | None = None,
) -> WarningsOut:
    """The plan's warnings for ``year``, optionally only those whose top level is ``level``."""
    found = plan_warnings(session, plan, year, thresholds=thresholds, audience=audience)
    if level is not None:
        found = [w for w in found if w.top_level is level]
    counts = {lv.value: sum(1 for w in found if w.top_level is lv) for lv in WarningLevel}
    return WarningsOut(
        plan=plan.code,
        year=year,
        counts=counts,
        simulated=any(w.evaluation.simulated for w in found),
        warnings=[warning_out(w) for w in found],
    )
