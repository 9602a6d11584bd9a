"""The request-type catalogue (派单目录): request types, their deadlines and handling departments,
and the routing rules, loaded from a ``planwatch.service-types/v1`` YAML file.

Loading is all-or-nothing and idempotent: every problem of the file is reported at once (file,
entry, field) and nothing is written; loading the same file again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import CatalogueError, Problem
from planwatch.models import Department, Division, RoutingRule, ServiceType
from planwatch.models.enums import DivisionLevel

FORMAT = "planwatch.service-types/v1"
DISTRICT_GOVERNMENT = "district_government"
"""A routing target meaning the government of the request's district (属地兜底)."""
STREET_OFFICE = "street_office"
"""A routing target meaning the office of the request's street or town (街道办事处 / 乡镇政府)."""
LOCAL_TARGETS = (DISTRICT_GOVERNMENT, STREET_OFFICE)
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttributeValue(_Strict):
    key: str
    name: str


class Attribute(_Strict):
    """An Open311 service-definition attribute."""

    code: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool = False
    variable: bool = True
    datatype_description: str | None = None
    description: str
    order: int = Field(ge=1)
    values: list[AttributeValue] = []

    @field_validator("values")
    @classmethod
    def _list_has_values(cls, values: list[AttributeValue], info: Any) -> list[AttributeValue]:
        if info.data.get("datatype") in ("singlevaluelist", "multivaluelist") and not values:
            msg = "a list attribute needs its values (key and name of each option)"
            raise ValueError(msg)
        return values


class Duplicate(_Strict):
    radius_m: float = Field(gt=0, le=10_000)
    window_days: int = Field(ge=1, le=365)


