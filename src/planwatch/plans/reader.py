"""Read a catalogue file into a validated ``PlanFile`` or a list of located problems."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planwatch.errors import CatalogueError, Problem
from planwatch.models.enums import Comparator, Direction, TargetKind
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
    except OSError as exc:
        problem = Problem(
            name, "", "", f"not a readable file ({exc.strerror}); give the path of a YAML or JSON file"
        )
        raise CatalogueError([problem]) from None
    except UnicodeDecodeError as exc:
        problem = Problem(name, "", "", f"not UTF-8 text ({exc.reason}); save the file as UTF-8")
        raise CatalogueError([problem]) from None
    raw = _parse(name, text, json_only=path.suffix.lower() == ".json")
    return validate_plan_data(raw, name=name)


def _parse(name: str, text: str, *, json_only: bool) -> Any:
    try:
        if json_only:
            return json.loads(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise CatalogueError([Problem(name, where, "", f"not valid JSON: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise CatalogueError([Problem(name, where, "", f"not valid YAML: {reason}")]) from None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading 1e5 and 1.2e4 as numbers (YAML 1.1 wants 1.0e+5)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


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
    # The entry is the deepest list element that is a mapping (targets[3], sections[0].children[1]);
    # what follows is the field. Indices inside a field (range[1], period[0]) name the field itself.
    entry_end = 1 if len(loc) > 1 and isinstance(_follow(raw, loc[:1]), dict) else 0
    for index, part in enumerate(loc):
        if isinstance(part, int) and isinstance(_follow(raw, loc[: index + 1]), dict):
            entry_end = index + 1
    entry = _entry_label(raw, loc[:entry_end])
    field = ".".join(str(part) for part in loc[entry_end:] if not isinstance(part, int))
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown field; check the spelling against docs/catalogue-format.md"
    elif err["type"] == "missing" and isinstance(loc[-1], int):
        message = "needs two numbers, e.g. [2021, 2025] or [low, high]"
    elif err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] == "literal_error" and field == "format":
        message = "must be 'planwatch.plan/v1'"
    elif err["type"] != "value_error" and _is_scalar(err.get("input")):
        message = f"{message} (got {err['input']!r})"
    return Problem(name, entry or "(top level)", field, message)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


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
    duplicates("validation_rules", [r.code for r in plan_file.validation_rules])

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
    indicator_directions = {i.code: i.direction for i in plan_file.indicators}
    for index, target in enumerate(plan_file.targets):
        direction = indicator_directions.get(target.indicator)
        problem = direction_conflict(target.comparator, direction, target.kind) if direction else None
        if problem:
            problems.append(Problem(name, f"targets[{index}] ({target.code})", "comparator", problem))
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


RATE_KINDS = frozenset({TargetKind.average_annual_rate, TargetKind.rate_of_change})
"""Targets whose number is a rate counted in the indicator's good direction."""


def direction_conflict(comparator: Comparator, direction: Direction, kind: TargetKind) -> str | None:
    """A target that asks for "at least" on a lower-is-better indicator (or the reverse) is a typo
    in one of the two; evaluating it would call it achieved from day one. Rate targets are exempt:
    their number is a rate in the good direction (降低 ≥ 13.5 % on a lower-is-better indicator)."""
    if kind in RATE_KINDS:
        return None
    wants_higher = comparator in {Comparator.ge, Comparator.gt, Comparator.increase}
    wants_lower = comparator in {Comparator.le, Comparator.lt, Comparator.decrease}
    if wants_higher and direction is Direction.lower_better:
        return f"'{comparator.value}' contradicts the indicator's direction 'lower' (lower is better); fix one of them"
    if wants_lower and direction is Direction.higher_better:
        return f"'{comparator.value}' contradicts the indicator's direction 'higher' (higher is better); fix one of them"
    return None


def _unknown(name: str, entry: str, field: str, code: str, where: str) -> Problem:
    return Problem(name, entry, field, f"unknown code '{code}'; define it under {where}:")
