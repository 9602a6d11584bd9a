"""Coverage runs on the demo database: stored, labelled, written back as indicator values the
evaluation judges; recomputing changes nothing; real inputs become computed drafts; bad files
write nothing; siting results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.coverage.network import Network
from planwatch.coverage.service import CoverageInputs, compute_coverage, get_run, list_siting_runs
from planwatch.errors import ImportFileError
from planwatch.evaluation.service import evaluate_target, get_plan
from planwatch.models import CoverageDivisionResult, CoverageRun, DataValue, Indicator, Target
from planwatch.models.enums import Channel, DivisionLevel, ValueSource, ValueStatus


def demo_inputs(run: CoverageRun) -> CoverageInputs:
    return CoverageInputs(*(Path(run.inputs[k]["path"]) for k in ("network", "origins", "facilities")))


def values(session: Session, indicator: str, year: int) -> list[DataValue]:
    return list(
        session.scalars(
            select(DataValue)
            .join(DataValue.indicator)
            .where(Indicator.code == indicator, DataValue.year == year, DataValue.deleted.is_(False))
        )
    )


def test_the_demo_run_is_stored_labelled_and_written_back(session: Session) -> None:
    run = get_run(session)
    assert run.simulated
    assert len(run.circles) == 12
    assert all(run.inputs[k]["simulated"] for k in ("network", "origins", "facilities"))
    assert run.written["created"] + run.written["updated"] > 0
    fire = next(c for c in run.circles if c["code"] == "cd_fire_5min")
    assert 0 < fire["share"] < 100
    assert fire["population"] == pytest.approx(20_937_757)
    written = values(session, "fire_5min_coverage", run.year)
    assert written
    streets = {v.division.code: v for v in written}
    assert all(v.division.level is DivisionLevel.street for v in written)
    assert all(v.source is ValueSource.simulated and "cd_fire_5min" in (v.comment or "") for v in written)
    # a street's value is the run's result for that street
    result = session.scalars(
        select(CoverageDivisionResult).where(
            CoverageDivisionResult.run_id == run.id,
            CoverageDivisionResult.circle_code == "cd_fire_5min",
            CoverageDivisionResult.part == "",
        )
    ).all()
    by_id = {r.division_id: r for r in result}
    some = next(iter(streets.values()))
    row = by_id[some.division_id]
    assert some.numerator == pytest.approx(row.covered)
    assert some.denominator == pytest.approx(row.population)
    assert some.value == pytest.approx(row.share)


def test_the_evaluation_judges_the_computed_values(session: Session) -> None:
    run = get_run(session)
    plan = get_plan(session)
    target = session.scalars(
        select(Target)
        .join(Target.indicator)
        .where(Indicator.code == "shelter_area_per_capita", Target.plan_id == plan.id)
    ).one()
    evaluation = evaluate_target(session, target, run.year)
    shelter = next(c for c in run.circles if c["code"] == "cd_shelter_area")
    # the city's shelter area per resident, rolled up from the streets' numerators and denominators,
    # judged against the plan's "不低于2平方米"
    assert evaluation.actual == pytest.approx(shelter["area_per_resident"], rel=1e-9)
    assert evaluation.status in {"missed", "achieved"}
    assert (evaluation.status == "achieved") == (shelter["area_per_resident"] >= 2)


def test_computing_again_changes_no_value(session: Session) -> None:
    run = get_run(session)
    before = session.scalar(select(func.count(DataValue.id)))
    again = compute_coverage(session, demo_inputs(run), year=run.year, actor="test", entry_expiry_days=90)
    assert again.written["created"] == 0
    assert again.written["updated"] == 0
    assert again.written["unchanged"] > 0
    assert session.scalar(select(func.count(DataValue.id))) == before
    assert [c["share"] for c in again.circles] == [c["share"] for c in run.circles]


def _real_copy(run: CoverageRun, directory: Path) -> CoverageInputs:
    """The demo's files re-labelled as real (not simulated) inputs."""
    inputs = demo_inputs(run)
    network = Network.load(inputs.network)
    network.simulated = False
    network.save(directory / "network.npz")
    for name, path in (("origins.csv", inputs.origins), ("facilities.csv", inputs.facilities)):
        pd.read_csv(path, dtype=str).assign(simulated="false").to_csv(directory / name, index=False)
    return CoverageInputs(
        directory / "network.npz",
        directory / "origins.csv",
        directory / "facilities.csv",
        circles=["cd_fire_5min"],
    )


