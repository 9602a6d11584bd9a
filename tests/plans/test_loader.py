"""Loading a catalogue into the database: all or nothing, idempotent, keeps administrators' edits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.errors import CatalogueError, InvalidValueError
from planwatch.models import CatalogueChange, Department, Plan, Target, Task, ValidationRule
from planwatch.models.enums import Importance
from planwatch.plans.service import fill_target, find_target, load_plan_file
from tests.conftest import FIXTURES
from tests.plans.test_reader import RULE, mini, write

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
    from planwatch.audit.security_log import events

    [logged] = events(session, action="catalogue.edit", limit=1)
    assert logged.object_id == "T2"
    assert logged.detail["changes"]["value"] == ["None", "23"]
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


def test_a_plan_cannot_redefine_another_plans_indicator(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, MINI)
    data = mini()
    data["plan"]["code"] = "OTHER-PLAN"
    data["indicators"][0]["direction"] = "lower"
    data["targets"][0]["comparator"] = "<"
    with pytest.raises(CatalogueError) as info:
        load_plan_file(session, write(tmp_path, data))
    message = str(info.value)
    assert "indicators[0] (test_beds_share), field 'direction'" in message
    assert "TEST-PLAN" in message
    assert find_target(session, "T1", plan_code="TEST-PLAN").indicator.direction.value == "higher"


def test_a_plan_may_share_an_indicator_unchanged(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, MINI)
    data = mini()
    data["plan"]["code"] = "OTHER-PLAN"
    report = load_plan_file(session, write(tmp_path, data))
    assert report.counts["indicators"]["unchanged"] == 2


def test_a_plan_cannot_rename_a_department_another_plan_uses(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, MINI)
    data = mini()
    data["plan"]["code"] = "OTHER-PLAN"
    data["departments"][0]["name"] = "改名局"
    with pytest.raises(CatalogueError, match=r"departments\[0\] \(D1\), field 'name'"):
        load_plan_file(session, write(tmp_path, data))


def test_default_plan_with_several_loaded_is_the_master_plan(session: Session) -> None:
    from planwatch.evaluation.service import get_plan

    load_plan_file(session, MINI)
    assert get_plan(session).code == "CD-14FYP"
    assert get_plan(session, "TEST-PLAN").code == "TEST-PLAN"


def test_numeric_id_outside_the_named_plan_is_not_found(session: Session) -> None:
    from planwatch.errors import NotFoundError

    load_plan_file(session, MINI)
    chengdu_target = find_target(session, "CD14-T05", plan_code="CD-14FYP")
    with pytest.raises(NotFoundError):
        find_target(session, str(chengdu_target.id), plan_code="TEST-PLAN")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_fill_in_refuses_non_finite_numbers(session: Session, bad: float) -> None:
    load_plan_file(session, MINI)
    target = find_target(session, "T2", plan_code="TEST-PLAN")
    with pytest.raises(InvalidValueError, match="finite"):
        fill_target(session, target, value=bad, actor="x", channel="cli")
    assert target.incomplete


def test_a_plan_cannot_drop_another_plans_indicator_source(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, MINI)
    data = mini()
    data["plan"]["code"] = "OTHER-PLAN"
    del data["indicators"][0]["source_department"]
    with pytest.raises(
        CatalogueError, match=r"indicators\[0\] \(test_beds_share\), field 'source_department'"
    ):
        load_plan_file(session, write(tmp_path, data))


def test_a_plan_cannot_rename_a_cooperating_department(session: Session, tmp_path: Path) -> None:
    data = mini()
    data["departments"].append({"code": "D2", "name": "协作局"})
    data["tasks"][0]["cooperating"] = ["D2"]
    load_plan_file(session, write(tmp_path, data, "first.yaml"))
    other = mini()
    other["plan"]["code"] = "OTHER-PLAN"
    other["departments"] = [{"code": "D1", "name": "测试局"}, {"code": "D2", "name": "改名局"}]
    with pytest.raises(CatalogueError, match=r"departments\[1\] \(D2\), field 'name'"):
        load_plan_file(session, write(tmp_path, other, "second.yaml"))


def test_fill_in_refuses_a_deadline_before_the_baseline(session: Session) -> None:
    load_plan_file(session, MINI)
    target = find_target(session, "T2", plan_code="TEST-PLAN")
    target.baseline_year = 2022
    with pytest.raises(InvalidValueError, match="after the target's baseline year 2022"):
        fill_target(session, target, deadline=2021, actor="x", channel="cli")


def rule(session: Session, code: str) -> ValidationRule:
    found = session.scalar(select(ValidationRule).where(ValidationRule.code == code))
    assert found is not None
    return found


def with_rules(*rules: dict[str, Any], expiry_days: int | None = None) -> dict[str, Any]:
    data = mini()
    data["validation_rules"] = [dict(r) for r in rules]
    if expiry_days is not None:
        data["departments"][0]["expiry_days"] = expiry_days
    return data


def test_rules_and_expiry_days_load_and_reload_idempotently(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, with_rules(RULE, expiry_days=30))
    report = load_plan_file(session, path)
    assert report.counts["validation_rules"]["created"] == 1
    stored = rule(session, "R1")
    assert (stored.left, stored.operator, stored.right) == ("#{test_beds_share}", "<=", "100")
    assert stored.importance is Importance.high
    assert stored.missing == "skip_if_any_missing"
    assert stored.levels == ["district"]
    assert stored.instruction == "核对护理型床位数是否多于床位总数"
    department = session.scalar(select(Department).where(Department.code == "D1"))
    assert department is not None
    assert department.expiry_days == 30
    again = load_plan_file(session, path)
    assert not again.changed
    assert again.counts["validation_rules"]["unchanged"] == 1
    assert again.counts["departments"]["unchanged"] == 1


def test_a_changed_rule_is_updated(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, write(tmp_path, with_rules(RULE), "first.yaml"))
    report = load_plan_file(session, write(tmp_path, with_rules({**RULE, "operator": "<"}), "second.yaml"))
    assert report.counts["validation_rules"]["updated"] == 1
    assert rule(session, "R1").operator == "<"


def test_a_rule_the_file_no_longer_lists_is_removed(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, write(tmp_path, with_rules(RULE, {**RULE, "code": "R2"}), "first.yaml"))
    report = load_plan_file(session, write(tmp_path, with_rules(RULE), "second.yaml"))
    assert report.counts["validation_rules"]["removed"] == 1
    assert session.scalar(select(ValidationRule).where(ValidationRule.code == "R2")) is None
    assert rule(session, "R1").plan_id is not None


def test_a_rule_code_another_plan_owns_is_refused(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, write(tmp_path, with_rules(RULE), "first.yaml"))
    other = with_rules(RULE)
    other["plan"]["code"] = "OTHER-PLAN"
    with pytest.raises(
        CatalogueError, match=r"validation_rules\[0\] \(R1\), field 'code': .* belongs to plan TEST-PLAN"
    ):
        load_plan_file(session, write(tmp_path, other, "second.yaml"))


def test_a_rule_on_an_unknown_indicator_loads_nothing(session: Session, tmp_path: Path) -> None:
    data = with_rules({**RULE, "right": "#{test_shelters} + #{no_such_indicator}"})
    with pytest.raises(CatalogueError) as info:
        load_plan_file(session, write(tmp_path, data))
    [problem] = info.value.problems
    assert (problem.entry, problem.field) == ("validation_rules[0] (R1)", "right")
    assert "unknown indicator 'no_such_indicator'" in problem.message
    assert session.scalar(select(Plan).where(Plan.code == "TEST-PLAN")) is None
    assert session.scalar(select(ValidationRule).where(ValidationRule.code == "R1")) is None


def test_a_rule_may_reference_an_indicator_already_loaded(session: Session, tmp_path: Path) -> None:
    data = with_rules({**RULE, "left": "#{test_shelters}", "operator": "<=", "right": "#{crime_alerts}"})
    report = load_plan_file(session, write(tmp_path, data))
    assert report.counts["validation_rules"]["created"] == 1


def test_a_bad_expression_loads_nothing_and_names_the_position(session: Session, tmp_path: Path) -> None:
    data = with_rules({**RULE, "left": "#{test_beds_share} >= 3"})
    with pytest.raises(CatalogueError) as info:
        load_plan_file(session, write(tmp_path, data))
    assert "validation_rules[0] (R1), field 'left': at character 20:" in str(info.value)
    assert session.scalar(select(Plan).where(Plan.code == "TEST-PLAN")) is None


def test_a_plan_cannot_change_the_expiry_days_of_a_shared_department(
    session: Session, tmp_path: Path
) -> None:
    load_plan_file(session, MINI)
    other = mini()
    other["plan"]["code"] = "OTHER-PLAN"
    other["departments"][0]["expiry_days"] = 10
    with pytest.raises(CatalogueError, match=r"departments\[0\] \(D1\), field 'expiry_days'"):
        load_plan_file(session, write(tmp_path, other))


def test_the_chengdu_rules_are_loaded(session: Session) -> None:
    assert (rule(session, "CD14-R01").left, rule(session, "CD14-R01").right) == (
        "#{crime_alerts}",
        "#{criminal_cases}",
    )
    assert rule(session, "CD14-R02").operator == "compulsory_pair"
