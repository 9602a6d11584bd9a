"""Evaluation rounds on the demo database: a round is a snapshot that later data changes never
touch, is published once per kind and year (a correction supersedes it), uses approved values only,
and two rounds compare target by target. The tables refuse UPDATE and DELETE."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from planwatch.audit.security_log import Actor
from planwatch.errors import CatalogueError, ConflictError, InvalidValueError, NotFoundError
from planwatch.evaluation.progress import Status
from planwatch.evaluation.round_views import round_diff_view, round_view
from planwatch.evaluation.rounds import (
    PUBLISHED_VALUES,
    diff_rounds,
    get_round,
    list_rounds,
    middle_year,
    publish_round,
    snapshot,
)
from planwatch.evaluation.service import PUBLIC, TargetEvaluation, evaluate_plan, get_plan
from planwatch.models import DataValue, EvaluationRound, Plan, SecurityEvent, Target
from planwatch.models.enums import RoundKind, ValueSource, ValueStatus
from planwatch.plans.service import find_target, load_plan_file
from tests.conftest import FIXTURES

PLANNER = Actor(name="planner_test", roles="planner")
JUDGED = "CD14-T05"
"""护理型床位占比 > 60 %: a ratio rolled up from the districts (docs/evaluation.md worked example)."""


@pytest.fixture
def plan(session: Session) -> Plan:
    return get_plan(session, "CD-14FYP")


def scale_values(session: Session, target: Target, year: int, factor: float) -> None:
    """Change the target's indicator values of ``year`` in place (what a later correction does)."""
    rows = session.scalars(
        select(DataValue).where(DataValue.indicator_id == target.indicator_id, DataValue.year == year)
    ).all()
    assert rows
    for row in rows:
        row.value = row.value * factor if row.value is not None else None
        row.numerator = row.numerator * factor if row.numerator is not None else None
    session.flush()


def test_a_round_is_a_snapshot_later_data_changes_do_not_touch(session: Session, plan: Plan) -> None:
    published = publish_round(session, plan, kind=RoundKind.annual, year=2023, actor=PLANNER)
    stored = {t.target_code: copy.deepcopy(t.payload) for t in published.targets}
    fingerprint = published.data_fingerprint
    judged = stored[JUDGED]
    assert judged["status"] != Status.not_evaluable
    assert judged["actual"] is not None

    target = find_target(session, JUDGED, plan_code=plan.code)
    scale_values(session, target, judged["data_year"], 0.5)
    session.expire_all()

    again = get_round(session, published.id)
    assert {t.target_code: t.payload for t in again.targets} == stored
    assert again.data_fingerprint == fingerprint
    fresh = evaluate_plan(session, plan, 2023, audience=PUBLISHED_VALUES)
    now = next(t for t in fresh.targets if t.code == JUDGED)
    assert now.actual != pytest.approx(judged["actual"])

    corrected = publish_round(session, plan, kind="annual", year=2023, actor=PLANNER, supersede=True)
    assert corrected.data_fingerprint != fingerprint
    diff = diff_rounds(again, corrected)
    [change] = [c for c in diff.changed if c.code == JUDGED]
    assert change.actual_before == pytest.approx(judged["actual"])
    assert change.actual_after == pytest.approx(now.actual)
    assert {"actual", f"data.values.{judged['data_year']}"} <= set(change.fields)
    assert diff.unchanged + len(diff.changed) == len(published.targets)
    assert diff.added == diff.removed == []