class TypeEntry(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    name: str
    name_en: str | None = None
    group: str
    description: str | None = None
    department: str
    deadline_hours: int = Field(ge=1, le=24 * 365)
    response_hours: int = Field(ge=1, le=24 * 30)
    duplicate: Duplicate
    keywords: list[str] = []
    attributes: list[Attribute] = []
    anonymous_allowed: bool = True
    active: bool = True


class DepartmentEntry(_Strict):
    code: str
    name: str
    name_en: str | None = None


class RuleEntry(_Strict):
    type: str = "*"
    division: str | None = None
    department: str


class ServiceTypesFile(_Strict):
    format: Literal["planwatch.service-types/v1"]
    departments: list[DepartmentEntry] = []
    types: list[TypeEntry]
    routing: list[RuleEntry] = []


@dataclass
class LoadReport:
    departments_created: int = 0
    types_created: int = 0
    types_updated: int = 0
    rules: int = 0
    unchanged: bool = True
    problems: list[str] = field(default_factory=list)


def government_code(division_code: str) -> str:
    """The department code of a district's government or a street's office (``GOV-510104``,
    ``GOV-510104018``)."""
    return f"GOV-{division_code}"


def office_name(street: Division) -> tuple[str, str]:
    """A street's or town's handling unit: 街道办事处 for a street, 人民政府 for a town or township."""
    english = street.name_en or street.code
    if street.name_zh.endswith("街道"):
        return f"{street.name_zh}办事处", f"{english} Subdistrict Office"
    return f"{street.name_zh}人民政府", f"{english} Government"


def read_service_types(path: Path) -> ServiceTypesFile:
    """Parse and check a service-types file; raises CatalogueError naming every problem."""
    name = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError([Problem(name, "", "", f"cannot be read as UTF-8 YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise CatalogueError([Problem(name, "", "", f"expected a mapping with format {FORMAT!r}")])
    try:
        parsed = ServiceTypesFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            where = ".".join(loc[:2]) if len(loc) > 1 else ""
            problems.append(Problem(name, where, ".".join(loc[2:]) or loc[-1], err["msg"]))
        raise CatalogueError(problems) from exc
    problems = []
    codes = [t.code for t in parsed.types]
    for index, code in enumerate(codes):
        if codes.index(code) != index:
            problems.append(Problem(name, f"types[{index}]", "code", f"{code!r} is given twice"))
    for index, type_entry in enumerate(parsed.types):
        orders = [a.order for a in type_entry.attributes]
        if len(set(orders)) != len(orders):
            problems.append(
                Problem(name, f"types[{index}] ({type_entry.code})", "attributes", "orders must be unique")
            )
    for index, rule in enumerate(parsed.routing):
        if rule.type != "*" and rule.type not in codes:
            problems.append(Problem(name, f"routing[{index}]", "type", f"unknown type {rule.type!r}"))
    if problems:
        raise CatalogueError(problems)
    return parsed


def load_service_types(session: Session, path: Path) -> LoadReport:
    """Create or update the request types, departments and routing rules of ``path``.

    Parameters
    ----------
    session : an open transaction; nothing is flushed when the file has a problem
    path : a ``planwatch.service-types/v1`` YAML file

    Returns
    -------
    LoadReport
        Counts; ``unchanged`` is true when the database already held exactly this file.
    """
    parsed = read_service_types(path)
    name = path.name
    report = LoadReport()
    departments = {d.code: d for d in session.scalars(select(Department))}
    current_divisions = select(Division).where(Division.valid_to.is_(None))
    districts = {
        d.code: d for d in session.scalars(current_divisions.where(Division.level == DivisionLevel.district))
    }
    streets = {
        d.code: d for d in session.scalars(current_divisions.where(Division.level == DivisionLevel.street))
    }
    divisions = dict(session.execute(select(Division.code, Division.id)).all())
    problems: list[Problem] = []
    known = set(departments) | {d.code for d in parsed.departments}
    for index, entry in enumerate(parsed.types):
        if entry.department not in known:
            problems.append(
                Problem(name, f"types[{index}] ({entry.code})", "department",
                        f"unknown department {entry.department!r}; add it under departments")
            )  # fmt: skip
    for index, rule in enumerate(parsed.routing):
        if rule.department not in LOCAL_TARGETS and rule.department not in known:
            problems.append(
                Problem(name, f"routing[{index}]", "department", f"unknown department {rule.department!r}")
            )
        if rule.division is not None and rule.division not in divisions:
            problems.append(
                Problem(name, f"routing[{index}]", "division", f"unknown division {rule.division!r}")
            )
    if problems:
        raise CatalogueError(problems)

    wanted = [(d.code, d.name, d.name_en) for d in parsed.departments]
    if any(r.department == DISTRICT_GOVERNMENT for r in parsed.routing):
        wanted += [(government_code(c), f"{d.name_zh}人民政府", f"{d.name_en or c} Government")
                   for c, d in sorted(districts.items())]  # fmt: skip
    if any(r.department == STREET_OFFICE for r in parsed.routing):
        wanted += [(government_code(c), *office_name(d)) for c, d in sorted(streets.items())]
    # departments are created when missing; one that exists (the plan catalogue's) keeps its names
    for code, name_zh, name_en in wanted:
        department = departments.get(code)
        if department is None:
            department = Department(code=code, name_zh=name_zh, name_en=name_en)
            session.add(department)
            departments[code] = department
            report.departments_created += 1
            report.unchanged = False
    session.flush()

    types = {t.code: t for t in session.scalars(select(ServiceType))}
    for entry in parsed.types:
        values: dict[str, Any] = {
            "name_zh": entry.name,
            "name_en": entry.name_en,
            "group": entry.group,
            "description": entry.description,
            "keywords": list(entry.keywords),
            "department_id": departments[entry.department].id,
            "deadline_hours": entry.deadline_hours,
            "response_hours": entry.response_hours,
            "duplicate_radius_m": entry.duplicate.radius_m,
            "duplicate_window_days": entry.duplicate.window_days,
            "attributes": [
                a.model_dump(mode="json") for a in sorted(entry.attributes, key=lambda a: a.order)
            ],
            "anonymous_allowed": entry.anonymous_allowed,
            "active": entry.active,
        }
        existing = types.get(entry.code)
        if existing is None:
            existing = ServiceType(code=entry.code, **values)
            session.add(existing)
            types[entry.code] = existing
            report.types_created += 1
            report.unchanged = False
        else:
            changed = {k: v for k, v in values.items() if getattr(existing, k) != v}
            for key, value in changed.items():
                setattr(existing, key, value)
            if changed:
                report.types_updated += 1
                report.unchanged = False
    session.flush()

    wanted_rules: set[tuple[int | None, int | None, int | None, bool, bool]] = set()
    for rule in parsed.routing:
        type_id = None if rule.type == "*" else types[rule.type].id
        division_id = divisions[rule.division] if rule.division else None
        if rule.department in LOCAL_TARGETS:
            local = rule.department == DISTRICT_GOVERNMENT, rule.department == STREET_OFFICE
            wanted_rules.add((type_id, division_id, None, *local))
        else:
            wanted_rules.add((type_id, division_id, departments[rule.department].id, False, False))
    current = {
        (r.service_type_id, r.division_id, r.department_id, r.district_government, r.street_office): r
        for r in session.scalars(select(RoutingRule))
    }
    for rule_key, rule_row in current.items():
        if rule_key not in wanted_rules:
            session.delete(rule_row)
            report.unchanged = False
    session.flush()
    for rule_key in wanted_rules - set(current):
        type_id, division_id, department_id, government, office = rule_key
        session.add(
            RoutingRule(
                service_type_id=type_id,
                division_id=division_id,
                department_id=department_id,
                district_government=government,
                street_office=office,
            )
        )
        report.unchanged = False
    report.rules = len(wanted_rules)
    session.flush()
    return report
