"""Roll-ups over divisions: ratio indicators as Σnumerator/Σdenominator, never a mean of percentages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwatch.evaluation.rollup import aggregate, share_meeting


def test_ratio_rolls_up_from_numerators_and_denominators() -> None:
    # a small street at 100 % and a big one at 10 %: the city is at about 10.9 %, not 55 %
    value = aggregate("ratio", [100, 10], numerators=[10, 1000], denominators=[10, 10000], factor=100)
    assert value == pytest.approx(1010 / 10010 * 100)
    assert value != pytest.approx((100 + 10) / 2)


def test_ratio_skips_units_without_numerator_or_denominator() -> None:
    value = aggregate("ratio", [50, 0], numerators=[5, math.nan], denominators=[10, 20], factor=100)
    assert value == pytest.approx(50)


def test_ratio_with_no_denominator_is_nan() -> None:
    assert math.isnan(aggregate("ratio", [], numerators=[], denominators=[], factor=100))


@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(1, 10_000)).filter(lambda nd: nd[0] <= nd[1]),
        min_size=1,
        max_size=30,
    )
)
def test_ratio_is_invariant_to_how_units_are_split(pairs: list[tuple[int, int]]) -> None:
    nums = [n for n, _ in pairs]
    dens = [d for _, d in pairs]
    split = aggregate("ratio", [0] * len(pairs), numerators=nums, denominators=dens, factor=100)
    whole = aggregate("ratio", [0], numerators=[sum(nums)], denominators=[sum(dens)], factor=100)
    assert split == pytest.approx(whole)


def test_sum_min_max_ignore_missing_values() -> None:
    values = [3, math.nan, 5]
    assert aggregate("sum", values) == 8
    assert aggregate("min", values) == 3
    assert aggregate("max", values) == 5


def test_weighted_mean_weights_by_population() -> None:
    assert aggregate("weighted_mean", [10, 20], weights=[3, 1]) == pytest.approx(12.5)


def test_count_meeting_counts_units_meeting_the_condition() -> None:
    assert aggregate("count_meeting", [0, 1, 2, math.nan], comparator=">=", threshold=1) == 2


def test_all_missing_is_nan() -> None:
    assert math.isnan(aggregate("sum", [math.nan, math.nan]))


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate("median", [1.0])


def test_share_meeting_counts_missing_units_as_not_meeting() -> None:
    assert share_meeting([1, 0, math.nan, 2], ">=", 1) == 0.5
