"""What an evaluation says about a target: status, the figures behind it and the reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from planwatch.evaluation.forecast import Forecast
from planwatch.evaluation.measures import Measure
from planwatch.evaluation.progress import Status


@dataclass(frozen=True)
class Reason:
    zh: str
    en: str


@dataclass
class TargetEvaluation:
    """The evaluation of one target in one year."""

    target_id: int
    code: str
    year: int
    status: Status
    reason: Reason | None = None
    data_year: int | None = None
    actual: float | None = None
    """The judged measure in the data year (value, increase, cumulative sum or share)."""
    baseline: float | None = None
    target: float | None = None
    tau: float | None = None
    pi: float | None = None
    ratio: float | None = None
    simulated: bool = False
    measure: Measure | None = None
    units_total: int | None = None
    units_meeting: int | None = None
    units_reported: int | None = None
    units_expected: int | None = None
    forecast: Forecast | None = None
    score: float | None = None
    """−5…+5 for the plan-tree roll-up (``scores.target_scores``); None when not evaluable."""
    forecast_scale: str = "measure"
    """What ``forecast`` projects: the judged ``measure``, or the indicator's ``value`` (rate targets)."""
    """The projection at the deadline from the data up to the data year (before the deadline only)."""


@dataclass
class PlanEvaluation:
    plan_id: int
    year: int
    targets: list[TargetEvaluation] = field(default_factory=list)

    @property
    def counts(self) -> dict[Status, int]:
        counter = Counter(t.status for t in self.targets)
        return {status: counter.get(status, 0) for status in Status}

    @property
    def simulated(self) -> bool:
        return any(t.simulated for t in self.targets)
