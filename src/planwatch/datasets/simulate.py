"""A seeded simulator of monitoring data, so the demo has something to evaluate.

Every value it writes has source ``simulated`` and is labelled 模拟数据 / simulated wherever it is
shown. Parameters live in a YAML file (``datasets/chengdu/simulation.yaml``): per indicator a
realistic base-year value and a scenario (how the path relates to the target: achieved, ahead,
on_track, lagging, seriously_lagging) or, for indicators without a numeric target, a yearly change.

The simulator never overwrites a value that was reported or computed, and re-running it with the
same seed writes nothing new.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree, population_by_division
from planwatch.divisions.tree import Node
from planwatch.errors import CatalogueError, Problem
from planwatch.ingest.writer import ValueChange, Writer, write_values
from planwatch.models import Indicator, Plan, Target
from planwatch.models.enums import (
    Aggregation,
    Channel,
    Direction,
    DivisionLevel,
    TargetKind,
    ValueSource,
)

SIMULATOR = "simulator"
COUNT_UNITS = frozenset({"个", "张", "名", "人", "所", "家", "起", "辆", "件", "处", "项", "次", "支"})
SCENARIO_PACE = {
    "achieved": 1.5,
    "ahead": 1.2,
    "on_track": 1.0,
    "lagging": 0.82,
    "seriously_lagging": 0.5,
}
Scenario = Literal["achieved", "ahead", "on_track", "lagging", "seriously_lagging"]


class IndicatorSimulation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline: float
    denominator: float | None = None
    scenario: Scenario | None = None
    annual_change: float | None = None
    spread: float = Field(default=0.2, ge=0, le=2)
    missing: list[int] = Field(default_factory=list)


class SimulationFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["planwatch.simulation/v1"]
    plan: str | None = None
    """Code of the plan the parameters are for (used when no plan is named)."""
    seed: int = 14
    years: tuple[int, int]
    indicators: dict[str, IndicatorSimulation]


@dataclass
class SimulationReport:
    seed: int
    counts: Counter[str] = field(default_factory=Counter)
    indicators: int = 0


def read_simulation_file(path: Path) -> SimulationFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return SimulationFile.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(str(path), ".".join(str(p) for p in err["loc"][:-1]), str(err["loc"][-1]), err["msg"])
            for err in exc.errors()
        ]
        raise CatalogueError(problems) from None


def simulate(
    session: Session,
    plan: Plan,
    params: SimulationFile,
    *,
    name: str = "simulation.yaml",
    seed: int | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SimulationReport:
    """Write simulated yearly values for every indicator the plan's targets use, through the
    audited write path (channel ``simulation``); reported values are never overwritten."""
    seed = params.seed if seed is None else seed
    targets = session.scalars(select(Target).where(Target.plan_id == plan.id).order_by(Target.position)).all()
    indicators: dict[int, Indicator] = {t.indicator_id: t.indicator for t in targets}
    # a relative target's reference series (e.g. a national standard) is data too
    referring = {t.reference_indicator_id: t for t in targets if t.reference_indicator is not None}
    for target in referring.values():
        assert target.reference_indicator is not None  # noqa: S101 - filtered above
        indicators.setdefault(target.reference_indicator.id, target.reference_indicator)
    missing = [i.code for i in indicators.values() if i.code not in params.indicators]
    if missing:
        raise CatalogueError(
            [
                Problem(
                    name,
                    f"indicators.{code}",
                    "",
                    "no simulation parameters for this indicator; add an entry",
                )
                for code in missing
            ]
        )
    tree = division_tree(session)
    scope = tree.nodes[plan.scope_division_id] if plan.scope_division_id else None
    if scope is None:
        msg = "the plan has no scope division"
        raise CatalogueError([Problem(name, "plan", "scope", msg)])
    population = {k: v[0] for k, v in population_by_division(session, params.years[0]).items()}
    report = SimulationReport(seed)
    changes: list[ValueChange] = []
    task = progress.add_task("simulating", total=len(indicators)) if progress else None
    years = list(range(params.years[0], params.years[1] + 1))
    for indicator in sorted(indicators.values(), key=lambda i: i.code):
        rng = np.random.default_rng([seed, zlib.crc32(indicator.code.encode())])
        sim = params.indicators[indicator.code]
        driver = next(
            (t for t in targets if t.indicator_id == indicator.id and _numeric(t)),
            next((t for t in targets if t.indicator_id == indicator.id), referring.get(indicator.id)),
        )
        assert driver is not None  # noqa: S101 - every indicator here is a target's or a reference
        level = max(indicator.level_enums, key=lambda lv: lv.depth)
        units = [scope] if level.depth <= scope.level.depth else tree.descendants(scope.id, level=level)
        rows = _simulate_indicator(indicator, driver, sim, units, population, years, plan.base_year, rng)
        for (division_id, year), (value, numerator, denominator) in rows.items():
            if year in sim.missing:
                continue
            changes.append(
                ValueChange(
                    indicator.id,
                    indicator.code,
                    division_id,
                    tree.nodes[division_id].code,
                    str(year),
                    value=value,
                    numerator=numerator,
                    denominator=denominator,
                )
            )
        report.indicators += 1
        if progress is not None and task is not None:
            progress.advance(task)
    writer = Writer(
        actor=SIMULATOR,
        channel=Channel.simulation,
        now=now or datetime.now(UTC),
        source=ValueSource.simulated,
    )
    result = write_values(session, changes, writer, default_expiry_days=0)
    report.counts.update(
        created=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        kept_reported=result.kept_reported,
        kept_locked=result.kept_locked,
    )
    return report


def _numeric(target: Target) -> bool:
    return (target.value is not None or target.range_low is not None) and not target.incomplete


def _pace_path(
    years: list[int], base_year: int, deadline: int, pace: float, rng: np.random.Generator
) -> dict[int, float]:
    """π per year: the share of the required change achieved, ``pace`` times the time share."""
    out: dict[int, float] = {}
    for year in years:
        tau = max(0.0, min(1.0, (year - base_year) / max(1, deadline - base_year)))
        noise = rng.normal(0, 0.03) if year > base_year else 0.0
        out[year] = pace * tau + noise
    return out


def _city_path(
    indicator: Indicator,
    target: Target,
    sim: IndicatorSimulation,
    years: list[int],
    base_year: int,
    rng: np.random.Generator,
) -> dict[int, float]:
    b = sim.baseline
    higher = indicator.direction is Direction.higher_better
    goal = target.value if target.value is not None else (target.range_low if higher else target.range_high)
    if not _numeric(target) or goal is None or sim.scenario is None:
        change = sim.annual_change or 0.0
        scale = abs(b) * 0.01
        return {
            y: b + change * (y - base_year) + (rng.normal(0, scale) if y > base_year else 0.0) for y in years
        }
    pi = _pace_path(years, base_year, target.deadline_year, SCENARIO_PACE[sim.scenario], rng)
    if target.kind is TargetKind.cumulative:
        span = max(1, target.deadline_year - base_year)
        flows = {base_year: goal / span * 0.8}
        for year in years:
            if year > base_year:
                flows[year] = max(0.0, goal * (pi[year] - pi.get(year - 1, 0.0)))
        return {y: flows.get(y, 0.0) for y in years}
    if target.kind is TargetKind.increment:
        total = goal * (target.deadline_year - base_year) if target.per == "年" else goal
        return {y: b + total * pi[y] for y in years}
    required = (goal - b) if higher else (b - goal)
    if required <= 0:  # the baseline already meets the target: drift gently the good way
        step = abs(b) * 0.002 * (1 if higher else -1)
        return {y: b + step * (y - base_year) for y in years}
    return {y: b + (goal - b) * pi[y] for y in years}


def _simulate_indicator(
    indicator: Indicator,
    target: Target,
    sim: IndicatorSimulation,
    units: list[Node],
    population: dict[int, int],
    years: list[int],
    base_year: int,
    rng: np.random.Generator,
) -> dict[tuple[int, int], tuple[float, float | None, float | None]]:
    """(division, year) → (value, numerator, denominator) for every unit and year."""
    if target.kind is TargetKind.per_unit_coverage and _numeric(target) and sim.scenario is not None:
        return _coverage_units(target, sim, units, years, base_year, rng)
    city = _city_path(indicator, target, sim, years, base_year, rng)
    pops = np.array([population.get(u.id, math.nan) for u in units], dtype=float)
    if np.isnan(pops).any() or pops.sum() <= 0:
        pops = np.ones(len(units))
    share = pops / pops.sum()
    tilt = np.exp(rng.normal(0, sim.spread, len(units)))
    integer = indicator.unit in COUNT_UNITS
    out: dict[tuple[int, int], tuple[float, float | None, float | None]] = {}
    for year in years:
        jitter = np.exp(rng.normal(0, sim.spread / 4, len(units)))
        if indicator.aggregation is Aggregation.ratio:
            factor = indicator.factor or 1.0
            den_city = (sim.denominator or 1000.0) * 1.01 ** (year - base_year)
            den = np.maximum(1.0, np.round(den_city * share))
            num = city[year] / factor * den * tilt * jitter
            num *= (city[year] / factor * den.sum()) / max(num.sum(), 1e-12)
            if indicator.unit == "%" and factor == 100:
                num = np.minimum(num, den)
            num = np.round(num, 1)
            for unit, n, d in zip(units, num, den, strict=True):
                out[(unit.id, year)] = (round(float(n / d * factor), 4), float(n), float(d))
        elif indicator.aggregation in {Aggregation.sum, Aggregation.count_meeting}:
            weights = share * tilt * jitter
            values = city[year] * weights / weights.sum()
            values = round_preserving_total(values) if integer else np.round(values, 3)
            for unit, v in zip(units, values, strict=True):
                out[(unit.id, year)] = (float(max(v, 0.0)), None, None)
        else:
            values = city[year] * tilt * jitter
            if indicator.unit == "%":
                values = np.clip(values, 0, 100)
            for unit, v in zip(units, np.round(values, 4), strict=True):
                out[(unit.id, year)] = (float(v), None, None)
    return out


def round_preserving_total(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Round to integers so that the rounded values still add up to the rounded total
    (largest remainder), e.g. 30 organisations over 20 districts stay 30, not 20."""
    floors = np.floor(values)
    shortfall = round(float(values.sum())) - int(floors.sum())
    if shortfall > 0:
        order = np.argsort(-(values - floors), kind="stable")
        floors[order[:shortfall]] += 1
    return np.asarray(floors, dtype=np.float64)


