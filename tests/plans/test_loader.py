"""Loading a catalogue into the database: all or nothing, idempotent, keeps administrators' edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.errors import CatalogueError, InvalidValueError
from planwatch.models import CatalogueChange, Plan, Target, Task
from planwatch.plans.service import fill_target, find_target, load_plan_file
from tests.conftest import FIXTURES
from tests.plans.test_reader import mini, write

MINI = FIXTURES / "mini_plan.yaml"


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_load_creates_everything(session: Session) -> None:
    report = load_plan_file(session, MINI)
    assert report.counts["targets"]["created"] == 2
    plan = session.scalar(select(Plan).where(Plan.code == "TEST-PLAN"))
    assert plan is not None
    task = session.scalar(select(Task).where(Task.code == "A1", Task.plan_id == plan.id))
    assert task is not None
    assert task.lead_department is not None
    assert task.lead_inferred
    assert [m.deliverable for m in task.milestones] == ["中期"]


def test_reloading_the_same_file_changes_nothing(session: Session) -> None:
    load_plan_file(session, MINI)
    before = count(session, Target)
    report = load_plan_file(session, MINI)
    assert not report.changed
    assert count(session, Target) == before


def test_a_changed_file_updates_and_removes(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, MINI)
    data = mini()
    data["targets"][0]["value"] = 65
    del data["targets"][1]
    report = load_plan_file(session, write(tmp_path, data))
    assert report.counts["targets"]["updated"] == 1
    assert report.counts["targets"]["removed"] == 1
    assert find_target(session, "T1", plan_code="TEST-PLAN").value == 65


def test_unknown_indicator_loads_nothing(session: Session, tmp_path: Path) -> None:
    before = count(session, Plan)
    data = mini()
    data["targets"][0]["indicator"] = "no_such_indicator"
    path = write(tmp_path, data)
    with pytest.raises(CatalogueError) as info:
        load_plan_file(session, path)
    assert "targets[0] (T1), field 'indicator': unknown indicator 'no_such_indicator'" in str(info.value)
    assert count(session, Plan) == before


def test_unknown_scope_division_loads_nothing(session: Session, tmp_path: Path) -> None:
    data = mini()
    data["targets"][1]["scope"] = "999999"
    with pytest.raises(CatalogueError, match=r"targets\[1\] \(T2\), field 'scope'"):
        load_plan_file(session, write(tmp_path, data))
    assert session.scalar(select(Plan).where(Plan.code == "TEST-PLAN")) is None


def test_fill_in_a_lost_number_is_recorded_and_survives_a_reload(session: Session) -> None:
    load_plan_file(session, MINI)
    target = find_target(session, "T2", plan_code="TEST-PLAN")
    changes = fill_target(session, target, value=23, actor="planner Li", channel="cli", note="纲要表3")
    assert changes["value"] == [None, 23]
    assert not target.incomplete
    change = session.scalar(select(CatalogueChange).where(CatalogueChange.entity_id == target.id))
    assert change is not None
    assert change.actor == "planner Li"
    report = load_plan_file(session, MINI)
    assert "T2.value" in report.kept_edits
    assert find_target(session, "T2", plan_code="TEST-PLAN").value == 23


def test_fill_in_refuses_a_deadline_outside_the_period(session: Session) -> None:
    load_plan_file(session, MINI)
    target = find_target(session, "T2", plan_code="TEST-PLAN")
    with pytest.raises(InvalidValueError, match="outside the plan period"):
        fill_target(session, target, deadline=2031, actor="x", channel="cli")


def test_fill_in_with_nothing_to_change_is_refused(session: Session) -> None:
    load_plan_file(session, MINI)
    target = find_target(session, "T2", plan_code="TEST-PLAN")
    with pytest.raises(InvalidValueError, match="nothing to change"):
        fill_target(session, target, actor="x", channel="cli")
