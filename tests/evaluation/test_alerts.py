"""Early warnings of a plan on a real database: levels, the units that warn, who answers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.evaluation.alerts import plan_warnings
from planwatch.evaluation.early_warning import WarningLevel
from planwatch.evaluation.progress import Status
from planwatch.models import Division, Plan
from planwatch.models.enums import DivisionLevel
from planwatch.plans.service import find_target
from tests.evaluation.test_kinds import JINJIANG, division, plan, record

__all__ = ["plan"]  # the fixture, shared with test_kinds

QINGYANG = "510105"


def test_binding_target_far_behind_is_red_and_names_the_district_behind(session: Session, plan: Plan) -> None:
    cut = find_target(session, "K-CUT", plan_code="KINDS")
    record(session, cut, {2020: 1.0, 2021: 0.95, 2022: 0.9, 2023: 0.86}, code=JINJIANG)  # already 14 % lower
    record(session, cut, {2020: 1.0, 2021: 0.995, 2022: 0.99, 2023: 0.99}, code=QINGYANG)  # 1 % lower
    found = {w.target.code: w for w in plan_warnings(session, plan, 2023)}
    warning = found["K-CUT"]
    assert warning.evaluation.status is Status.seriously_lagging  # the city is the max: 0.99
    assert warning.level is WarningLevel.red
    assert "binding_serious" in [r.code for r in warning.rules]
    assert warning.unit_level is DivisionLevel.district
    assert [(u.code, u.level, u.status) for u in warning.units] == [
        (QINGYANG, WarningLevel.red, Status.seriously_lagging)
    ]
    assert warning.department is None  # the fixture names no department


def test_coverage_lists_every_unit_that_does_not_meet_it(session: Session, plan: Plan) -> None:
    cov = find_target(session, "K-COV", plan_code="KINDS")
    streets = session.scalars(
        select(Division)
        .where(Division.parent_id == division(session, JINJIANG).id, Division.level == DivisionLevel.street)
        .order_by(Division.code)
    ).all()
    for street in streets[:3]:
        record(session, cov, {2020: 0, 2023: 1}, code=street.code)
    record(session, cov, {2020: 0, 2023: 0}, code=streets[3].code)
    warning = {w.target.code: w for w in plan_warnings(session, plan, 2023)}["K-COV"]
    assert warning.unit_level is DivisionLevel.street
    missing = [u.code for u in warning.units]
    assert missing == [s.code for s in streets[3:]]  # 0, or no value at all, does not meet it
    assert warning.units[0].value == 0
    assert all(u.value is None for u in warning.units[1:])
    assert all(u.status is Status.lagging and u.level is WarningLevel.yellow for u in warning.units)


def test_totals_are_not_judged_district_by_district(session: Session, plan: Plan) -> None:
    inc = find_target(session, "K-INC", plan_code="KINDS")
    record(session, inc, {2020: 100, 2023: 120}, code=JINJIANG)  # 20 of 100 by 2023: seriously lagging
    warning = {w.target.code: w for w in plan_warnings(session, plan, 2023)}["K-INC"]
    assert warning.level is WarningLevel.yellow
    assert warning.units == []  # the city's 100 says nothing of what Jinjiang owes


def test_no_data_no_warning(session: Session, plan: Plan) -> None:
    assert plan_warnings(session, plan, 2023) == []


def test_chengdu_warnings_name_the_responsible_department(session: Session) -> None:
    from planwatch.evaluation.service import get_plan

    warnings = plan_warnings(session, get_plan(session), 2024)
    assert warnings, "the simulated demo has lagging targets"
    assert all(w.department is not None for w in warnings)
    levels = [w.top_level.rank for w in warnings]
    assert levels == sorted(levels, reverse=True)  # red first
