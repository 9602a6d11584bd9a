"""Write a validated catalogue into the database: one transaction, idempotent, edit-preserving.

Loading upserts by code. Re-loading the same file changes nothing. Sections, tasks, targets and
validation rules of the plan that the file no longer lists are removed (a rule code belongs to the
plan that defined it first), except a target that a published evaluation round or a qualitative
assessment names: such a file is refused. Departments and indicators are shared between plans
(keyed by code alone) and are never removed. A target field an administrator
edited after loading (recorded in ``catalogue_changes``) is kept and reported, so a reload of the
shipped file cannot silently undo a fill-in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import CatalogueError, Problem
from planwatch.models import (
    CatalogueChange,
    Department,
    Division,
    EvaluationRoundTarget,
    Indicator,
    Milestone,
    Plan,
    QualitativeAssessment,
    Section,
    Target,
    Task,
    ValidationRule,
)
from planwatch.models.plan import task_cooperators
from planwatch.plans.reader import direction_conflict
from planwatch.plans.schemas import (
    DepartmentIn,
    IndicatorIn,
    PlanFile,
    TargetIn,
    TaskIn,
    ValidationRuleIn,
    walk_sections,
)


@dataclass
class LoadReport:
    """What a load did, per kind of entity: created / updated / unchanged / removed."""

    plan_code: str
    plan_version: int
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    kept_edits: list[str] = field(default_factory=list)

    def count(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1

    @property
    def changed(self) -> bool:
        return any(c["created"] or c["updated"] or c["removed"] for c in self.counts.values())


def load_plan(session: Session, plan_file: PlanFile, *, name: str) -> LoadReport:
    """Load ``plan_file`` into the session's transaction; raise ``CatalogueError`` before writing
    anything if a reference to the database (division, parent plan, indicator of a target or a
    validation rule) does not resolve."""
    divisions = _current_divisions(session)
    _check_database_references(session, plan_file, name=name, divisions=divisions)

    report = LoadReport(plan_file.plan.code, plan_file.plan.version)
    departments = _load_departments(session, plan_file, report)
    indicators = _load_indicators(session, plan_file, departments, report)
    plan = _load_plan_header(session, plan_file, divisions, report)
    sections = _load_sections(session, plan, plan_file, report)
    tasks = _load_tasks(session, plan, plan_file, sections, departments, report)
    _load_targets(session, plan, plan_file, indicators, sections, tasks, divisions, report)
    _load_validation_rules(session, plan, plan_file, report)
    session.flush()
    return report


def _current_divisions(session: Session) -> dict[str, Division]:
    rows = session.scalars(select(Division).where(Division.valid_to.is_(None)))
    return {division.code: division for division in rows}


def _check_database_references(
    session: Session, plan_file: PlanFile, *, name: str, divisions: dict[str, Division]
) -> None:
    problems: list[Problem] = []
    header = plan_file.plan
    if header.scope not in divisions:
        problems.append(Problem(name, "plan", "scope", _no_division(header.scope)))
    if header.parent is not None:
        parent = session.scalar(select(Plan).where(Plan.code == header.parent))
        if parent is None:
            problems.append(
                Problem(
                    name,
                    "plan",
                    "parent",
                    f"no plan with code '{header.parent}' is loaded; load the parent plan first",
                )
            )
    known = {i.code for i in plan_file.indicators}
    known |= set(session.scalars(select(Indicator.code)))
    for index, target in enumerate(plan_file.targets):
        entry = f"targets[{index}] ({target.code})"
        if target.indicator not in known:
            problems.append(
                Problem(
                    name,
                    entry,
                    "indicator",
                    f"unknown indicator '{target.indicator}'; define it under indicators:",
                )
            )
        if target.scope not in divisions:
            problems.append(Problem(name, entry, "scope", _no_division(target.scope)))
        if target.reference_indicator is not None and target.reference_indicator not in known:
            problems.append(
                Problem(
                    name,
                    entry,
                    "reference_indicator",
                    f"unknown indicator '{target.reference_indicator}'; define the reference series "
                    "under indicators: (and load its values like any indicator's)",
                )
            )
        if target.reference_indicator is not None and target.reference_indicator == target.indicator:
            problems.append(
                Problem(
                    name,
                    entry,
                    "reference_indicator",
                    "a target cannot be compared with its own indicator; name the indicator that holds "
                    "the reference values (e.g. the national standard)",
                )
            )
    problems.extend(_kept_targets(session, plan_file, name=name))
    owners: dict[str, str] = dict(
        session.execute(
            select(ValidationRule.code, Plan.code).join(Plan, Plan.id == ValidationRule.plan_id)
        ).all()
    )
    for index, rule in enumerate(plan_file.validation_rules):
        entry = f"validation_rules[{index}] ({rule.code})"
        owner = owners.get(rule.code)
        if owner is not None and owner != header.code:
            problems.append(
                Problem(
                    name,
                    entry,
                    "code",
                    f"the rule code {rule.code} belongs to plan {owner}; give this plan's rule its own code "
                    "(e.g. a plan prefix)",
                )
            )
        for side, codes in rule.references().items():
            problems.extend(
                Problem(
                    name,
                    entry,
                    side,
                    f"unknown indicator '{code}' in #{{{code}}}; define it under indicators: or fix the code",
                )
                for code in sorted(codes - known)
            )
    problems.extend(_shared_conflicts(session, plan_file, name=name))
    db_directions = dict(session.execute(select(Indicator.code, Indicator.direction)).all())
    file_indicators = {i.code for i in plan_file.indicators}
    for index, target in enumerate(plan_file.targets):
        direction = db_directions.get(target.indicator)
        if target.indicator in file_indicators or direction is None:
            continue
        conflict = direction_conflict(target.comparator, direction, target.kind)
        if conflict:
            problems.append(Problem(name, f"targets[{index}] ({target.code})", "comparator", conflict))
    if problems:
        raise CatalogueError(problems)


def _kept_targets(session: Session, plan_file: PlanFile, *, name: str) -> list[Problem]:
    """A target that a published evaluation round or a qualitative assessment names is part of an
    audited record: a file that drops it is refused (the database would refuse it too)."""
    plan = session.scalar(
        select(Plan).where(Plan.code == plan_file.plan.code, Plan.version == plan_file.plan.version)
    )
    if plan is None:
        return []
    listed = {t.code for t in plan_file.targets}
    dropped = {
        t.id: t.code
        for t in session.scalars(select(Target).where(Target.plan_id == plan.id))
        if t.code not in listed
    }
    if not dropped:
        return []
    in_rounds = set(
        session.scalars(
            select(EvaluationRoundTarget.target_id).where(EvaluationRoundTarget.target_id.in_(dropped))
        )
    )
    assessed = set(
        session.scalars(
            select(QualitativeAssessment.target_id).where(QualitativeAssessment.target_id.in_(dropped))
        )
    )
    return [
        Problem(
            name,
            f"targets ({code})",
            "",
            "the file no longer lists this target, but "
            + ("a published evaluation round" if target_id in in_rounds else "a qualitative assessment")
            + " names it; keep the target in the file, or load the revised plan as a new version "
            "(plan.version)",
        )
        for target_id, code in sorted(dropped.items(), key=lambda item: item[1])
        if target_id in in_rounds or target_id in assessed
    ]


def _indicator_fields(indicator: IndicatorIn) -> dict[str, Any]:
    agg = indicator.aggregation
    return {
        "name_zh": indicator.name,
        "name_en": indicator.name_en,
        "unit": indicator.unit,
        "definition": indicator.definition,
        "direction": indicator.direction,
        "nature": indicator.nature,
        "frequency": indicator.frequency,
        "period_aggregation": indicator.period_aggregation,
        "aggregation": agg.method,
        "factor": agg.factor,
        "condition_comparator": agg.comparator,
        "condition_threshold": agg.threshold,
        "numerator_label": agg.numerator,
        "denominator_label": agg.denominator,
        "nature_inferred": indicator.nature_inferred,
        "source_department": indicator.source_department,
        "levels": [level.value for level in indicator.levels],
        "computed_by": indicator.computed_by,
    }


def _stored_indicator_fields(row: Indicator) -> dict[str, Any]:
    fields = {key: getattr(row, key) for key in _INDICATOR_COLUMNS}
    fields["source_department"] = row.source_department.code if row.source_department else None
    return fields


_INDICATOR_COLUMNS = (
    "name_zh",
    "name_en",
    "unit",
    "definition",
    "direction",
    "nature",
    "frequency",
    "period_aggregation",
    "aggregation",
    "factor",
    "condition_comparator",
    "condition_threshold",
    "numerator_label",
    "denominator_label",
    "nature_inferred",
    "levels",
    "computed_by",
)


def _departments_used_elsewhere(session: Session, plan_code: str) -> set[int]:
    """Departments that lead or cooperate on another plan's tasks or report another plan's indicators."""
    other_tasks = select(Task.id).join(Plan, Task.plan_id == Plan.id).where(Plan.code != plan_code)
    used = set(session.scalars(select(Task.lead_department_id).where(Task.id.in_(other_tasks))))
    used |= set(
        session.scalars(
            select(task_cooperators.c.department_id).where(task_cooperators.c.task_id.in_(other_tasks))
        )
    )
    other_indicators = (
        select(Target.indicator_id).join(Plan, Target.plan_id == Plan.id).where(Plan.code != plan_code)
    )
    used |= set(
        session.scalars(select(Indicator.source_department_id).where(Indicator.id.in_(other_indicators)))
    )
    return {i for i in used if i is not None}


def _shared_conflicts(session: Session, plan_file: PlanFile, *, name: str) -> list[Problem]:
    """Indicators and departments are shared between plans; a plan may not redefine one that
    another plan uses (that would silently change the other plan's evaluation)."""
    code = plan_file.plan.code
    problems: list[Problem] = []
    for index, indicator in enumerate(plan_file.indicators):
        row = session.scalar(select(Indicator).where(Indicator.code == indicator.code))
        if row is None:
            continue
        stored = _stored_indicator_fields(row)
        differs = [key for key, value in _indicator_fields(indicator).items() if stored[key] != value]
        users = session.scalars(
            select(Plan.code)
            .join(Target, Target.plan_id == Plan.id)
            .where(Target.indicator_id == row.id, Plan.code != code)
            .distinct()
        ).all()
        if differs and users:
            problems.append(
                Problem(
                    name,
                    f"indicators[{index}] ({indicator.code})",
                    ", ".join(differs),
                    f"differs from the definition plan(s) {', '.join(sorted(users))} use; "
                    "use the same definition or give this indicator another code",
                )
            )
    used_elsewhere = _departments_used_elsewhere(session, code)
    for index, dept in enumerate(plan_file.departments):
        existing = session.scalar(select(Department).where(Department.code == dept.code))
        if existing is None or existing.id not in used_elsewhere:
            continue
        stored = {"name": existing.name_zh, "name_en": existing.name_en, "expiry_days": existing.expiry_days}
        wanted = {"name": dept.name, "name_en": dept.name_en, "expiry_days": dept.expiry_days}
        differs = [key for key in stored if stored[key] != wanted[key]]
        if not differs:
            continue
        as_stored = f"'{existing.name_zh}'"
        if "expiry_days" in differs:
            as_stored += f" with expiry_days {existing.expiry_days}"
        problems.append(
            Problem(
                name,
                f"departments[{index}] ({dept.code})",
                ", ".join(differs),
                f"another plan uses this department as {as_stored}; use the same definition or another code",
            )
        )
    return problems


def _no_division(code: str) -> str:
    return (
        f"no current division has code '{code}'; load the divisions first (`planwatch init`) or fix the code"
    )


def _apply(obj: Any, values: dict[str, Any]) -> bool:
    """Set attributes that differ; return whether anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _upsert(
    session: Session, report: LoadReport, kind: str, existing: Any, model: type[Any], values: dict[str, Any]
) -> Any:
    if existing is None:
        obj = model(**values)
        session.add(obj)
        report.count(kind, "created")
        return obj
    report.count(kind, "updated" if _apply(existing, values) else "unchanged")
    return existing


def _remove_stale(session: Session, report: LoadReport, kind: str, stale: Iterable[Any]) -> None:
    """Delete what the plan had but the file no longer lists."""
    for obj in stale:
        session.delete(obj)
        report.count(kind, "removed")


def _load_departments(session: Session, plan_file: PlanFile, report: LoadReport) -> dict[str, Department]:
    existing = {d.code: d for d in session.scalars(select(Department))}
    for dept in plan_file.departments:
        values = _department_values(dept)
        existing[dept.code] = _upsert(
            session, report, "departments", existing.get(dept.code), Department, values
        )
    return existing


def _department_values(dept: DepartmentIn) -> dict[str, Any]:
    return {
        "code": dept.code,
        "name_zh": dept.name,
        "name_en": dept.name_en,
        "expiry_days": dept.expiry_days,
    }


def _indicator_values(indicator: IndicatorIn, departments: dict[str, Department]) -> dict[str, Any]:
    agg = indicator.aggregation
    source = departments.get(indicator.source_department) if indicator.source_department else None
    return {
        "code": indicator.code,
        "name_zh": indicator.name,
        "name_en": indicator.name_en,
        "unit": indicator.unit,
        "definition": indicator.definition,
        "direction": indicator.direction,
        "nature": indicator.nature,
        "nature_inferred": indicator.nature_inferred,
        "frequency": indicator.frequency,
        "period_aggregation": indicator.period_aggregation,
        "aggregation": agg.method,
        "factor": agg.factor,
        "numerator_label": agg.numerator,
        "denominator_label": agg.denominator,
        "condition_comparator": agg.comparator,
        "condition_threshold": agg.threshold,
        "source_department": source,
        "levels": [level.value for level in indicator.levels],
        "computed_by": indicator.computed_by,
    }


def _load_indicators(
    session: Session, plan_file: PlanFile, departments: dict[str, Department], report: LoadReport
) -> dict[str, Indicator]:
    existing = {i.code: i for i in session.scalars(select(Indicator))}
    session.flush()  # new departments need ids before indicators point at them
    for indicator in plan_file.indicators:
        values = _indicator_values(indicator, departments)
        existing[indicator.code] = _upsert(
            session, report, "indicators", existing.get(indicator.code), Indicator, values
        )
    return existing


def _load_plan_header(
    session: Session, plan_file: PlanFile, divisions: dict[str, Division], report: LoadReport
) -> Plan:
    header = plan_file.plan
    parent = (
        session.scalar(select(Plan).where(Plan.code == header.parent).order_by(Plan.version.desc()))
        if header.parent
        else None
    )
    existing = session.scalar(select(Plan).where(Plan.code == header.code, Plan.version == header.version))
    values = {
        "code": header.code,
        "version": header.version,
        "title_zh": header.title,
        "title_en": header.title_en,
        "kind": header.kind,
        "status": header.status,
        "period_start": header.period[0],
        "period_end": header.period[1],
        "base_year": header.effective_base_year,
        "vision_year": header.vision_year,
        "parent": parent,
        "scope_division_id": divisions[header.scope].id,
        "source": header.source,
    }
    plan: Plan = _upsert(session, report, "plans", existing, Plan, values)
    session.flush()
    return plan


def _load_sections(
    session: Session, plan: Plan, plan_file: PlanFile, report: LoadReport
) -> dict[str, Section]:
    existing = {s.code: s for s in session.scalars(select(Section).where(Section.plan_id == plan.id))}
    result: dict[str, Section] = {}
    for position, (section, parent_code, depth) in enumerate(walk_sections(plan_file.sections)):
        parent = result[parent_code] if parent_code else None
        if parent is not None and parent.id is None:
            session.flush()
        values = {
            "plan_id": plan.id,
            "parent_id": parent.id if parent else None,
            "code": section.code,
            "title_zh": section.title,
            "title_en": section.title_en,
            "position": position,
            "depth": depth,
        }
        result[section.code] = _upsert(
            session, report, "sections", existing.pop(section.code, None), Section, values
        )
        session.flush()
    _remove_stale(session, report, "sections", existing.values())
    return result


def _task_values(
    task: TaskIn, plan: Plan, sections: dict[str, Section], departments: dict[str, Department]
) -> dict[str, Any]:
    return {
        "plan_id": plan.id,
        "code": task.code,
        "section_id": sections[task.section].id if task.section else None,
        "name_zh": task.name,
        "name_en": task.name_en,
        "kind": task.kind,
        "lead_department_id": departments[task.lead].id if task.lead else None,
        "lead_inferred": task.lead_inferred,
        "implementation_path": task.implementation_path,
        "source_sentence": task.source_sentence,
        "note": task.note,
    }


def _load_tasks(
    session: Session,
    plan: Plan,
    plan_file: PlanFile,
    sections: dict[str, Section],
    departments: dict[str, Department],
    report: LoadReport,
) -> dict[str, Task]:
    session.flush()
    existing = {t.code: t for t in session.scalars(select(Task).where(Task.plan_id == plan.id))}
    result: dict[str, Task] = {}
    for task_in in plan_file.tasks:
        task = existing.pop(task_in.code, None)
        values = _task_values(task_in, plan, sections, departments)
        changed = task is None
        if task is None:
            task = Task(**values)
            session.add(task)
        else:
            changed = _apply(task, values)
        cooperating = [departments[code] for code in task_in.cooperating]
        if sorted(d.code for d in task.cooperating) != sorted(task_in.cooperating):
            task.cooperating = cooperating
            changed = True
        wanted = [(m.due, m.deliverable, m.status) for m in task_in.milestones]
        if [(m.due, m.deliverable, m.status) for m in task.milestones] != wanted:
            task.milestones = [Milestone(due=d, deliverable=text, status=s) for d, text, s in wanted]
            changed = True
        outcome = "created" if task.id is None else ("updated" if changed else "unchanged")
        report.count("tasks", outcome)
        result[task_in.code] = task
    _remove_stale(session, report, "tasks", existing.values())
    session.flush()
    return result


def _target_values(
    target: TargetIn,
    position: int,
    plan: Plan,
    indicators: dict[str, Indicator],
    sections: dict[str, Section],
    tasks: dict[str, Task],
    divisions: dict[str, Division],
) -> dict[str, Any]:
    low, high = target.range if target.range else (None, None)
    return {
        "plan_id": plan.id,
        "code": target.code,
        "indicator_id": indicators[target.indicator].id,
        "section_id": sections[target.section].id if target.section else None,
        "task_id": tasks[target.task].id if target.task else None,
        "scope_division_id": divisions[target.scope].id,
        "kind": target.kind,
        "comparator": target.comparator,
        "value": target.value,
        "range_low": low,
        "range_high": high,
        "unit": target.unit,
        "per": target.per,
        "per_unit_level": target.per_unit_level,
        "reference": target.reference,
        "reference_indicator_id": indicators[target.reference_indicator].id
        if target.reference_indicator
        else None,
        "baseline_value": target.baseline.value,
        "baseline_year": target.baseline.year if target.baseline.year is not None else plan.base_year,
        "deadline_year": target.deadline,
        "deadline_inferred": target.deadline_inferred,
        "source_sentence": target.source_sentence,
        "incomplete": target.incomplete,
        "incomplete_reason": target.incomplete_reason,
        "note": target.note,
        "position": position,
    }


def _load_targets(
    session: Session,
    plan: Plan,
    plan_file: PlanFile,
    indicators: dict[str, Indicator],
    sections: dict[str, Section],
    tasks: dict[str, Task],
    divisions: dict[str, Division],
    report: LoadReport,
) -> None:
    session.flush()
    existing = {t.code: t for t in session.scalars(select(Target).where(Target.plan_id == plan.id))}
    edited = _edited_fields(session, [t.id for t in existing.values()])
    for position, target_in in enumerate(plan_file.targets):
        values = _target_values(target_in, position, plan, indicators, sections, tasks, divisions)
        current = existing.pop(target_in.code, None)
        if current is not None:
            for field_name in edited.get(current.id, set()):
                if field_name in values and values[field_name] != getattr(current, field_name):
                    report.kept_edits.append(f"{target_in.code}.{field_name}")
                    values.pop(field_name)
        _upsert(session, report, "targets", current, Target, values)
    _remove_stale(session, report, "targets", existing.values())


def _rule_values(rule: ValidationRuleIn) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name_zh": rule.name,
        "name_en": rule.name_en,
        "left": rule.left,
        "operator": rule.operator,
        "right": rule.right,
        "importance": rule.importance,
        "missing": rule.missing,
        "levels": [level.value for level in rule.levels],
        "instruction": rule.instruction,
    }


def _load_validation_rules(session: Session, plan: Plan, plan_file: PlanFile, report: LoadReport) -> None:
    """Upsert the file's rules by code; the plan's rules the file no longer lists are removed.
    A code another plan owns was refused before anything was written."""
    existing = {
        r.code: r for r in session.scalars(select(ValidationRule).where(ValidationRule.plan_id == plan.id))
    }
    for rule in plan_file.validation_rules:
        _upsert(
            session,
            report,
            "validation_rules",
            existing.pop(rule.code, None),
            ValidationRule,
            {"plan_id": plan.id, **_rule_values(rule)},
        )
    _remove_stale(session, report, "validation_rules", existing.values())


def _edited_fields(session: Session, target_ids: list[int]) -> dict[int, set[str]]:
    if not target_ids:
        return {}
    rows = session.scalars(
        select(CatalogueChange).where(
            CatalogueChange.entity == "target", CatalogueChange.entity_id.in_(target_ids)
        )
    )
    edited: dict[int, set[str]] = {}
    for row in rows:
        fields = set(row.changes)
        if "value" in fields or "range_low" in fields:
            fields |= {"incomplete", "incomplete_reason"}
        edited.setdefault(row.entity_id, set()).update(fields)
    return edited
