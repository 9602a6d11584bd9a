"""The outlier check: modified z-scores against a division's history and its siblings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planwatch.ingest.outliers import THRESHOLD, modified_z, outliers, outliers_many

# --- examples ------------------------------------------------------------------------------------


def test_a_district_reporting_ten_times_its_siblings_is_flagged() -> None:
    siblings = [412, 388, 405, 397, 420, 379]
    history = [3900, 3950, 4020, 4080]  # the district itself has been this large for years
    found = outliers(4000, history=history, siblings=siblings)
    # siblings: median 401, deviations 4 4 11 13 19 22, MAD 12
    assert [(o.basis, o.value, o.median, o.n) for o in found] == [("siblings", 4000, 401, 6)]
    assert found[0].z == pytest.approx(0.6745 * 3599 / 12)


def test_a_steady_history_is_not_flagged() -> None:
    assert outliers(401, history=[398, 402, 400, 405, 397], siblings=[380, 410, 395, 420]) == []


def test_a_jump_in_a_districts_own_history_is_flagged() -> None:
    found = outliers(4100, history=[402, 398, 410, 405], siblings=[3900, 4000, 4200, 4150])
    assert [o.basis for o in found] == ["history"]
    assert found[0].median == 403.5
    assert found[0].n == 4


def test_the_score_worked_by_hand() -> None:
    # median 3, deviations 2 1 0 1 2, MAD 1: z = 0.6745 * (10 - 3) / 1
    assert modified_z(10, [1, 2, 3, 4, 5]) == pytest.approx(0.6745 * 7)
    assert modified_z(-4, [1, 2, 3, 4, 5]) == pytest.approx(-0.6745 * 7)


def test_with_no_mad_the_mean_absolute_deviation_is_used() -> None:
    # median 0, MAD 0 (most values are 0), mean absolute deviation 10 / 5 = 2
    assert modified_z(5, [0, 0, 0, 0, 10]) == pytest.approx(5 / (1.253314 * 2))


def test_a_sample_with_no_spread_scores_zero_or_infinity() -> None:
    assert modified_z(100, [100, 100, 100, 100]) == 0.0
    assert modified_z(101, [100, 100, 100, 100]) == math.inf
    assert modified_z(99, [100, 100, 100, 100]) == -math.inf
    assert [o.basis for o in outliers(101, history=[100] * 5, siblings=[])] == ["history"]


def test_small_samples_and_missing_values_give_no_score() -> None:
    assert modified_z(10, [1, 2, 3]) is None
    assert modified_z(10, [1, 2, 3, math.nan]) is None
    assert modified_z(10, [1, 2, 3], min_n=3) == pytest.approx(0.6745 * 8)
    assert modified_z(math.nan, [1, 2, 3, 4]) is None
    assert outliers(10_000, history=[1, 2, 3], siblings=[]) == []


def test_the_threshold_is_strict() -> None:
    z = modified_z(10, [1, 2, 3, 4, 5])
    assert z is not None
    assert outliers(10, history=[1, 2, 3, 4, 5], siblings=[], threshold=z) == []
    assert len(outliers(10, history=[1, 2, 3, 4, 5], siblings=[], threshold=z * 0.999)) == 1


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="min_n must be 1 or more"):
        modified_z(1, [1], min_n=0)
    with pytest.raises(ValueError, match="threshold must be above 0"):
        outliers(1, history=[], siblings=[], threshold=0)
    with pytest.raises(ValueError, match="one label"):
        outliers_many(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="one label"):
        outliers_many(np.zeros(3), np.zeros((3, 2, 1)))


def test_outliers_many_scores_each_value_among_the_others_in_its_group() -> None:
    values = np.array([412, 388, 405, 397, 4000, 10, 11, 12, 13, 14, np.nan, 5])
    groups = np.array(["A"] * 5 + ["B"] * 5 + ["B", None], dtype=object)
    z = outliers_many(values, groups)
    assert z[4] == pytest.approx(modified_z(4000, [412, 388, 405, 397]))
    assert np.abs(z[:4]).max() < THRESHOLD
    assert z[5] == pytest.approx(modified_z(10, [11, 12, 13, 14]))
    assert np.isnan(z[10:]).all()  # a missing value, a value with no group


def test_outliers_many_takes_rows_of_labels() -> None:
    rng = np.random.default_rng(7)
    parents = rng.choice(["510104", "510105", "510106"], 300)
    periods = rng.choice([2023, 2024], 300)
    values = rng.normal(400, 20, 300)
    rows = np.array([parents, periods], dtype=object).T
    joined = np.array([f"{p}/{y}" for p, y in zip(parents, periods, strict=True)])
    np.testing.assert_array_equal(outliers_many(values, rows), outliers_many(values, joined))
    rows[0, 1] = None
    assert np.isnan(outliers_many(values, rows)[0])


def test_outliers_many_leaves_small_groups_unscored() -> None:
    z = outliers_many([1.0, 2.0, 3.0, 4.0, 50.0, 7.0], [1, 1, 1, 1, 1, 2])
    assert not np.isnan(z[:5]).any()
    assert np.isnan(z[5])
    assert np.isnan(outliers_many([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])).all()  # 3 others < 4
    assert outliers_many(np.array([]), np.array([])).shape == (0,)


def test_planted_outliers_are_found_among_many_groups() -> None:
    """Speed is measured in benchmarks/, not asserted here; this checks the batch at scale."""
    rng = np.random.default_rng(20240601)
    n = 200_000
    groups = rng.integers(0, 2_000, n)  # about 100 divisions under each parent
    values = rng.normal(400, 20, n)
    planted = rng.choice(n, 50, replace=False)
    values[planted] = 4000
    z = outliers_many(values, groups)
    flagged = set(np.flatnonzero(np.abs(z) > THRESHOLD).tolist())
    assert set(planted.tolist()) <= flagged


# --- properties ----------------------------------------------------------------------------------

# Integers keep the arithmetic exact enough that "equal to the median" survives a shift or a scale.
INTEGERS = st.integers(-1000, 1000).map(float)
SAMPLES = st.lists(INTEGERS, max_size=12)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@given(INTEGERS, SAMPLES, st.integers(-(10**6), 10**6), st.floats(1e-3, 1e3))
def test_the_score_ignores_units_and_origin(
    value: float, sample: list[float], shift: int, scale: float
) -> None:
    moved = modified_z((value + shift) * scale, [(x + shift) * scale for x in sample])
    assert _same(moved, modified_z(value, sample))


@given(INTEGERS, SAMPLES)
def test_negating_everything_negates_the_score(value: float, sample: list[float]) -> None:
    z = modified_z(value, sample)
    assert _same(modified_z(-value, [-x for x in sample]), None if z is None else -z)


@given(INTEGERS, SAMPLES)
def test_outliers_are_the_samples_beyond_the_threshold(value: float, sample: list[float]) -> None:
    z = modified_z(value, sample)
    flagged = outliers(value, history=sample, siblings=sample)
    assert len(flagged) == (0 if z is None or abs(z) <= THRESHOLD else 2)


BATCH_VALUES = st.one_of(INTEGERS, st.integers(-5, 5).map(lambda i: i / 4), st.just(math.nan))


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.integers(0, 3), BATCH_VALUES), max_size=30),
    st.integers(1, 5),
)
def test_outliers_many_agrees_with_modified_z(rows: list[tuple[int, float]], min_n: int) -> None:
    groups = np.array([g for g, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.float64)
    z = outliers_many(values, groups, min_n=min_n)
    for i, (group, value) in enumerate(rows):
        others = [v for j, (g, v) in enumerate(rows) if j != i and g == group]
        expected = modified_z(value, others, min_n=min_n)
        assert _same(None if math.isnan(z[i]) else float(z[i]), expected), (i, value, others)


@given(st.lists(st.tuples(st.integers(0, 2), INTEGERS), max_size=20), st.data())
def test_outliers_many_does_not_depend_on_the_order_of_rows(
    rows: list[tuple[int, float]], data: st.DataObject
) -> None:
    groups = np.array([g for g, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.float64)
    permutation = np.array(data.draw(st.permutations(range(len(rows)))), dtype=np.intp)
    z = outliers_many(values, groups)
    shuffled = outliers_many(values[permutation], groups[permutation])
    np.testing.assert_array_equal(shuffled, z[permutation])
