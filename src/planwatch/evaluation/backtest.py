"""Back-testing: replay a plan's history and measure how well the status and the forecast at year
t predicted the outcome at the deadline.

For every target whose deadline has data (the outcome is ``achieved`` or ``missed``), and for every
earlier year t after the base year, the target is evaluated with the data up to t only (the
evaluation never reads a year after the one it evaluates). Where a target's number holds in every
division (``alerts.judged_per_division``), each child division of the scope is replayed too, which
gives many more cases than the city alone.

Two predictions are scored against the outcome:

* **status**: ``achieved``, ``ahead`` and ``on_track`` predict "met", ``lagging`` and
  ``seriously_lagging`` predict "missed";
* **forecast**: a probability of meeting the target of 50 % or more predicts "met"; the Brier score
  (mean squared difference between the probability and the outcome, 0 is perfect, 0.25 is a coin)
  and the share of outcomes inside the 80 % interval are reported too.

On the demo the series are simulated (模拟数据): the scores then say how the rules behave on the
simulator's paths, not how well they would have predicted Chengdu.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from planwatch.config import StatusThresholds
from planwatch.evaluation.alerts import judged_per_division
from planwatch.evaluation.data import OPERATOR, Audience, EvaluationContext
from planwatch.evaluation.judges import judge
from planwatch.evaluation.progress import Status
from planwatch.evaluation.results import TargetEvaluation
from planwatch.evaluation.service import check_year, plan_targets
from planwatch.models import Plan, Target

PREDICTS_MET = frozenset({Status.achieved, Status.ahead, Status.on_track})
PREDICTS_MISSED = frozenset({Status.lagging, Status.seriously_lagging})


@dataclass
class YearScore:
    """How the evaluations of one year t predicted the outcomes."""

    year: int
    cases: int = 0
    """Target × division pairs with an outcome and a status at t that predicts one."""
    status_right: int = 0
    forecasts: int = 0
    forecast_right: int = 0
    brier_sum: float = 0.0
    interval_cases: int = 0
    inside_interval: int = 0
    simulated: bool = False

    @property
    def status_accuracy(self) -> float:
        return self.status_right / self.cases if self.cases else math.nan

    @property
    def forecast_accuracy(self) -> float:
        return self.forecast_right / self.forecasts if self.forecasts else math.nan

    @property
    def brier(self) -> float:
        return self.brier_sum / self.forecasts if self.forecasts else math.nan

    @property
    def interval_coverage(self) -> float:
        return self.inside_interval / self.interval_cases if self.interval_cases else math.nan


@dataclass
class Backtest:
    plan_code: str
    outcomes: int = 0
    """Target × division pairs whose deadline has an outcome (achieved or missed)."""
    met: int = 0
    years: list[YearScore] = field(default_factory=list)


def backtest(
    session: Session,
    plan: Plan,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
    per_division: bool = True,
) -> Backtest:
    """Replay every year of ``plan`` before its targets' deadlines and score the predictions."""
    targets = plan_targets(session, plan)
    deadlines = sorted({t.deadline_year for t in targets})
    result = Backtest(plan.code)
    contexts: dict[int, EvaluationContext] = {}

    def context(year: int) -> EvaluationContext:
        if year not in contexts:
            check_year(plan, year)
            contexts[year] = EvaluationContext.load(session, year, targets, thresholds, audience)
        return contexts[year]

    scores = {y: YearScore(y) for y in range(plan.base_year + 1, max(deadlines, default=plan.base_year))}
    for target in targets:
        if target.incomplete or target.deadline_year > plan.period_end:
            continue
        final_ctx = context(target.deadline_year)
        for scope_id in _scopes(target, final_ctx, per_division=per_division):
            outcome = judge(target, replace(final_ctx, scope_id=scope_id))
            if (
                outcome.status not in {Status.achieved, Status.missed}
                or outcome.data_year != target.deadline_year
            ):
                continue
            met = outcome.status is Status.achieved
            result.outcomes += 1
            result.met += met
            for year in range(target.baseline_year + 1, target.deadline_year):
                if year not in scores:
                    continue
                earlier = judge(target, replace(context(year), scope_id=scope_id))
                _score(scores[year], earlier, outcome, met=met)
    result.years = [s for s in scores.values() if s.cases or s.forecasts]
    return result


def _scopes(target: Target, ctx: EvaluationContext, *, per_division: bool) -> Iterator[int]:
    scope = ctx.scope(target)
    yield scope.id
    if per_division and judged_per_division(target):
        yield from ctx.tree.children.get(scope.id, [])


def _score(score: YearScore, earlier: TargetEvaluation, outcome: TargetEvaluation, *, met: bool) -> None:
    score.simulated |= earlier.simulated or outcome.simulated
    if earlier.status in PREDICTS_MET | PREDICTS_MISSED:
        score.cases += 1
        score.status_right += (earlier.status in PREDICTS_MET) == met
    found = earlier.forecast
    if found is None or math.isnan(found.probability):
        return
    score.forecasts += 1
    score.forecast_right += (found.probability >= 0.5) == met
    score.brier_sum += (found.probability - float(met)) ** 2
    final_value = _final_value(earlier, outcome)
    if final_value is not None and not math.isnan(found.lower):
        score.interval_cases += 1
        score.inside_interval += found.lower <= final_value <= found.upper


def _final_value(earlier: TargetEvaluation, outcome: TargetEvaluation) -> float | None:
    """The outcome on the forecast's own scale: the judged measure, or the indicator's value."""
    if outcome.measure is None or outcome.data_year is None:
        return None
    series = outcome.measure.values if earlier.forecast_scale == "value" else outcome.measure.by_year
    return series.get(outcome.data_year)