def _coverage_units(
    target: Target,
    sim: IndicatorSimulation,
    units: list[Node],
    years: list[int],
    base_year: int,
    rng: np.random.Generator,
) -> dict[tuple[int, int], tuple[float, float | None, float | None]]:
    """Facilities per unit such that the share of units with at least one follows the scenario."""
    n = len(units)
    yes_no = target.unit.startswith("是/否") or target.indicator.unit.startswith("是/否")
    if yes_no:  # a yes/no indicator: the baseline counts the units that already meet it
        share0 = min(1.0, max(sim.baseline, 0.0) / max(n, 1))
    else:  # facilities spread at random: the share of units with at least one
        share0 = min(0.95, 1 - math.exp(-max(sim.baseline, 0.0) / max(n, 1)))
    assert sim.scenario is not None  # noqa: S101 - checked by the caller
    pi = _pace_path(years, base_year, target.deadline_year, SCENARIO_PACE[sim.scenario], rng)
    order = rng.permutation(n)
    extra = np.zeros(n, dtype=int) if yes_no else rng.poisson(0.3, n)
    out: dict[tuple[int, int], tuple[float, float | None, float | None]] = {}
    for year in years:
        share = min(1.0, max(share0, share0 + (1 - share0) * pi[year]))
        covered = round(share * n)
        for rank, index in enumerate(order):
            value = float(1 + extra[index]) if rank < covered else 0.0
            out[(units[index].id, year)] = (value, None, None)
    return out


_LEVELS = DivisionLevel  # for callers that want the vocabulary
