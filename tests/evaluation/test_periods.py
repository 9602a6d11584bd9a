"""Annual values from monthly and quarterly ones: sum, last, mean; ratio parts; missing periods."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planwatch.evaluation.periods import OUTPUT_COLUMNS, PeriodFrameError, annual_from_periods
from planwatch.models.enums import Frequency, PeriodAggregation

NAN = math.nan


def monthly(values: dict[int, float], *, year: int = 2024, key: str = "gdp") -> list[dict[str, object]]:
    return [{"indicator_id": key, "period": f"{year}-{m:02d}", "value": v} for m, v in values.items()]


def one(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for col, val in where.items():
        mask &= (frame[col] == val).to_numpy()
    assert mask.sum() == 1
    return frame[mask].iloc[0]


# months 1..12 valued 1..12 (total 78, December 12, mean 6.5); 2025 lacks June and December
FULL = monthly({m: float(m) for m in range(1, 13)})
GAPPY = monthly({m: float(m) for m in range(1, 12) if m != 6}, year=2025)
TABLE = pd.DataFrame(FULL + GAPPY)


def test_monthly_sum_of_a_complete_year_is_its_total() -> None:
    out = annual_from_periods(TABLE, frequency=Frequency.monthly, method=PeriodAggregation.sum)
    row = one(out, year=2024)
    assert row["value"] == 78
    assert (row["periods_present"], row["periods_expected"], row["complete"]) == (12, 12, True)
    assert row["last_period"] == "2024-12"
    assert row["period"] == "2024"
    assert row["source_frequency"] == "monthly"


def test_monthly_sum_of_an_incomplete_year_is_missing_unless_partial_is_allowed() -> None:
    out = annual_from_periods(TABLE, frequency="monthly", method="sum")
    row = one(out, year=2025)
    assert math.isnan(row["value"])
    assert (row["periods_present"], row["complete"]) == (10, False)
    partial = annual_from_periods(TABLE, frequency="monthly", method="sum", allow_partial=True)
    assert one(partial, year=2025)["value"] == 66 - 6  # 1..11 without June


def test_monthly_last_takes_the_latest_month_present_and_names_it() -> None:
    out = annual_from_periods(TABLE, frequency="monthly", method="last")
    assert one(out, year=2024)["value"] == 12
    row = one(out, year=2025)
    assert row["value"] == 11
    assert row["last_period"] == "2025-11"
    assert not row["complete"]


def test_monthly_mean_is_over_the_months_present() -> None:
    out = annual_from_periods(TABLE, frequency="monthly", method="mean")
    assert one(out, year=2024)["value"] == 6.5
    assert one(out, year=2025)["value"] == pytest.approx(60 / 10)


def test_a_month_without_a_value_is_missing() -> None:
    rows = monthly({m: float(m) for m in range(1, 13)})
    rows[11]["value"] = NAN  # December reported empty
    out = annual_from_periods(pd.DataFrame(rows), frequency="monthly", method="last")
    row = one(out, year=2024)
    assert (row["value"], row["last_period"], row["periods_present"]) == (11, "2024-11", 11)


def test_a_year_with_rows_but_no_value_has_a_row_without_value() -> None:
    rows = monthly({1: NAN, 2: NAN})
    for method in PeriodAggregation:
        row = one(annual_from_periods(pd.DataFrame(rows), frequency="monthly", method=method), year=2024)
        assert math.isnan(row["value"])
        assert row["periods_present"] == 0
        assert pd.isna(row["last_period"])


def test_quarterly_to_annual() -> None:
    frame = pd.DataFrame(
        {
            "indicator_id": "jobs",
            "period": ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1", "2024Q3"],
            "value": [10.0, 20.0, 30.0, 40.0, 5.0, 7.0],
        }
    )
    total = annual_from_periods(frame, frequency="quarterly", method="sum", allow_partial=True)
    assert one(total, year=2023)["value"] == 100
    assert (one(total, year=2023)["periods_expected"], one(total, year=2023)["complete"]) == (4, True)
    assert one(total, year=2024)["value"] == 12
    assert one(total, year=2024)["periods_present"] == 2
    last = annual_from_periods(frame, frequency="quarterly", method="last")
    assert one(last, year=2024)["value"] == 7
    assert one(last, year=2024)["last_period"] == "2024Q3"
    assert one(last, year=2023)["last_period"] == "2023Q4"
    mean = annual_from_periods(frame, frequency="quarterly", method="mean")
    assert one(mean, year=2023)["value"] == 25


def ratio_table() -> pd.DataFrame:
    # a quarterly share (%): small quarter 1/2 = 50 %, big quarters 10/100 = 10 %
    return pd.DataFrame(
        {
            "indicator_id": "share",
            "division_id": "510104",
            "period": ["2024Q1", "2024Q2", "2024Q3", "2024Q4"],
            "value": [50.0, 10.0, 10.0, 10.0],
            "numerator": [1.0, 10.0, 10.0, 10.0],
            "denominator": [2.0, 100.0, 100.0, 100.0],
        }
    )


def test_ratio_parts_are_aggregated_like_the_value() -> None:
    frame = ratio_table()
    total = one(annual_from_periods(frame, frequency="quarterly", method="sum"), year=2024)
    assert (total["numerator"], total["denominator"]) == (31, 302)
    # the annual ratio is Σnumerator / Σdenominator, not the mean of the quarters' percentages
    assert total["numerator"] / total["denominator"] * 100 == pytest.approx(10.26, abs=0.01)
    assert frame["value"].mean() == 20
    mean = one(annual_from_periods(frame, frequency="quarterly", method="mean"), year=2024)
    assert (mean["numerator"], mean["denominator"]) == (31 / 4, 302 / 4)
    assert mean["numerator"] / mean["denominator"] == pytest.approx(31 / 302)
    last = one(annual_from_periods(frame, frequency="quarterly", method="last"), year=2024)
    assert (last["value"], last["numerator"], last["denominator"]) == (10, 10, 100)


def test_ratio_parts_missing_in_a_counted_period_leave_both_parts_missing() -> None:
    frame = ratio_table()
    frame.loc[0, "denominator"] = NAN
    total = one(annual_from_periods(frame, frequency="quarterly", method="sum"), year=2024)
    assert total["value"] == 80
    assert math.isnan(total["numerator"])
    assert math.isnan(total["denominator"])
    # the last quarter has both parts: last is unaffected
    last = one(annual_from_periods(frame, frequency="quarterly", method="last"), year=2024)
    assert (last["numerator"], last["denominator"]) == (10, 100)


def test_without_ratio_columns_the_parts_are_missing() -> None:
    out = annual_from_periods(TABLE, frequency="monthly", method="sum")
    assert out["numerator"].isna().all()
    assert out["denominator"].isna().all()


def test_keys_group_separately_and_are_found_by_default() -> None:
    frame = pd.concat(
        [pd.DataFrame(monthly(dict.fromkeys(range(1, 13), 1.0), key=key)) for key in ("a", "b")],
        ignore_index=True,
    )
    frame["division_id"] = np.where(np.arange(len(frame)) % 2 == 0, "510104", "510105")
    out = annual_from_periods(frame, frequency="monthly", method="sum", allow_partial=True)
    assert list(out.columns) == ["indicator_id", "division_id", *OUTPUT_COLUMNS]
    assert out[["indicator_id", "division_id"]].to_numpy().tolist() == [
        ["a", "510104"],
        ["a", "510105"],
        ["b", "510104"],
        ["b", "510105"],
    ]
    assert out["value"].tolist() == [6, 6, 6, 6]
    only_indicator = annual_from_periods(
        frame.drop(columns="division_id"), frequency="monthly", method="sum", keys=["indicator_id"]
    )
    assert only_indicator["value"].tolist() == [12, 12]


def test_an_annual_frame_passes_through_unchanged() -> None:
    frame = pd.DataFrame(
        {
            "indicator_id": ["b", "a", "a"],
            "period": ["2023", "2024", "2023"],
            "value": [3.0, 2.0, NAN],
            "numerator": [1.0, NAN, NAN],
        }
    )
    out = annual_from_periods(frame, frequency="annual", method="sum")
    assert out[["indicator_id", "year"]].to_numpy().tolist() == [["a", 2023], ["a", 2024], ["b", 2023]]
    assert out["value"].tolist()[1:] == [2, 3]
    assert math.isnan(out["value"].iloc[0])
    assert out["numerator"].iloc[2] == 1  # kept even without a denominator
    assert out["periods_expected"].tolist() == [1, 1, 1]
    assert out["complete"].tolist() == [False, True, True]
    assert (out["source_frequency"] == "annual").all()
    # the result is itself an annual table
    again = annual_from_periods(out[["indicator_id", "period", "value"]], frequency="annual", method="last")
    pd.testing.assert_series_equal(again["value"], out["value"])


def test_an_annual_row_wins_over_the_months_of_its_year() -> None:
    rows = [*FULL, {"indicator_id": "gdp", "period": "2024", "value": 80.0}]
    out = annual_from_periods(pd.DataFrame(rows), frequency="monthly", method="sum")
    row = one(out, year=2024)
    assert (row["value"], row["source_frequency"], row["periods_expected"]) == (80, "annual", 1)
    assert row["last_period"] == "2024"


def test_an_annual_row_without_value_loses_to_months_but_stands_alone() -> None:
    rows = [
        *FULL,
        {"indicator_id": "gdp", "period": "2024", "value": NAN},
        {"indicator_id": "gdp", "period": "2023", "value": NAN},
    ]
    out = annual_from_periods(pd.DataFrame(rows), frequency="monthly", method="sum")
    assert one(out, year=2024)["value"] == 78
    row = one(out, year=2023)
    assert math.isnan(row["value"])
    assert (row["source_frequency"], row["periods_present"]) == ("annual", 0)


def test_empty_table_gives_empty_result() -> None:
    frame = pd.DataFrame({"indicator_id": [], "period": [], "value": []})
    out = annual_from_periods(frame, frequency="monthly", method="sum")
    assert out.empty
    assert list(out.columns) == ["indicator_id", *OUTPUT_COLUMNS]


@pytest.mark.parametrize(
    ("periods", "frequency", "match"),
    [
        (["2024-13"], "monthly", "not a period"),
        (["2024/05"], "monthly", "not a period"),
        (["2024Q2"], "monthly", "not monthly or annual"),
        (["2024-02"], "quarterly", "not quarterly or annual"),
        (["2024-02"], "annual", "not annual"),
        (["2024-02", "2024-02"], "monthly", "duplicate"),
        (["2024", "2024"], "annual", "duplicate"),
    ],
)
def test_refuses_periods_that_do_not_fit(periods: list[str], frequency: str, match: str) -> None:
    frame = pd.DataFrame({"indicator_id": "x", "period": periods, "value": 1.0})
    with pytest.raises(PeriodFrameError, match=match):
        annual_from_periods(frame, frequency=frequency, method="sum")


def test_refuses_missing_columns_and_keys() -> None:
    with pytest.raises(PeriodFrameError, match="'value'"):
        annual_from_periods(pd.DataFrame({"period": ["2024"]}), frequency="annual", method="sum")
    frame = pd.DataFrame({"indicator_id": ["a", None], "period": ["2024", "2024"], "value": [1.0, 2.0]})
    with pytest.raises(PeriodFrameError, match="empty in 1 row"):
        annual_from_periods(frame, frequency="annual", method="sum")
    with pytest.raises(PeriodFrameError, match="not in the table"):
        annual_from_periods(frame, frequency="annual", method="sum", keys=["nope"])
    with pytest.raises(ValueError, match="median"):
        annual_from_periods(frame, frequency="annual", method="median")


# --- properties ---------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
month_values = st.one_of(
    st.dictionaries(st.integers(1, 12), finite, min_size=1, max_size=12),
    st.fixed_dictionaries(dict.fromkeys(range(1, 13), finite)),  # complete years
)
cells = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(2022, 2024), month_values), min_size=1, max_size=6
)


def build(cells_: list[tuple[str, int, dict[int, float]]]) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    seen: set[tuple[str, int]] = set()
    for key, year, values in cells_:
        if (key, year) in seen:
            continue
        seen.add((key, year))
        rows += [
            {**r, "numerator": r["value"], "denominator": 1.0} for r in monthly(values, year=year, key=key)
        ]
    return pd.DataFrame(rows)


@given(cells)
def test_annual_sum_of_complete_years_is_the_total_of_the_months(
    cells_: list[tuple[str, int, dict[int, float]]],
) -> None:
    frame = build(cells_)
    out = annual_from_periods(frame, frequency="monthly", method="sum")
    for row in out.itertuples():
        months = frame[
            (frame["indicator_id"] == row.indicator_id) & frame["period"].str.startswith(str(row.year))
        ]
        assert row.periods_present == len(months)
        if row.complete:
            assert row.value == pytest.approx(math.fsum(months["value"]), abs=1e-6)
            assert row.numerator == pytest.approx(math.fsum(months["numerator"]), abs=1e-6)
    assert out.loc[~out["complete"], "value"].isna().all()


@given(cells)
def test_mean_lies_between_the_months_and_last_is_the_latest(
    cells_: list[tuple[str, int, dict[int, float]]],
) -> None:
    frame = build(cells_)
    mean = annual_from_periods(frame, frequency="monthly", method="mean")
    last = annual_from_periods(frame, frequency="monthly", method="last")
    for m_row, l_row in zip(mean.itertuples(), last.itertuples(), strict=True):
        months = frame[
            (frame["indicator_id"] == m_row.indicator_id) & frame["period"].str.startswith(str(m_row.year))
        ]
        assert months["value"].min() - 1e-6 <= m_row.value <= months["value"].max() + 1e-6
        latest = months.sort_values("period").iloc[-1]
        assert (l_row.value, l_row.last_period) == (latest["value"], latest["period"])


@settings(max_examples=50)
@given(cells, st.sampled_from(list(PeriodAggregation)), st.randoms(use_true_random=False))
def test_permuting_rows_changes_nothing(
    cells_: list[tuple[str, int, dict[int, float]]], method: PeriodAggregation, rnd: random.Random
) -> None:
    frame = build(cells_)
    frame = pd.concat([frame, pd.DataFrame([{"indicator_id": "a", "period": "2021", "value": 5.0}])])
    order = list(range(len(frame)))
    rnd.shuffle(order)
    shuffled = frame.iloc[order]
    for partial in (False, True):
        expected = annual_from_periods(frame, frequency="monthly", method=method, allow_partial=partial)
        got = annual_from_periods(shuffled, frequency="monthly", method=method, allow_partial=partial)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
