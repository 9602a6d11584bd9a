"""Many indicators at every division at once (evaluation/frame.py): the same numbers as the scalar
roll-up and the per-target evaluation, computed by hand on a tiny tree, checked against
``rollup.aggregate`` on random trees and against ``evaluate_plan`` on the Chengdu demo."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree, population_by_division
from planwatch.divisions.tree import DivisionTree, Node
from planwatch.evaluation.data import PUBLIC, Audience
from planwatch.evaluation.frame import (
    ROLLED_COLUMNS,
    indicator_specs,
    rollup_frame,
    status_frame,
    status_rank,
    tree_series,
)
from planwatch.evaluation.progress import Status
from planwatch.evaluation.rollup import aggregate
from planwatch.evaluation.service import evaluate_plan, get_plan
from planwatch.evaluation.values_io import VALUE_COLUMNS, load_values
from planwatch.models import DataValue, Division, Indicator, Plan, Target
from planwatch.models.enums import Direction, DivisionLevel, TargetKind, ValueSource, ValueStatus
from planwatch.plans.service import load_plan_file
from tests.conftest import FIXTURES

# the tiny tree: city 1 → districts 10, 20 → streets 101, 102 (in 10) and 201, 202 (in 20)
PARENT: dict[int, int | None] = {1: None, 10: 1, 20: 1, 101: 10, 102: 10, 201: 20, 202: 20}
LEVEL = {1: 0, 10: 1, 20: 1, 101: 2, 102: 2, 201: 2, 202: 2}
POPULATION = {101: 100, 102: 300, 201: 200, 202: 400}
STREETS = (101, 102, 201, 202)
NAN = math.nan


def values_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A values frame like load_values gives, from dicts (missing parts are NaN / False)."""
    records = [
        {
            "indicator_id": r.get("indicator_id", 1),
            "division_id": r["division_id"],
            "period": str(r.get("year", 2020)),
            "year": r.get("year", 2020),
            "value": r.get("value", NAN),
            "numerator": r.get("numerator", NAN),
            "denominator": r.get("denominator", NAN),
            "simulated": r.get("simulated", False),
        }
        for r in rows
    ]
    return pd.DataFrame(records, columns=list(VALUE_COLUMNS)).astype(
        {"value": float, "numerator": float, "denominator": float, "simulated": bool}
    )


def spec(
    method: str,
    levels: list[int] | list[str] = [2],  # noqa: B006 - never mutated
    *,
    indicator_id: int = 1,
    factor: float = 1.0,
    comparator: str | None = None,
    threshold: float = NAN,
) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "indicator_id": indicator_id,
                "aggregation": method,
                "factor": factor,
                "condition_comparator": comparator,
                "condition_threshold": threshold,
                "levels": levels,
            }
        ]
    ).set_index("indicator_id")


def roll(
    values: pd.DataFrame,
    specs: pd.DataFrame,
    *,
    parent: Mapping[int, int | None] = PARENT,
    level: Mapping[int, int] = LEVEL,
    population: Mapping[int, float] = POPULATION,
) -> pd.DataFrame:
    return rollup_frame(values, parent=parent, level=level, specs=specs, population=population)


def at(rolled: pd.DataFrame, division: int, year: int = 2020, indicator: int = 1) -> pd.Series:
    found = rolled[
        (rolled["indicator_id"] == indicator) & (rolled["division_id"] == division) & (rolled["year"] == year)
    ]
    assert len(found) == 1, f"{len(found)} rows for division {division} in {year}"
    return found.iloc[0]


def streets(values: Mapping[int, float] | None = None, **parts: Mapping[int, float]) -> pd.DataFrame:
    """One 2020 row per street: ``values`` and any of ``numerator=…``, ``denominator=…`` by street."""
    rows = []
    for street in STREETS:
        row: dict[str, Any] = {"division_id": street}
        if values is not None and street in values:
            row["value"] = values[street]
        for name, by_street in parts.items():
            if street in by_street:
                row[name] = by_street[street]
        rows.append(row)
    return values_frame(rows)


# ---------------------------------------------------------------------------------------------
# every aggregation by hand on the tiny tree


