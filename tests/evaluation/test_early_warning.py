"""Early-warning rules (pure): which rule matches which nature, status and forecast."""

from __future__ import annotations

import pytest

from planwatch.evaluation.early_warning import (
    DEFAULT_RULES,
    WarningLevel,
    WarningRule,
    highest,
    matching_rules,
)
from planwatch.evaluation.progress import Status
from planwatch.models.enums import Nature


def codes(nature: Nature, status: Status, probability: float | None = None) -> list[str]:
    return [r.code for r in matching_rules(nature=nature, status=status, probability=probability)]


def test_binding_seriously_lagging_is_red() -> None:
    assert codes(Nature.binding, Status.seriously_lagging) == ["binding_serious"]
    assert (
        highest(matching_rules(nature=Nature.binding, status=Status.missed, probability=None))
        is WarningLevel.red
    )


def test_binding_forecast_to_miss_is_red_even_when_on_track() -> None:
    assert codes(Nature.binding, Status.on_track, 0.3) == ["binding_forecast_miss"]
    assert codes(Nature.binding, Status.on_track, 0.7) == []


def test_expected_target_lagging_is_yellow_and_red_comes_first() -> None:
    assert codes(Nature.expected, Status.lagging) == ["lagging"]
    assert codes(Nature.expected, Status.seriously_lagging, 0.1) == [
        "expected_serious",
        "expected_forecast_miss",
    ]
    assert codes(Nature.binding, Status.lagging, 0.1) == ["binding_forecast_miss", "lagging"]


@pytest.mark.parametrize("status", [Status.achieved, Status.not_evaluable])
def test_achieved_and_not_evaluable_never_warn(status: Status) -> None:
    assert codes(Nature.binding, status, 0.0) == []


def test_no_forecast_means_no_forecast_rule() -> None:
    assert codes(Nature.binding, Status.ahead, None) == []


def test_rules_are_data() -> None:
    strict = WarningRule(
        "any_lag", WarningLevel.red, "任何滞后", "any lag", statuses=frozenset({Status.lagging})
    )
    found = matching_rules(nature=Nature.expected, status=Status.lagging, probability=None, rules=[strict])
    assert [r.code for r in found] == ["any_lag"]
    assert highest([]) is None
    assert {r.level for r in DEFAULT_RULES} == {WarningLevel.red, WarningLevel.yellow}
