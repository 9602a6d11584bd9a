"""Early warning (预警): which targets need attention, how urgently, and who answers for them.

Pure rules over evaluations. A rule matches a target by its nature (约束性 binding / 预期性
expected), its status and its forecast; each rule carries a level, red (红色预警) or yellow
(黄色预警). A target's level is the highest level of the rules it matches, and the warning lists
every rule that matched, so the reader sees why. The default rules (``DEFAULT_RULES``):

=====  ==========================  =============================================================
level  applies to                  when
=====  ==========================  =============================================================
red    binding targets             seriously lagging (严重滞后) or missed (未完成)
red    binding targets             forecast to miss: the probability of meeting the target at the
                                   deadline is below 50 %
yellow every target                lagging (滞后)
yellow expected targets            seriously lagging or missed
yellow expected targets            forecast to miss (probability below 50 %)
=====  ==========================  =============================================================

An achieved target raises no warning, whatever its forecast. Rules are data: pass your own list to
the functions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planwatch.evaluation.progress import Status
from planwatch.models.enums import LabelledEnum, Nature


class WarningLevel(LabelledEnum):
    red = "red", "红色预警"
    yellow = "yellow", "黄色预警"

    @property
    def rank(self) -> int:
        return 2 if self is WarningLevel.red else 1


@dataclass(frozen=True)
class WarningRule:
    """One early-warning rule: a level and the condition that raises it."""

    code: str
    level: WarningLevel
    zh: str
    en: str
    natures: frozenset[Nature] = frozenset(Nature)
    statuses: frozenset[Status] = frozenset()
    """The rule matches these statuses (empty: any status not achieved)."""
    probability_below: float | None = None
    """Also requires a forecast whose probability of meeting the target is below this."""

    def matches(self, *, nature: Nature, status: Status, probability: float | None) -> bool:
        if status in {Status.achieved, Status.not_evaluable} or nature not in self.natures:
            return False
        if self.statuses and status not in self.statuses:
            return False
        if self.probability_below is not None:
            return probability is not None and probability < self.probability_below
        return True


_SERIOUS = frozenset({Status.seriously_lagging, Status.missed})

DEFAULT_RULES: tuple[WarningRule, ...] = (
    WarningRule(
        "binding_serious",
        WarningLevel.red,
        "约束性指标严重滞后或未完成",
        "binding target seriously lagging or missed",
        natures=frozenset({Nature.binding}),
        statuses=_SERIOUS,
    ),
    WarningRule(
        "binding_forecast_miss",
        WarningLevel.red,
        "约束性指标预测到期难以完成(完成概率低于50%)",
        "binding target forecast to miss (probability of meeting it below 50 %)",
        natures=frozenset({Nature.binding}),
        probability_below=0.5,
    ),
    WarningRule("lagging", WarningLevel.yellow, "进度滞后", "lagging", statuses=frozenset({Status.lagging})),
    WarningRule(
        "expected_serious",
        WarningLevel.yellow,
        "预期性指标严重滞后或未完成",
        "expected target seriously lagging or missed",
        natures=frozenset({Nature.expected}),
        statuses=_SERIOUS,
    ),
    WarningRule(
        "expected_forecast_miss",
        WarningLevel.yellow,
        "预期性指标预测到期难以完成(完成概率低于50%)",
        "expected target forecast to miss (probability of meeting it below 50 %)",
        natures=frozenset({Nature.expected}),
        probability_below=0.5,
    ),
)


def matching_rules(
    *,
    nature: Nature,
    status: Status,
    probability: float | None,
    rules: Sequence[WarningRule] = DEFAULT_RULES,
) -> list[WarningRule]:
    """The rules a target matches, the highest level first (stable within a level)."""
    found = [r for r in rules if r.matches(nature=nature, status=status, probability=probability)]
    return sorted(found, key=lambda r: -r.level.rank)


def highest(rules: Iterable[WarningRule]) -> WarningLevel | None:
    """The highest level among ``rules``, or None when there are none."""
    levels = [r.level for r in rules]
    return max(levels, key=lambda level: level.rank) if levels else None