def test_publishing_the_same_kind_and_year_twice_is_refused(session: Session, plan: Plan) -> None:
    first = publish_round(session, plan, kind=RoundKind.midterm, actor=PLANNER, note="首次")
    assert (first.year, first.revision, first.supersedes_id) == (middle_year(plan), 1, None)
    with pytest.raises(ConflictError, match="--supersede") as refused:
        publish_round(session, plan, kind=RoundKind.midterm, year=2023, actor=PLANNER)
    assert "已发布" in refused.value.message  # Chinese first
    second = publish_round(session, plan, kind=RoundKind.midterm, actor=PLANNER, supersede=True)
    assert (second.revision, second.supersedes_id) == (2, first.id)
    third = publish_round(session, plan, kind=RoundKind.midterm, actor=PLANNER, supersede=True)
    assert (third.revision, third.supersedes_id) == (3, second.id)
    assert round_view(session, first.id).superseded_by == second.id
    assert round_view(session, third.id).superseded_by is None
    assert [r.id for r in list_rounds(session, plan)][:3] == [third.id, second.id, first.id]


def test_years_and_kinds(session: Session, plan: Plan) -> None:
    assert middle_year(plan) == 2023  # 2021–2025
    final = publish_round(session, plan, kind="final", actor=PLANNER)
    assert final.year == plan.period_end
    with pytest.raises(InvalidValueError, match="last year of the plan period"):
        publish_round(session, plan, kind="final", year=2024, actor=PLANNER)
    with pytest.raises(InvalidValueError, match="choose a year from 2021 to 2025"):
        publish_round(session, plan, kind="annual", year=2020, actor=PLANNER)
    with pytest.raises(InvalidValueError, match="nothing to supersede"):
        publish_round(session, plan, kind="annual", year=2022, actor=PLANNER, supersede=True)
    with pytest.raises(InvalidValueError, match="unknown round kind"):
        publish_round(session, plan, kind="quarterly", actor=PLANNER)
    annual = publish_round(session, plan, kind="annual", actor=PLANNER)
    assert annual.year == 2025  # the latest year with data


def test_a_round_counts_approved_values_only(session: Session, plan: Plan) -> None:
    """Whoever publishes, an unapproved (submitted) value stays out of a published round."""
    target = find_target(session, JUDGED, plan_code=plan.code)
    row = session.scalars(
        select(DataValue).where(DataValue.indicator_id == target.indicator_id, DataValue.year == 2023)
    ).first()
    assert row is not None
    row.numerator = row.denominator
    row.value = 100.0
    row.status = ValueStatus.submitted
    row.source = ValueSource.reported
    session.flush()
    published = publish_round(session, plan, kind="annual", year=2023, actor=PLANNER)
    in_round = next(t for t in published.targets if t.target_code == JUDGED)
    operator = next(t for t in evaluate_plan(session, plan, 2023).targets if t.code == JUDGED)
    public = next(t for t in evaluate_plan(session, plan, 2023, audience=PUBLIC).targets if t.code == JUDGED)
    assert in_round.payload["actual"] == pytest.approx(public.actual)
    assert operator.actual != pytest.approx(public.actual)


def test_the_payload_holds_every_field_of_the_evaluation_as_json(session: Session, plan: Plan) -> None:
    published = publish_round(session, plan, kind="annual", year=2023, actor=PLANNER)
    names = {f.name for f in dataclasses.fields(TargetEvaluation)}
    for row in published.targets:
        assert set(row.payload) == names
        json.dumps(row.payload, allow_nan=False)  # NaN and infinities are stored as null
        json.dumps(row.data, allow_nan=False)
        assert row.status == row.payload["status"]
    judged = next(t for t in published.targets if t.target_code == JUDGED)
    assert judged.payload["measure"]["by_year"]
    assert judged.data["values"]
    assert all(int(year) <= 2023 for year in judged.data["values"])
    assert judged.data["simulated"] is True  # the demo's values are simulated
    assert published.simulated is True
    assert sum(published.counts.values()) == len(published.targets)
    assert published.thresholds["ahead"] == pytest.approx(1.05)


def test_snapshot_reads_fields_generically() -> None:
    @dataclasses.dataclass
    class Extra:
        interval: tuple[float, float]
        note: str

    @dataclasses.dataclass
    class Later(TargetEvaluation):
        forecast_extra: Extra | None = None

    evaluation = Later(
        1,
        "X",
        2023,
        Status.on_track,
        pi=float("nan"),
        ratio=float("inf"),
        forecast_extra=Extra((1.0, 2.0), "n"),
    )
    plain = snapshot(evaluation)
    assert plain["status"] == "on_track"
    assert plain["pi"] is None
    assert plain["ratio"] is None
    assert plain["forecast_extra"] == {"interval": [1.0, 2.0], "note": "n"}