def test_sum_skips_missing_values_and_counts_every_row_as_reported() -> None:
    rolled = roll(streets({101: 1, 102: 2, 201: 3, 202: NAN}), spec("sum"))
    assert at(rolled, 10)["value"] == 3
    assert at(rolled, 20)["value"] == 3
    city = at(rolled, 1)
    assert city["value"] == 6
    assert (city["rolled_from"], city["units_reported"], city["units_expected"]) == (2, 4, 4)
    # the streets keep their own values; the one without a value has no row
    assert at(rolled, 101)["value"] == 1
    assert pd.isna(at(rolled, 101)["rolled_from"])
    assert len(rolled[rolled["division_id"] == 202]) == 0
    assert list(rolled.columns) == list(ROLLED_COLUMNS)


def test_ratio_is_the_ratio_of_sums_never_a_mean_of_percentages() -> None:
    values = streets(
        {101: 40, 102: 10 / 3, 201: NAN, 202: 30},
        numerator={101: 40, 102: 10, 201: NAN, 202: 30},
        denominator={101: 100, 102: 300, 201: 50, 202: 100},
    )
    rolled = roll(values, spec("ratio", factor=100))
    assert at(rolled, 10)["value"] == pytest.approx(50 / 400 * 100)  # not (40 + 3.3) / 2
    assert at(rolled, 20)["value"] == pytest.approx(30)  # 201 has no numerator: skipped
    assert at(rolled, 1)["value"] == pytest.approx(80 / 500 * 100)
    assert at(rolled, 20)["units_reported"] == 2  # 201 reported, if only half of it


def test_ratio_without_a_usable_unit_or_with_denominators_summing_to_zero_is_nan() -> None:
    values = streets(
        numerator={101: NAN, 102: 5, 201: 1, 202: 2}, denominator={101: 10, 102: NAN, 201: 0, 202: 0}
    )
    rolled = roll(values, spec("ratio", factor=100))
    assert math.isnan(at(rolled, 10)["value"])
    assert math.isnan(at(rolled, 20)["value"])
    assert at(rolled, 10)["units_reported"] == 2


def test_weighted_mean_weighs_by_population_and_skips_units_without_one() -> None:
    values = values_frame(
        [{"division_id": s, "value": v} for s, v in ((101, 10), (102, 20), (201, 30), (202, 40))]
    )
    rolled = roll(values, spec("weighted_mean"), population={**POPULATION, 202: NAN})
    assert at(rolled, 10)["value"] == pytest.approx((10 * 100 + 20 * 300) / 400)
    assert at(rolled, 20)["value"] == pytest.approx(30)  # 202 has no population
    assert at(rolled, 1)["value"] == pytest.approx((1000 + 6000 + 6000) / 600)
    rolled = roll(values, spec("weighted_mean"))
    assert at(rolled, 1)["value"] == pytest.approx((1000 + 6000 + 6000 + 16000) / 1000)


def test_min_and_max_skip_missing_values() -> None:
    values = streets({101: 5, 102: NAN, 201: 7, 202: 3})
    low, high = roll(values, spec("min")), roll(values, spec("max"))
    assert (at(low, 10)["value"], at(low, 20)["value"], at(low, 1)["value"]) == (5, 3, 3)
    assert (at(high, 10)["value"], at(high, 20)["value"], at(high, 1)["value"]) == (5, 7, 7)


def test_count_meeting_counts_units_meeting_the_condition() -> None:
    values = streets({101: 0, 102: 1, 201: 2, 202: NAN})
    rolled = roll(values, spec("count_meeting", comparator=">=", threshold=1))
    assert (at(rolled, 10)["value"], at(rolled, 20)["value"], at(rolled, 1)["value"]) == (1, 1, 2)
    approx = roll(
        streets({101: 0.99, 102: 1.05, 201: 1.0}), spec("count_meeting", comparator="~", threshold=1)
    )
    assert at(approx, 1)["value"] == 2  # within 2 %


def test_all_values_missing_gives_nan_for_every_method() -> None:
    values = streets({101: NAN})
    for method, extra in (
        ("sum", {}),
        ("min", {}),
        ("max", {}),
        ("weighted_mean", {}),
        ("count_meeting", {"comparator": ">=", "threshold": 1.0}),
    ):
        rolled = roll(values, spec(method, **extra))  # type: ignore[arg-type]
        assert math.isnan(at(rolled, 1)["value"]), method
        assert at(rolled, 1)["units_reported"] == 4


