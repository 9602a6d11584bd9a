"""Read a catalogue file into a validated ``PlanFile`` or a list of located problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planwatch.errors import CatalogueError, Problem
from planwatch.plans.schemas import PlanFile, walk_sections


def read_plan_file(path: Path) -> PlanFile:
    """Parse and validate a catalogue file (YAML or JSON); raise ``CatalogueError`` if it is bad.

    The checks here need no database: syntax, types, unknown fields, duplicate codes, references
    inside the file and years against the plan period.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogueError([Problem(name, "", "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        problem = Problem(name, "", "", f"not UTF-8 text ({exc.reason}); save the file as UTF-8")
        raise CatalogueError([problem]) from None
    raw = _parse(name, text, json_only=path.suffix.lower() == ".json")
    return validate_plan_data(raw, name=name)


def _parse(name: str, text: str, *, json_only: bool) -> Any:
    try:
        if json_only:
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise CatalogueError([Problem(name, where, "", f"not valid JSON: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise CatalogueError([Problem(name, where, "", f"not valid YAML: {reason}")]) from None


def validate_plan_data(raw: Any, *, name: str) -> PlanFile:
    if not isinstance(raw, dict):
        problem = Problem(name, "", "", "the file must hold a mapping with format, plan, targets …")
        raise CatalogueError([problem])
    try:
        plan_file = PlanFile.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem_from_error(name, raw, err) for err in exc.errors()]
        raise CatalogueError(problems) from None
    problems = _cross_check(name, plan_file)
    if problems:
        raise CatalogueError(problems)
    return plan_file


def _problem_from_error(name: str, raw: dict[str, Any], err: Any) -> Problem:
    loc: tuple[Any, ...] = tuple(err["loc"])
    last_index = max((i for i, part in enumerate(loc) if isinstance(part, int)), default=-1)
    entry_path, field_path = loc[: last_index + 1], loc[last_index + 1 :]
    # A range or period error points inside a tuple; name the tuple, not its element.
    if entry_path and field_path == () and len(entry_path) >= 2 and isinstance(loc[-1], int):
        parent = _follow(raw, entry_path[:-2])
        if isinstance(parent, dict) and not isinstance(entry_path[-2], int):
            entry_path, field_path = entry_path[:-2], (entry_path[-2],)
    entry = _entry_label(raw, entry_path)
    field = ".".join(str(part) for part in field_path)
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown field; check the spelling against docs/catalogue-format.md"
    elif err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] == "literal_error" and field == "format":
        message = "must be 'planwatch.plan/v1'"
    elif "input" in err and err["type"] not in {"missing"}:
        message = f"{message} (got {err['input']!r})"
    return Problem(name, entry, field, message)


def _follow(raw: Any, path: tuple[Any, ...]) -> Any:
    node = raw
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _entry_label(raw: Any, path: tuple[Any, ...]) -> str:
    if not path:
        return ""
    label = ""
    for part in path:
        label += f"[{part}]" if isinstance(part, int) else (f".{part}" if label else str(part))
    node = _follow(raw, path)
    if isinstance(node, dict) and "code" in node:
        label += f" ({node['code']})"
    return label


def _cross_check(name: str, plan_file: PlanFile) -> list[Problem]:
    problems: list[Problem] = []

    def duplicates(kind: str, codes: list[str]) -> None:
        seen: set[str] = set()
        for index, code in enumerate(codes):
            if code in seen:
                problems.append(
                    Problem(name, f"{kind}[{index}] ({code})", "code", "duplicate code; codes must be unique")
                )
            seen.add(code)

    sections = [s for s, _, _ in walk_sections(plan_file.sections)]
    duplicates("departments", [d.code for d in plan_file.departments])
    duplicates("sections", [s.code for s in sections])
    duplicates("indicators", [i.code for i in plan_file.indicators])
    duplicates("tasks", [t.code for t in plan_file.tasks])
    duplicates("targets", [t.code for t in plan_file.targets])

    departments = {d.code for d in plan_file.departments}
    section_codes = {s.code for s in sections}
    task_codes = {t.code for t in plan_file.tasks}

    for index, indicator in enumerate(plan_file.indicators):
        entry = f"indicators[{index}] ({indicator.code})"
        if indicator.source_department and indicator.source_department not in departments:
            problems.append(
                _unknown(name, entry, "source_department", indicator.source_department, "departments")
            )
    for index, task in enumerate(plan_file.tasks):
        entry = f"tasks[{index}] ({task.code})"
        if task.section and task.section not in section_codes:
            problems.append(_unknown(name, entry, "section", task.section, "sections"))
        if task.lead and task.lead not in departments:
            problems.append(_unknown(name, entry, "lead", task.lead, "departments"))
        problems.extend(
            _unknown(name, entry, "cooperating", code, "departments")
            for code in task.cooperating
            if code not in departments
        )
    start, end = plan_file.plan.period
    base_year = plan_file.plan.effective_base_year
    vision = plan_file.plan.vision_year
    for index, target in enumerate(plan_file.targets):
        entry = f"targets[{index}] ({target.code})"
        if target.section and target.section not in section_codes:
            problems.append(_unknown(name, entry, "section", target.section, "sections"))
        if target.task and target.task not in task_codes:
            problems.append(_unknown(name, entry, "task", target.task, "tasks"))
        if not (start <= target.deadline <= end or target.deadline == vision):
            allowed = f"{start}–{end}" + (f" or the vision year {vision}" if vision else "")
            problems.append(
                Problem(
                    name,
                    entry,
                    "deadline",
                    f"{target.deadline} is outside the plan period {allowed}; fix the year or the plan's period",
                )
            )
        baseline_year = target.baseline.year if target.baseline.year is not None else base_year
        if baseline_year >= target.deadline:
            problems.append(
                Problem(
                    name,
                    entry,
                    "baseline.year",
                    f"the baseline year {baseline_year} must lie before the deadline {target.deadline}",
                )
            )
    return problems


def _unknown(name: str, entry: str, field: str, code: str, where: str) -> Problem:
    return Problem(name, entry, field, f"unknown code '{code}'; define it under {where}:")