def test_publishing_is_logged(session: Session, plan: Plan) -> None:
    published = publish_round(session, plan, kind="annual", year=2022, actor=PLANNER)
    event = session.scalars(
        select(SecurityEvent)
        .where(SecurityEvent.action == "evaluation.publish")
        .order_by(SecurityEvent.id.desc())
    ).first()
    assert event is not None
    assert (event.actor, event.object_id) == ("planner_test", str(published.id))
    assert event.detail["fingerprint"] == published.data_fingerprint


def test_rounds_of_a_draft_plan_are_not_public(session: Session) -> None:
    load_plan_file(session, FIXTURES / "mini_plan.yaml")
    draft = get_plan(session, "TEST-PLAN")
    published = publish_round(session, draft, kind="annual", year=2023, actor=PLANNER)
    assert get_round(session, published.id).id == published.id
    with pytest.raises(NotFoundError):
        get_round(session, published.id, audience=PUBLIC)
    assert published.id not in {r.id for r in list_rounds(session, audience=PUBLIC)}
    chengdu = publish_round(session, get_plan(session, "CD-14FYP"), kind="annual", year=2023, actor=PLANNER)
    with pytest.raises(InvalidValueError, match="different plans"):
        round_diff_view(session, published.id, chengdu.id)


def test_a_catalogue_cannot_drop_a_target_a_round_names(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, FIXTURES / "mini_plan.yaml")
    publish_round(session, get_plan(session, "TEST-PLAN"), kind="annual", year=2023, actor=PLANNER)
    text_ = (FIXTURES / "mini_plan.yaml").read_text(encoding="utf-8")
    shortened = text_[: text_.index("  - code: T2")]
    path = tmp_path / "short.yaml"
    path.write_text(shortened, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"targets \(T2\).*published evaluation round"):
        load_plan_file(session, path)


def _refused(session: Session, statement: str) -> str:
    savepoint = session.begin_nested()
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
        session.execute(text(statement))
    savepoint.rollback()
    return str(caught.value)


def test_round_tables_are_append_only(session: Session, plan: Plan, backend: str) -> None:
    published = publish_round(session, plan, kind="annual", year=2023, actor=PLANNER)
    statements = [
        "UPDATE evaluation_rounds SET year = 2020",
        "DELETE FROM evaluation_rounds",
        "UPDATE evaluation_round_targets SET status = 'achieved'",
        "DELETE FROM evaluation_round_targets",
    ]
    if backend == "postgresql":
        statements += ["TRUNCATE evaluation_round_targets", "TRUNCATE evaluation_rounds CASCADE"]
    for statement in statements:
        assert "append-only" in _refused(session, statement), statement
    session.expire_all()
    assert session.get(EvaluationRound, published.id) is not None


def test_a_round_holds_nothing_after_its_year(session: Session, plan: Plan) -> None:
    published = publish_round(session, plan, kind=RoundKind.midterm, year=2023, actor=PLANNER)
    for row in published.targets:
        measure = row.payload.get("measure") or {}
        for series in ("by_year", "values"):
            assert all(int(y) <= 2023 for y in (measure.get(series) or {})), (row.target_code, series)
        assert all(int(y) <= 2023 for y in row.data["values"]), row.target_code
    # so a correction of 2025 changes nothing in the 2023 round's diff
    target = find_target(session, JUDGED, plan_code=plan.code)
    scale_values(session, target, 2025, 0.5)
    corrected = publish_round(session, plan, kind="midterm", year=2023, actor=PLANNER, supersede=True)
    assert corrected.data_fingerprint == published.data_fingerprint
    assert diff_rounds(published, corrected).changed == []