def test_a_value_reported_for_a_division_itself_wins() -> None:
    values = pd.concat(
        [streets({101: 1, 102: 2, 201: 3, 202: 4}), values_frame([{"division_id": 10, "value": 99}])]
    )
    rolled = roll(values, spec("sum"))  # reported at street level only
    assert at(rolled, 10)["value"] == 99
    assert pd.isna(at(rolled, 10)["units_reported"])
    assert at(rolled, 1)["value"] == 10  # the city still rolls up from the streets
    # reported at district level too: the city rolls up from the nearest level that has rows, and
    # says that only one of its two districts reported
    rolled = roll(values, spec("sum", [1, 2]))
    city = at(rolled, 1)
    assert (city["value"], city["rolled_from"], city["units_reported"], city["units_expected"]) == (
        99,
        1,
        1,
        2,
    )
    assert at(rolled, 20)["value"] == 7


def test_a_missing_own_value_falls_back_to_the_roll_up() -> None:
    values = pd.concat([streets({101: 1, 102: 2}), values_frame([{"division_id": 10, "value": NAN}])])
    rolled = roll(values, spec("sum"))
    assert at(rolled, 10)["value"] == 3
    assert at(rolled, 10)["rolled_from"] == 2


def test_levels_by_name_years_apart_and_simulated_values() -> None:
    values = values_frame(
        [
            {"division_id": 101, "year": 2020, "value": 1},
            {"division_id": 102, "year": 2020, "value": 2, "simulated": True},
            {"division_id": 201, "year": 2023, "value": 5},
        ]
    )
    rolled = roll(values, spec("sum", ["street"]))
    assert at(rolled, 10, 2020)["simulated"]
    assert not at(rolled, 20, 2023)["simulated"]
    assert at(rolled, 1, 2023)["value"] == 5
    assert at(rolled, 1, 2023)["units_reported"] == 1
    assert len(rolled[(rolled["division_id"] == 20) & (rolled["year"] == 2020)]) == 0


def test_rows_outside_the_tree_take_no_part_and_unknown_indicators_are_refused() -> None:
    values = pd.concat([streets({101: 1}), values_frame([{"division_id": 999, "value": 5}])])
    rolled = roll(values, spec("sum"))
    assert at(rolled, 1)["value"] == 1
    assert 999 not in set(rolled["division_id"])
    with pytest.raises(ValueError, match="no spec for indicator"):
        roll(values_frame([{"division_id": 101, "value": 1, "indicator_id": 7}]), spec("sum"))
    with pytest.raises(ValueError, match="unknown aggregation"):
        roll(streets({101: 1}), spec("median"))


def test_empty_values_give_an_empty_frame() -> None:
    rolled = roll(values_frame([]), spec("sum"))
    assert rolled.empty
    assert list(rolled.columns) == list(ROLLED_COLUMNS)


# ---------------------------------------------------------------------------------------------
# the same numbers as the scalar roll-up, on random trees


def random_tree(rng: random.Random) -> tuple[dict[int, int | None], dict[int, int]]:
    """city → 2-3 districts → 1-4 streets each → 0-4 communities each."""
    parent: dict[int, int | None] = {1: None}
    level = {1: 0}
    next_id = 2
    for _ in range(rng.randint(2, 3)):
        district = next_id
        next_id += 1
        parent[district], level[district] = 1, 1
        for _ in range(rng.randint(1, 4)):
            street = next_id
            next_id += 1
            parent[street], level[street] = district, 2
            for _ in range(rng.randint(0, 4)):
                parent[next_id], level[next_id] = street, 3
                next_id += 1
    return parent, level


METHOD_SPECS: list[tuple[str, dict[str, Any]]] = [
    ("sum", {}),
    ("ratio", {"factor": 100.0}),
    ("weighted_mean", {}),
    ("min", {}),
    ("max", {}),
    ("count_meeting", {"comparator": ">=", "threshold": 50.0}),
    ("count_meeting", {"comparator": "<", "threshold": 30.0}),
]


