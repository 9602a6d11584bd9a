"""Small factories for data-collection tests: a database with the catalogue but no simulated
values, principals, files (CSV and XLSX bytes) and fixed clocks."""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import Workbook
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from planwatch.accounts.principal import Principal, expand
from planwatch.datasets import chengdu_path
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import division_tree, load_divisions
from planwatch.models import Department
from planwatch.models.enums import Role
from planwatch.plans.service import load_plan_file
from tests.conftest import database_url

CHINA = timezone(timedelta(hours=8))
OPEN_2025 = datetime(2026, 2, 1, 10, 0, tzinfo=CHINA)
"""A moment when 2025 values may be entered (2025 closes at 2026-04-01 00:00 Beijing time)."""
EXPIRY_2025 = datetime(2026, 4, 1, 0, 0, tzinfo=CHINA)
"""End of 2025 entry with the default 90 expiry days: 2025-12-31 + 90 days, end of that day."""

HEADER = ("指标代码", "区划代码", "期间", "数值", "分子", "分母", "单位")
CITY = "510100"
JINJIANG = "510104"
QINGYANG = "510105"
STREET = "510104017"
"""A street (街道) of 锦江区."""


def build_collection_database(url: str) -> None:
    """Schema, divisions and the Chengdu plan; no simulated values (so every write is ours)."""
    engine = make_engine(url)
    try:
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            load_divisions(
                session,
                chengdu_path("divisions.csv"),
                boundaries=chengdu_path("districts.geojson"),
                population_csv=chengdu_path("population.csv"),
            )
            load_plan_file(session, chengdu_path("plan.yaml"))
    finally:
        engine.dispose()


_TEMPLATES: dict[str, str] = {}
"""Per backend, a collection database built once per test process, copied for each user."""


def collection_database(backend: str, tmp_path_factory: pytest.TempPathFactory, suffix: str) -> str:
    """A new database holding what ``build_collection_database`` writes, as a copy of a template
    built once per process (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL)."""
    template = _TEMPLATES.get(backend)
    if template is None:
        template = _TEMPLATES[backend] = database_url(backend, tmp_path_factory, "collection_template")
        build_collection_database(template)
    if backend == "sqlite":
        path = tmp_path_factory.mktemp(suffix) / "planwatch.db"
        shutil.copyfile(make_url(template).database or "", path)
        return f"sqlite:///{path}"
    target = make_url(template).set(
        database=f"planwatch_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{suffix}".lower()
    )
    admin = create_engine(make_url(template).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            connection.execute(
                text(f'CREATE DATABASE "{target.database}" TEMPLATE "{make_url(template).database}"')
            )
    finally:
        admin.dispose()
    return target.render_as_string(hide_password=False)


def principal(
    session: Session,
    *,
    role: Role = Role.planner,
    capture: Sequence[str] = (CITY,),
    departments: Sequence[str] = (),
    username: str = "tester",
) -> Principal:
    """A signed-in principal with the given role, capture scope (codes) and departments."""
    tree = division_tree(session)
    ids = expand(tree, [tree.by_code[c].id for c in capture])
    department_ids = frozenset(
        d.id for d in session.query(Department).filter(Department.code.in_(departments))
    )
    return Principal(
        1,
        username,
        frozenset({role}),
        capture=ids,
        view=ids,
        departments=department_ids,
        via="session",
        request_id="test",
    )


def csv_bytes(rows: Iterable[Sequence[object]], *, header: Sequence[str] = HEADER, bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def xlsx_bytes(
    rows: Iterable[Sequence[object]], *, header: Sequence[str] = HEADER, merge: str | None = None
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "数据"
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    if merge:
        sheet.merge_cells(merge)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def district_rows(indicator: str = "inclusive_elderly_beds", start: int = 100) -> list[tuple[object, ...]]:
    """One 2025 value per district of a district-level count indicator."""
    districts = [
        "510104", "510105", "510106", "510107", "510108", "510112", "510113", "510114", "510115",
        "510116", "510117", "510118", "510121", "510129", "510131", "510181", "510182", "510183",
        "510184", "510185",
    ]  # fmt: skip
    return [(indicator, code, "2025", start + i, "", "", "张") for i, code in enumerate(districts)]


@dataclass
class Clock:
    """A clock a test can move: pass it as ``clock=`` and set ``now``."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now
