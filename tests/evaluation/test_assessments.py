"""Qualitative assessments: recorded with evidence, assessor and date; the history is kept and the
latest counts; other kinds of target and empty evidence are refused; the table is append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy.exc
import yaml
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from planwatch.audit.security_log import Actor
from planwatch.errors import CatalogueError, InvalidValueError
from planwatch.evaluation.assessments import (
    assessment_history,
    latest_assessments,
    local_today,
    record_assessment,
)
from planwatch.evaluation.rounds import publish_round
from planwatch.evaluation.service import get_plan
from planwatch.models import QualitativeAssessment, SecurityEvent, Target
from planwatch.plans.service import find_target, load_plan_file
from tests.conftest import FIXTURES

PLANNER = Actor(name="planner_test", roles="planner")
QUALITATIVE = "CD14-T27"
"""积极争创全国社会治安防控体系示范城市 (a qualitative target of the Chengdu plan)."""
LEVEL = "CD14-T05"


@pytest.fixture
def target(session: Session) -> Target:
    found = find_target(session, QUALITATIVE, plan_code="CD-14FYP")
    assert found.kind.value == "qualitative"
    return found


def assess(
    session: Session, target: Target, year: int, status: str, **extra: object
) -> QualitativeAssessment:
    values: dict[str, object] = {
        "evidence": f"{year}年工作总结",
        "assessor": "市发改委规划处",
        "assessed_on": date(2024, 1, 15),
        "actor": PLANNER,
        "channel": "api",
        **extra,
    }
    return record_assessment(session, target, year=year, status=status, **values)  # type: ignore[arg-type]


def test_history_is_kept_and_the_latest_year_latest_recorded_counts(session: Session, target: Target) -> None:
    first_2022 = assess(session, target, 2022, "lagging")
    first_2023 = assess(session, target, 2023, "on_track")
    corrected_2023 = assess(session, target, 2023, "ahead", evidence="复核后更正")
    late_2022 = assess(session, target, 2022, "seriously_lagging")  # a correction of 2022, entered last

    history = assessment_history(session, target)
    assert [a.id for a in history] == [corrected_2023.id, first_2023.id, late_2022.id, first_2022.id]
    assert latest_assessments(session, [target.id], 2025)[target.id].id == corrected_2023.id
    assert latest_assessments(session, [target.id], 2023)[target.id].status == "ahead"
    assert latest_assessments(session, [target.id], 2022)[target.id].id == late_2022.id
    assert latest_assessments(session, [target.id], 2021) == {}
    assert latest_assessments(session, [], 2023) == {}
    stored = session.get(QualitativeAssessment, corrected_2023.id)
    assert stored is not None
    assert (stored.recorded_by, stored.channel, stored.assessor) == ("planner_test", "api", "市发改委规划处")


def test_only_qualitative_targets_take_an_assessment(session: Session) -> None:
    level = find_target(session, LEVEL, plan_code="CD-14FYP")
    with pytest.raises(InvalidValueError, match="only qualitative targets") as refused:
        assess(session, level, 2023, "on_track")
    assert refused.value.message.startswith(LEVEL + " 是")  # Chinese first


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evidence": "  "}, "give the evidence"),
        ({"assessor": ""}, "give the assessor"),
        ({"status": "not_evaluable"}, "must judge the target"),
        ({"status": "excellent"}, "unknown status 'excellent'"),
        ({"year": 2019}, "choose a year from 2020 to 2025"),
        ({"assessed_on": date(2999, 1, 1)}, "lies in the future"),
        ({"evidence": "证" * 10_001}, "longer than 10000 characters"),
    ],
)
def test_bad_assessments_are_refused_and_nothing_is_written(
    session: Session, target: Target, change: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"year": 2023, "status": "on_track", **change}
    year, status = values.pop("year"), values.pop("status")
    with pytest.raises(InvalidValueError, match=message):
        assess(session, target, year, status, **values)  # type: ignore[arg-type]
    assert assessment_history(session, target) == []


def test_today_is_the_date_in_beijing() -> None:
    assert local_today(datetime(2024, 1, 14, 17, 0, tzinfo=UTC)) == date(2024, 1, 15)
    assert local_today(datetime(2024, 1, 14, 15, 0, tzinfo=UTC)) == date(2024, 1, 14)


def test_an_assessment_is_logged_and_a_round_keeps_the_one_it_used(session: Session, target: Target) -> None:
    row = assess(session, target, 2023, "on_track")
    event = session.scalars(
        select(SecurityEvent)
        .where(SecurityEvent.action == "evaluation.assess")
        .order_by(SecurityEvent.id.desc())
    ).first()
    assert event is not None
    assert (event.object_id, event.detail["assessment"]) == (QUALITATIVE, row.id)
    published = publish_round(session, get_plan(session, "CD-14FYP"), kind="annual", year=2023, actor=PLANNER)
    in_round = next(t for t in published.targets if t.target_code == QUALITATIVE)
    assert in_round.data["assessment"]["id"] == row.id
    assert in_round.data["assessment"]["evidence"] == "2023年工作总结"


def test_assessments_are_append_only(session: Session, target: Target, backend: str) -> None:
    assess(session, target, 2023, "on_track")
    for statement in (
        "UPDATE qualitative_assessments SET status = 'achieved'",
        "DELETE FROM qualitative_assessments",
    ):
        savepoint = session.begin_nested()
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            session.execute(text(statement))
        savepoint.rollback()
    if backend == "postgresql":
        savepoint = session.begin_nested()
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            session.execute(text("TRUNCATE qualitative_assessments"))
        savepoint.rollback()
    assert [a.status for a in assessment_history(session, target)] == ["on_track"]


def test_a_catalogue_cannot_drop_an_assessed_target(session: Session, tmp_path: Path) -> None:
    data = yaml.safe_load((FIXTURES / "mini_plan.yaml").read_text(encoding="utf-8"))
    data["targets"].append(
        {"code": "T3", "indicator": "test_shelters", "scope": "510100", "kind": "qualitative",
         "comparator": "=", "unit": "是/否", "deadline": 2025, "source_sentence": "争创示范城市。"}
    )  # fmt: skip
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_plan_file(session, path)
    assess(session, find_target(session, "T3", plan_code="TEST-PLAN"), 2023, "on_track")
    data["targets"].pop()
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"targets \(T3\).*a qualitative assessment names it"):
        load_plan_file(session, path)
    assert find_target(session, "T3", plan_code="TEST-PLAN").kind.value == "qualitative"