def random_case(
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, int | None], dict[int, int], dict[int, float]]:
    rng = random.Random(seed)
    parent, level = random_tree(rng)
    population = {d: float(rng.randint(0, 5000)) for d in level if rng.random() < 0.9}
    spec_rows = []
    rows = []
    for indicator, (method, extra) in enumerate(METHOD_SPECS, start=1):
        levels = sorted(rng.sample([1, 2, 3], rng.randint(1, 3)))
        spec_rows.append(
            {
                "indicator_id": indicator,
                "aggregation": method,
                "factor": extra.get("factor", 1.0),
                "condition_comparator": extra.get("comparator"),
                "condition_threshold": extra.get("threshold", NAN),
                "levels": levels,
            }
        )
        for division, depth in level.items():
            for year in (2020, 2021, 2022):
                chance = 0.05 if depth not in levels else 0.7
                if rng.random() > chance:
                    continue
                value = NAN if rng.random() < 0.15 else float(rng.randint(0, 100))
                num = NAN if rng.random() < 0.1 else float(rng.randint(0, 50))
                den = NAN if rng.random() < 0.1 else float(rng.choice([0, rng.randint(1, 100)]))
                rows.append(
                    {
                        "indicator_id": indicator,
                        "division_id": division,
                        "year": year,
                        "value": value,
                        "numerator": num,
                        "denominator": den,
                        "simulated": rng.random() < 0.1,
                    }
                )
    specs = pd.DataFrame(spec_rows).set_index("indicator_id")
    return values_frame(rows), specs, parent, level, population


def scalar_rollup(
    values: pd.DataFrame,
    specs: pd.DataFrame,
    parent: Mapping[int, int | None],
    level: Mapping[int, int],
    population: Mapping[int, float],
) -> dict[tuple[int, int, int], tuple[float, int | None, int | None, bool]]:
    """The per-division loop of the per-target evaluation (``data.scope_series``) with the scalar
    ``aggregate``: (indicator, division, year) → (value, units reported, units expected, simulated)."""
    levels = list(DivisionLevel)
    tree = DivisionTree(Node(d, str(d), str(d), None, levels[depth], parent[d]) for d, depth in level.items())
    out: dict[tuple[int, int, int], tuple[float, int | None, int | None, bool]] = {}
    rows = {(r.indicator_id, r.division_id, r.year): r for r in values.itertuples()}
    for indicator, s in specs.iterrows():
        for year in sorted(set(values["year"])):
            for division in level:
                own = rows.get((indicator, division, year))
                if own is not None and not math.isnan(own.value):
                    out[(indicator, division, year)] = (own.value, None, None, bool(own.simulated))
                    continue
                for depth in sorted(d for d in s["levels"] if d > level[division]):
                    units = tree.descendants(division, level=levels[depth])
                    found = [rows[(indicator, u.id, year)] for u in units if (indicator, u.id, year) in rows]
                    if not found:
                        continue
                    value = aggregate(
                        s["aggregation"],
                        [r.value for r in found],
                        numerators=[r.numerator for r in found],
                        denominators=[r.denominator for r in found],
                        factor=s["factor"],
                        weights=[population.get(r.division_id, NAN) for r in found],
                        comparator=s["condition_comparator"],
                        threshold=s["condition_threshold"],
                    )
                    out[(indicator, division, year)] = (
                        value,
                        len(found),
                        len(units),
                        any(r.simulated for r in found),
                    )
                    break
    return out


@pytest.mark.parametrize("seed", range(12))
def test_equals_the_scalar_roll_up_on_random_trees(seed: int) -> None:
    values, specs, parent, level, population = random_case(seed)
    rolled = rollup_frame(values, parent=parent, level=level, specs=specs, population=population)
    expected = scalar_rollup(values, specs, parent, level, population)
    got = {
        (r.indicator_id, r.division_id, r.year): (
            r.value,
            None if pd.isna(r.units_reported) else int(r.units_reported),
            None if pd.isna(r.units_expected) else int(r.units_expected),
            bool(r.simulated),
        )
        for r in rolled.itertuples()
    }
    assert len(got) == len(rolled)  # one row per (indicator, division, year)
    assert got.keys() == expected.keys()
    for key, (value, reported, units, simulated) in expected.items():
        mine = got[key]
        assert (mine[1], mine[2], mine[3]) == (reported, units, simulated), key
        assert mine[0] == pytest.approx(value, rel=1e-12, nan_ok=True), key


