"""Load divisions, boundaries and population; query the tree."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload

from planwatch.divisions.schemas import DivisionOut
from planwatch.divisions.tree import DivisionTree, Node
from planwatch.errors import CatalogueError, NotFoundError, Problem
from planwatch.models import Division, Population
from planwatch.models.enums import DivisionLevel, PopulationSource

DIVISION_COLUMNS = ("code", "name", "level", "parent_code")


@dataclass
class DivisionLoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    population_rows: int = 0
    boundaries: int = 0


def load_divisions(
    session: Session,
    divisions_csv: Path,
    *,
    boundaries: Path | None = None,
    population_csv: Path | None = None,
    progress: Progress | None = None,
) -> DivisionLoadReport:
    """Upsert divisions (by code), attach boundaries and population, in the caller's transaction.

    Re-running with the same files changes nothing.
    """
    rows = _read_division_rows(divisions_csv)
    geometries = _read_boundaries(boundaries, {r["code"] for r in rows}) if boundaries else {}
    report = DivisionLoadReport()
    existing = {d.code: d for d in session.scalars(select(Division).where(Division.valid_to.is_(None)))}
    task = progress.add_task("divisions", total=len(rows)) if progress else None
    by_level = sorted(rows, key=lambda r: DivisionLevel(r["level"]).depth)
    for level in DivisionLevel:
        level_rows = [r for r in by_level if r["level"] == level.value]
        for row in level_rows:
            parent = existing.get(row["parent_code"]) if row["parent_code"] else None
            values = {
                "code": row["code"],
                "name_zh": row["name"],
                "name_en": row.get("name_en") or None,
                "level": level,
                "parent_id": parent.id if parent else None,
                "geometry": geometries.get(
                    row["code"], existing[row["code"]].geometry if row["code"] in existing else None
                ),
            }
            current = existing.get(row["code"])
            if current is None:
                current = Division(**values)
                session.add(current)
                existing[row["code"]] = current
                report.created += 1
            else:
                changed = False
                for key, value in values.items():
                    if getattr(current, key) != value:
                        setattr(current, key, value)
                        changed = True
                report.updated += changed
                report.unchanged += not changed
        session.flush()
        if progress is not None and task is not None:
            progress.advance(task, len(level_rows))
    report.boundaries = len(geometries)
    if population_csv is not None:
        report.population_rows = _load_population(session, population_csv, existing)
    return report


def _read_division_rows(path: Path) -> list[dict[str, str]]:
    name = str(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in DIVISION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogueError([Problem(name, "header", ",".join(missing), "missing column(s)")])
        rows = list(reader)
    problems: list[Problem] = []
    codes: set[str] = set()
    for number, row in enumerate(rows, start=2):
        entry = f"row {number}"
        if row["code"] in codes:
            problems.append(Problem(name, entry, "code", f"duplicate code {row['code']}"))
        codes.add(row["code"])
        if row["level"] not in {level.value for level in DivisionLevel}:
            problems.append(
                Problem(
                    name,
                    entry,
                    "level",
                    f"unknown level {row['level']!r}; use one of city, district, street, community, compound",
                )
            )
    for number, row in enumerate(rows, start=2):
        if row["parent_code"] and row["parent_code"] not in codes:
            problems.append(
                Problem(name, f"row {number}", "parent_code", f"unknown parent {row['parent_code']}")
            )
    if problems:
        raise CatalogueError(problems)
    return rows


def _read_boundaries(path: Path, codes: set[str]) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for index, feature in enumerate(data.get("features", [])):
        code = str(feature.get("properties", {}).get("code", ""))
        if code not in codes:
            problems.append(
                Problem(str(path), f"features[{index}]", "properties.code", f"no division has code {code!r}")
            )
            continue
        out[code] = json.dumps(feature["geometry"], separators=(",", ":"))
    if problems:
        raise CatalogueError(problems)
    return out


def _load_population(session: Session, path: Path, divisions: dict[str, Division]) -> int:
    name = str(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    existing = {(p.division_id, p.year, p.age_band): p for p in session.scalars(select(Population))}
    problems: list[Problem] = []
    count = 0
    for number, row in enumerate(rows, start=2):
        division = divisions.get(row["division_code"])
        if division is None:
            problems.append(
                Problem(name, f"row {number}", "division_code", f"unknown division {row['division_code']}")
            )
            continue
        try:
            value = int(row["population"])
            source = PopulationSource(row["source"])
        except ValueError as exc:
            problems.append(Problem(name, f"row {number}", "population/source", str(exc)))
            continue
        key = (division.id, int(row["year"]), row["age_band"])
        values = {"population": value, "source": source, "note": row.get("note") or None}
        current = existing.get(key)
        if current is None:
            session.add(Population(division_id=division.id, year=key[1], age_band=key[2], **values))
        else:
            for attr, attr_value in values.items():
                if getattr(current, attr) != attr_value:
                    setattr(current, attr, attr_value)
        count += 1
    if problems:
        raise CatalogueError(problems)
    session.flush()
    return count


_TREES: dict[tuple[object, ...], DivisionTree] = {}


def division_tree(session: Session) -> DivisionTree:
    """The current tree (units with no end of validity).

    Every signed-in request needs it (scopes cover descendants), so it is built once per database
    and state: a cheap fingerprint query (count, highest id, number current, latest end date)
    decides whether the cached tree still holds.
    """
    fingerprint = session.execute(
        select(
            func.count(Division.id),
            func.max(Division.id),
            func.count(Division.valid_to),
            func.max(Division.valid_to),
            func.sum(func.coalesce(Division.parent_id, 0)),
        )
    ).one()
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = (engine.url.render_as_string(hide_password=True), *fingerprint)
    tree = _TREES.get(key)
    if tree is None:
        rows = session.execute(
            select(
                Division.id,
                Division.code,
                Division.name_zh,
                Division.name_en,
                Division.level,
                Division.parent_id,
            ).where(Division.valid_to.is_(None))
        )
        tree = DivisionTree(Node(*row) for row in rows)
        if len(_TREES) > 16:
            _TREES.clear()
        _TREES[key] = tree
    return tree


def get_division(session: Session, code: str) -> Division:
    division = session.scalar(select(Division).where(Division.code == code, Division.valid_to.is_(None)))
    if division is None:
        msg = f"no division with code {code!r}; list them with GET /api/divisions"
        raise NotFoundError(msg)
    return division


def population_by_division(
    session: Session, year: int, *, age_band: str = "total"
) -> dict[int, tuple[int, PopulationSource]]:
    """Population of every division in ``year`` (or the nearest earlier year that has it)."""
    rows = session.execute(
        select(Population.division_id, Population.year, Population.population, Population.source)
        .where(Population.age_band == age_band, Population.year <= year)
        .order_by(Population.year)
    )
    return {division_id: (population, source) for division_id, _, population, source in rows}


def list_divisions(
    session: Session,
    *,
    level: DivisionLevel | None = None,
    parent: str | None = None,
    q: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[DivisionOut]:
    """Current divisions ordered by code, filtered by level, parent code and name."""
    query = select(Division).where(Division.valid_to.is_(None)).options(selectinload(Division.parent))
    if level is not None:
        query = query.where(Division.level == level)
    if parent is not None:
        parent_row = get_division(session, parent)
        query = query.where(Division.parent_id == parent_row.id)
    if q:
        query = query.where(Division.name_zh.contains(q))
    rows = session.scalars(query.order_by(Division.code).limit(limit).offset(offset))
    return [DivisionOut.from_row(row) for row in rows]