def test_real_inputs_are_written_as_computed_drafts(session: Session, tmp_path: Path) -> None:
    run = get_run(session)
    year = run.year + 1
    real = compute_coverage(
        session, _real_copy(run, tmp_path), year=year, actor="cli:planner", entry_expiry_days=3660
    )
    assert not real.simulated
    written = values(session, "fire_5min_coverage", year)
    assert written
    assert {v.source for v in written} == {ValueSource.computed}
    assert {v.status for v in written} == {ValueStatus.draft}
    assert all("模拟" not in (v.comment or "") for v in written)
    assert session.scalar(select(func.count()).select_from(DataValue).where(DataValue.year == year)) == len(
        written
    )
    audit_channels = {a.channel for v in written for a in _audits(session, v)}
    assert audit_channels == {Channel.file}


def _audits(session: Session, value: DataValue) -> list[object]:
    from planwatch.models import DataValueAudit

    return list(
        session.scalars(
            select(DataValueAudit).where(
                DataValueAudit.indicator_id == value.indicator_id,
                DataValueAudit.division_id == value.division_id,
                DataValueAudit.period == value.period,
            )
        )
    )


def test_an_unknown_division_code_names_the_row_and_writes_nothing(session: Session, tmp_path: Path) -> None:
    run = get_run(session)
    inputs = demo_inputs(run)
    frame = pd.read_csv(inputs.origins, dtype=str)
    frame.loc[4, "division_code"] = "999999999999"
    frame.to_csv(tmp_path / "origins.csv", index=False)
    runs = session.scalar(select(func.count(CoverageRun.id)))
    with pytest.raises(ImportFileError, match=r"origins.csv: row 6, column 'division_code'.*999999999999"):
        compute_coverage(
            session,
            CoverageInputs(inputs.network, tmp_path / "origins.csv", inputs.facilities),
            year=run.year,
            actor="test",
            entry_expiry_days=90,
        )
    assert session.scalar(select(func.count(CoverageRun.id))) == runs


def test_bad_point_files_name_the_row_and_column(session: Session, tmp_path: Path) -> None:
    run = get_run(session)
    inputs = demo_inputs(run)
    frame = pd.read_csv(inputs.facilities, dtype=str)
    frame.loc[2, "lat"] = "north"
    frame.to_csv(tmp_path / "facilities.csv", index=False)
    with pytest.raises(
        ImportFileError, match=r"facilities.csv: row 4, column 'lat': 'north' is not a number"
    ):
        CoverageInputs(inputs.network, inputs.origins, tmp_path / "facilities.csv").load()
    frame = pd.read_csv(inputs.facilities, dtype=str)
    frame.loc[0, "type"] = "spaceport"
    frame.to_csv(tmp_path / "facilities.csv", index=False)
    with pytest.raises(ImportFileError, match=r"row 2, column 'type': unknown facility type 'spaceport'"):
        CoverageInputs(inputs.network, inputs.origins, tmp_path / "facilities.csv").load()
    pd.read_csv(inputs.origins, dtype=str).drop(columns="population").to_csv(
        tmp_path / "origins.csv", index=False
    )
    with pytest.raises(ImportFileError, match=r"column\(s\) population missing"):
        CoverageInputs(inputs.network, tmp_path / "origins.csv", inputs.facilities).load()


def test_the_demo_sites_new_facilities_with_the_population_each_adds(session: Session) -> None:
    sitings = {s.facility_type: s for s in list_siting_runs(session)}
    children = sitings["children_complex"]
    assert children.simulated
    assert children.problem == "maximal"
    assert 0 < len(children.sites) <= 20
    added = [s["population_added"] for s in children.sites]
    assert all(a > 0 for a in added)
    assert added == sorted(added, reverse=True)  # listed in the order they add most
    assert children.covered_after == pytest.approx(children.covered_before + sum(added))
    assert children.sites[-1]["cumulative_share"] == pytest.approx(
        100 * children.covered_after / children.population
    )
    assert np.isfinite([s["lon"] for s in children.sites]).all()
    # the residents already covered are the circle's, whichever listed type covers them (rule any)
    run = get_run(session)
    circle = next(c for c in run.circles if c["code"] == "cd_child_5min_activity")
    assert children.covered_before == pytest.approx(circle["covered"], rel=1e-9)
    assert children.population == pytest.approx(circle["population"])