# ---------------------------------------------------------------------------------------------
# properties


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 10_000)), min_size=4, max_size=4))
def test_ratio_at_the_root_is_the_ratio_of_the_sums_of_the_leaves(pairs: list[tuple[int, int]]) -> None:
    nums = dict(zip(STREETS, (float(n) for n, _ in pairs), strict=True))
    dens = dict(zip(STREETS, (float(d) for _, d in pairs), strict=True))
    rolled = roll(streets(numerator=nums, denominator=dens), spec("ratio", factor=100))
    assert at(rolled, 1)["value"] == pytest.approx(sum(nums.values()) / sum(dens.values()) * 100, rel=1e-12)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([m for m, _ in METHOD_SPECS]), st.integers(1, 3))
def test_a_division_without_data_changes_only_the_units_expected(seed: int, method: str, depth: int) -> None:
    values, specs, parent, level, population = random_case(seed)
    before = rollup_frame(values, parent=parent, level=level, specs=specs, population=population)
    under = random.Random(seed).choice([d for d, x in level.items() if x == depth - 1])
    new = max(level) + 1
    after = rollup_frame(
        values,
        parent={**parent, new: under},
        level={**level, new: depth},
        specs=specs,
        population={**population, new: 1000.0},
    )
    key = ["indicator_id", "division_id", "year"]
    merged = before.merge(after, on=key, how="outer", suffixes=("", "_after"), indicator=True)
    assert (merged["_merge"] == "both").all()
    for name in ("value", "simulated", "rolled_from", "units_reported"):
        pd.testing.assert_series_equal(merged[name], merged[f"{name}_after"], check_names=False)
    grew = merged["units_expected_after"].fillna(0) - merged["units_expected"].fillna(0)
    assert set(grew.unique()) <= {0, 1}
    ancestors = set()
    node: int | None = under
    while node is not None:
        ancestors.add(node)
        node = parent[node]
    assert set(merged.loc[grew == 1, "division_id"]) <= ancestors
    assert ((grew == 1) == (merged["division_id"].isin(ancestors) & (merged["rolled_from"] == depth))).all()


