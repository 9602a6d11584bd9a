"""The simulator: labelled, reproducible, never overwrites reported data, totals preserved."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.datasets import chengdu_path
from planwatch.datasets.simulate import read_simulation_file, round_preserving_total, simulate
from planwatch.evaluation.progress import Status
from planwatch.evaluation.service import evaluate_plan, get_plan
from planwatch.models import Approval, DataValue, Division
from planwatch.models.enums import ApprovalState, ApprovalUnitKind, ValueSource


def test_every_demo_value_is_labelled_simulated(session: Session) -> None:
    sources = set(session.scalars(select(DataValue.source).distinct()))
    assert sources == {ValueSource.simulated}


def test_rerunning_the_simulator_changes_nothing(session: Session) -> None:
    params = read_simulation_file(chengdu_path("simulation.yaml"))
    before = session.scalar(select(func.count()).select_from(DataValue))
    report = simulate(session, get_plan(session), params)
    assert report.counts["created"] == 0
    assert report.counts["updated"] == 0
    assert session.scalar(select(func.count()).select_from(DataValue)) == before


def test_reported_values_are_never_overwritten(session: Session) -> None:
    row = session.scalars(select(DataValue).order_by(DataValue.id)).first()
    assert row is not None
    row.source = ValueSource.reported
    row.value = 123456.0
    session.flush()
    params = read_simulation_file(chengdu_path("simulation.yaml"))
    report = simulate(session, get_plan(session), params, seed=99)
    assert report.counts["kept_reported"] >= 1
    session.refresh(row)
    assert row.value == 123456.0


def test_approved_values_are_left_alone(session: Session) -> None:
    jinjiang = session.scalar(select(Division).where(Division.code == "510104", Division.valid_to.is_(None)))
    assert jinjiang is not None
    session.add(
        Approval(
            unit_kind=ApprovalUnitKind.division,
            unit_key="division:510104",
            division_id=jinjiang.id,
            year=2024,
            state=ApprovalState.approved,
            changed_by="planner",
        )
    )
    session.flush()
    approved = select(DataValue.id, DataValue.value).where(
        DataValue.division_id == jinjiang.id, DataValue.year == 2024
    )
    before = {tuple(r) for r in session.execute(approved)}
    params = read_simulation_file(chengdu_path("simulation.yaml"))
    report = simulate(session, get_plan(session), params, seed=99)
    assert report.counts["updated"] > 0  # another seed moves the other values ...
    assert report.counts["kept_locked"] >= 1
    assert {tuple(r) for r in session.execute(approved)} == before  # ... not the approved ones


def test_demo_data_gives_a_mix_of_statuses(session: Session) -> None:
    counts = evaluate_plan(session, get_plan(session), 2023).counts
    assert counts[Status.lagging] + counts[Status.seriously_lagging] >= 3
    assert counts[Status.achieved] + counts[Status.ahead] + counts[Status.on_track] >= 3


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=40))
def test_rounding_preserves_the_total(values: list[float]) -> None:
    arr = np.array(values)
    rounded = round_preserving_total(arr)
    assert rounded.sum() == round(arr.sum())
    assert np.all(np.abs(rounded - arr) < 1)


def test_yes_no_indicators_hold_only_zero_or_one(session: Session) -> None:
    from planwatch.models import Indicator

    yes_no = [i.id for i in session.scalars(select(Indicator)) if i.unit.startswith("是/否")]
    assert yes_no
    values = set(session.scalars(select(DataValue.value).where(DataValue.indicator_id.in_(yes_no))))
    assert values <= {0.0, 1.0}