@settings(deadline=None)
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_permuting_the_rows_changes_nothing(seed: int, shuffle: random.Random) -> None:
    values, specs, parent, level, population = random_case(seed)
    order = list(range(len(values)))
    shuffle.shuffle(order)
    key = ["indicator_id", "division_id", "year"]
    results = [
        rollup_frame(frame, parent=parent, level=level, specs=specs, population=population)
        .sort_values(key)
        .reset_index(drop=True)
        for frame in (values, values.iloc[order])
    ]
    pd.testing.assert_frame_equal(results[0], results[1], rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# status


def level_target(**overrides: Any) -> pd.DataFrame:
    row: dict[str, Any] = {
        "indicator_id": 1,
        "division_id": 1,
        "baseline_year": 2020,
        "deadline_year": 2025,
        "comparator": ">",
        "value": 60.0,
        "higher_is_better": True,
        "year": 2023,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def city_values(by_year: Mapping[int, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indicator_id": 1,
            "division_id": 1,
            "year": list(by_year),
            "value": [float(v) for v in by_year.values()],
        }
    )


def test_status_of_the_worked_example() -> None:
    # docs/evaluation.md: 12.5 % in 2020, 37.5 % in 2023, > 60 % by 2025 → lagging
    values = streets(
        {101: 40, 102: 10 / 3},
        numerator={101: 40, 102: 10},
        denominator={101: 100, 102: 300},
    )
    later = streets(numerator={101: 90, 102: 60}, denominator={101: 100, 102: 300}).assign(year=2023)
    rolled = roll(pd.concat([values, later]), spec("ratio", factor=100))
    [result] = status_frame(rolled, level_target(division_id=10)).itertuples()
    assert result.baseline == pytest.approx(12.5)
    assert result.actual == pytest.approx(37.5)
    assert result.tau == pytest.approx(0.6)
    assert result.pi == pytest.approx(25 / 47.5)
    assert result.ratio == pytest.approx(25 / 47.5 / 0.6)
    assert result.status == Status.lagging
    assert (result.data_year, result.units_reported, result.units_expected) == (2023, 2, 2)


@pytest.mark.parametrize(
    ("series", "overrides", "status"),
    [
        ({2020: 25, 2023: 61}, {}, Status.achieved),
        ({2020: 25, 2023: 46}, {}, Status.on_track),
        ({2020: 25, 2023: 30}, {}, Status.seriously_lagging),
        ({2020: 25, 2022: 50}, {}, Status.ahead),  # 2023 has no value: judged on 2022
        ({2020: 25, 2025: 59}, {"year": 2025}, Status.missed),
        ({2023: 61}, {}, Status.not_evaluable),  # no baseline before the deadline
        ({2025: 61}, {"year": 2025}, Status.achieved),  # no baseline: judged on the value alone
        ({2025: 59}, {"year": 2025}, Status.missed),
        ({2023: 61}, {"baseline_value": 25.0}, Status.achieved),
        ({2020: 25}, {}, Status.not_evaluable),  # nothing after the base year
        ({2020: 25, 2023: 61}, {"year": 2020}, Status.not_evaluable),
        ({2020: 25, 2023: 61}, {"comparator": "increase"}, Status.not_evaluable),
        (
            {2020: 25, 2023: 61},
            {"comparator": "increase", "range_low": 55.0, "range_high": 65.0},
            Status.achieved,
        ),
        ({2020: 50, 2023: 60.5}, {"comparator": "~"}, Status.achieved),  # within 2 % of 60
        ({2020: 80, 2023: 70}, {"comparator": "="}, Status.lagging),  # band: π = 0.5 at τ = 0.6
        ({2020: 25, 2023: 61, 2024: 10}, {"deadline_year": 2023, "year": 2024}, Status.achieved),
    ],
)
def test_status_rules(series: dict[int, float], overrides: dict[str, Any], status: Status) -> None:
    [result] = status_frame(city_values(series), level_target(**overrides)).itertuples()
    assert result.status == status


def test_a_target_without_a_division_is_judged_wherever_its_indicator_has_values() -> None:
    values = pd.concat(
        [
            streets({101: 25, 102: 25, 201: 25, 202: 25}),
            streets({101: 61, 102: 46, 201: 30}).assign(year=2023),
        ]
    )
    rolled = roll(values, spec("max"))
    result = status_frame(rolled, level_target().drop(columns=["division_id"]))
    by_division = dict(zip(result["division_id"], result["status"], strict=True))
    assert by_division == {
        1: "achieved",
        10: "achieved",
        20: "seriously_lagging",
        101: "achieved",
        102: "on_track",
        201: "seriously_lagging",
        202: "not_evaluable",
    }
    assert (result["target"] == 0).all()


@settings(deadline=None)
@given(
    baseline=st.floats(0, 100),
    gap=st.floats(0.5, 100),
    low=st.floats(-50, 200),
    high=st.floats(-50, 200),
    year=st.integers(2021, 2024),
    higher=st.booleans(),
)
def test_status_is_monotone_in_the_actual_value(
    baseline: float, gap: float, low: float, high: float, year: int, higher: bool
) -> None:
    low, high = min(low, high), max(low, high)
    sign = 1 if higher else -1
    goal = baseline + sign * gap
    targets = pd.concat(
        [level_target(value=goal, comparator=">=" if higher else "<=", higher_is_better=higher, year=year)]
        * 2,
        ignore_index=True,
    ).assign(division_id=[1, 2])
    better = [low, high] if higher else [high, low]  # division 2 is the better one
    rolled = pd.DataFrame(
        {
            "indicator_id": 1,
            "division_id": [1, 2, 1, 2],
            "year": [2020, 2020, year, year],
            "value": [baseline, baseline, *better],
        }
    )
    result = status_frame(rolled, targets)
    worse_rank, better_rank = status_rank(result["status"])
    assert worse_rank >= 0
    assert better_rank >= worse_rank


# ---------------------------------------------------------------------------------------------
# the database


@pytest.fixture
def mini_plan(session: Session) -> Plan:
    load_plan_file(session, FIXTURES / "mini_plan.yaml")
    plan = session.scalar(select(Plan).where(Plan.code == "TEST-PLAN"))
    assert plan is not None
    return plan


def test_load_values_reads_annual_visible_values(session: Session, mini_plan: Plan) -> None:
    indicator = session.scalar(select(Indicator).where(Indicator.code == "test_beds_share"))
    assert indicator is not None
    first, second = session.scalars(
        select(Division).where(Division.level == DivisionLevel.district).order_by(Division.code).limit(2)
    )

    def put(division: Division, period: str, status: ValueStatus, **extra: Any) -> None:
        session.add(
            DataValue(
                indicator_id=indicator.id,
                division_id=division.id,
                period=period,
                year=int(period[:4]),
                source=extra.pop("source", ValueSource.reported),
                status=status,
                recorded_by="test",
                **extra,
            )
        )

    put(first, "2021", ValueStatus.approved, value=40.0, numerator=40.0, denominator=100.0)
    put(first, "2022", ValueStatus.locked, value=None, numerator=5.0, denominator=None)
    put(first, "2022-05", ValueStatus.approved, value=7.0)  # monthly
    put(first, "2023", ValueStatus.approved, value=1.0, deleted=True)
    put(second, "2021", ValueStatus.draft, value=10.0, source=ValueSource.simulated)

    values = load_values(session, [indicator.id])  # pending rows are flushed first
    assert list(values.columns) == list(VALUE_COLUMNS)
    assert values.dtypes["indicator_id"] == np.int64
    assert values.dtypes["simulated"] == np.bool_
    got = values.sort_values(["division_id", "year"]).reset_index(drop=True)
    assert got[["division_id", "period", "year"]].astype(str).values.tolist() == [
        [str(first.id), "2021", "2021"],
        [str(first.id), "2022", "2022"],
        [str(second.id), "2021", "2021"],
    ]
    assert got["value"].tolist()[0] == 40.0
    assert math.isnan(got["value"][1])
    assert (got["numerator"][1], math.isnan(got["denominator"][1])) == (5.0, True)
    assert got["simulated"].tolist() == [False, False, True]
    assert got["indicator_id"].unique().tolist() == [indicator.id]

    public = load_values(session, [indicator.id], audience=PUBLIC)
    assert sorted(public["division_id"].tolist()) == [first.id, first.id]  # the draft is hidden
    theirs = load_values(session, [indicator.id], audience=Audience(unapproved_in=frozenset({second.id})))
    assert len(theirs) == 3
    monthly = load_values(session, [indicator.id], annual_only=False)
    assert sorted(monthly["period"].astype(str)) == ["2021", "2021", "2022", "2022-05"]
    assert load_values(session, []).empty
    assert load_values(session, [indicator.id + 10_000]).empty


def test_frames_agree_with_evaluate_plan_on_the_demo(session: Session) -> None:
    """Every level target of the Chengdu demo: the same status and numbers as the per-target evaluation."""
    year = 2023
    plan = get_plan(session)
    per_target = {t.target_id: t for t in evaluate_plan(session, plan, year).targets}
    targets = [
        t
        for t in session.scalars(select(Target).where(Target.plan_id == plan.id))
        if t.kind is TargetKind.level and not t.incomplete
    ]
    assert len(targets) >= 5
    indicators = {t.indicator_id: t.indicator for t in targets}
    parent, level = tree_series(division_tree(session))
    population = {k: v[0] for k, v in population_by_division(session, year).items()}
    rolled = rollup_frame(
        load_values(session, indicators),
        parent=parent,
        level=level,
        specs=indicator_specs(indicators.values()),
        population=population,
    )
    frame = pd.DataFrame(
        {
            "indicator_id": [t.indicator_id for t in targets],
            "division_id": [t.scope_division_id for t in targets],
            "baseline_year": [t.baseline_year for t in targets],
            "deadline_year": [t.deadline_year for t in targets],
            "comparator": [t.comparator.value for t in targets],
            "value": [t.value for t in targets],
            "higher_is_better": [t.indicator.direction is Direction.higher_better for t in targets],
            "year": year,
            "baseline_value": [t.baseline_value for t in targets],
            "range_low": [t.range_low for t in targets],
            "range_high": [t.range_high for t in targets],
        },
        index=[t.id for t in targets],
    )
    result = status_frame(rolled, frame).set_index("target")
    statuses = set()
    for target in targets:
        mine, theirs = result.loc[target.id], per_target[target.id]
        statuses.add(theirs.status)
        assert mine["status"] == theirs.status.value, target.code
        for name in ("actual", "baseline", "tau", "pi"):
            value = getattr(theirs, name)
            if value is not None:
                assert mine[name] == pytest.approx(value, nan_ok=True), (target.code, name)
        if theirs.data_year is not None:
            assert mine["data_year"] == theirs.data_year, target.code
        if theirs.units_reported is not None:
            assert (mine["units_reported"], mine["units_expected"]) == (
                theirs.units_reported,
                theirs.units_expected,
            ), target.code
    assert len(statuses) >= 2  # the demo's level targets are not all alike
