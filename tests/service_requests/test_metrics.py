"""Request metrics (诉求考核指标) on hand-made request tables: every rate against a hand count, the
exclusions, pending cases, Beijing-time months, ranking only with enough cases, and properties."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from planwatch.errors import InvalidValueError
from planwatch.service_requests.metrics import (
    COLUMNS,
    RATES,
    compute_metrics,
    empty_requests,
    month_of,
    month_start,
    month_text,
    parse_month,
    rank_units,
)

MAY = datetime(2025, 5, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
AFTER = datetime(2025, 8, 1, tzinfo=UTC)  # every deadline of May has passed
H = timedelta(hours=1)


def req(at: datetime = MAY, **fields: Any) -> dict[str, Any]:
    """One request received at ``at``, dispatched, answered and called back on time, satisfied."""
    row: dict[str, Any] = {
        "id": 0,
        "kind": "complaint",
        "department_id": 1,
        "district_id": 10,
        "street_id": 100,
        "requested_at": at,
        "dispatched_at": at + 0.1 * H,
        "accepted_at": at + 1 * H,
        "contacted_at": at + 2 * H,
        "response_due_at": at + 24 * H,
        "replied_at": at + 72 * H,
        "closed_at": at + 72 * H,
        "expected_at": at + 168 * H,
        "callback_at": at + 96 * H,
        "close_reason": "resolved",
        "returned_count": 0,
        "reopened_count": 0,
        "resolved": True,
        "satisfaction": "satisfied",
        "simulated": False,
    }
    row.update(fields)
    return row


def table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    for i, row in enumerate(rows):
        row["id"] = i + 1
    return pd.DataFrame(rows, columns=list(COLUMNS))


def metrics(
    rows: list[dict[str, Any]], *, level: str = "city", month: str = "2025-05", **kw: Any
) -> pd.DataFrame:
    kw.setdefault("now", AFTER)
    kw.setdefault("min_n", 1)
    out = compute_metrics(table(rows), level=level, start=month, end=month, **kw)  # type: ignore[arg-type]
    return out.rows


def only(rows: pd.DataFrame) -> dict[str, Any]:
    assert len(rows) == 1
    record: dict[str, Any] = rows.iloc[0].to_dict()
    return record


def pair(row: dict[str, Any], code: str) -> tuple[int, int]:
    return int(row[f"{code}_numerator"]), int(row[f"{code}_denominator"])


# —— months ——


def test_months_round_trip_and_follow_beijing_time() -> None:
    assert month_text(parse_month("2025-05")) == "2025-05"
    assert month_start(parse_month("2025-06")) == datetime(2025, 5, 31, 16, 0, tzinfo=UTC)
    assert month_text(month_of(datetime(2025, 5, 31, 16, 0, tzinfo=UTC))) == "2025-06"
    assert month_text(month_of(datetime(2025, 5, 31, 15, 59, tzinfo=UTC))) == "2025-05"


def test_a_request_late_on_the_last_utc_evening_belongs_to_the_next_beijing_month() -> None:
    rows = metrics([req(datetime(2025, 5, 31, 17, 0, tzinfo=UTC))], month="2025-06")
    assert only(rows)["received"] == 1
    assert metrics([req(datetime(2025, 5, 31, 17, 0, tzinfo=UTC))], month="2025-05")["received"].sum() == 0


@pytest.mark.parametrize("bad", ["2025-13", "2025-5", "25-05", "", "2025/05", "0000-01", "9999-12"])
def test_a_bad_month_is_refused(bad: str) -> None:
    with pytest.raises(InvalidValueError, match=r"YYYY-MM|out of range"):
        compute_metrics(empty_requests(), level="city", start=bad, end="2025-05", now=AFTER)


def test_an_inverted_or_huge_window_an_unknown_level_or_a_missing_column_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="before start"):
        compute_metrics(empty_requests(), level="city", start="2025-05", end="2025-04", now=AFTER)
    with pytest.raises(InvalidValueError, match="at most"):
        compute_metrics(empty_requests(), level="city", start="2000-01", end="2025-04", now=AFTER)
    with pytest.raises(InvalidValueError, match="level"):
        compute_metrics(empty_requests(), level="county", start="2025-05", end="2025-05", now=AFTER)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="satisfaction"):
        compute_metrics(
            empty_requests().drop(columns=["satisfaction"]),
            level="city",
            start="2025-05",
            end="2025-05",
            now=AFTER,
        )


def test_no_requests_give_no_rows() -> None:
    out = compute_metrics(empty_requests(), level="district", start="2025-05", end="2025-06", now=AFTER)
    assert out.rows.empty
    assert out.simulated is False
    assert out.periods == ["2025-05", "2025-06"]


# —— every rate by hand ——


def test_received_splits_appeals_from_consultations() -> None:
    rows = [req(), req(), req(kind="help"), req(kind="consultation"), req(kind="consultation")]
    rows.append(req(MAY - timedelta(days=30)))  # April
    row = only(metrics(rows))
    assert (row["received"], row["received_appeal"], row["received_consultation"]) == (5, 3, 2)


def test_response_rate_needs_signing_and_contact_by_the_deadline() -> None:
    now = MAY + 30 * H
    rows = [
        req(),  # signed at +1 h, contacted at +2 h: responded
        req(contacted_at=MAY + 30 * H),  # contacted after the 24 h deadline
        req(accepted_at=MAY + 25 * H),  # signed late
        req(accepted_at=None, contacted_at=None),  # nothing, deadline passed
        req(MAY + 20 * H, accepted_at=None, contacted_at=None),  # deadline still ahead: pending
        req(MAY + 20 * H),  # deadline ahead but already responded: counts
        req(dispatched_at=None),  # answered directly (直办): never dispatched
    ]
    row = only(metrics(rows, now=now))
    assert pair(row, "response") == (2, 5)
    assert row["response_rate"] == pytest.approx(0.4)


def test_on_time_and_overdue_count_requests_due_in_the_month() -> None:
    due = datetime(2025, 5, 20, tzinfo=UTC)
    now = datetime(2025, 5, 25, tzinfo=UTC)
    start = due - 168 * H
    rows = [
        req(start),  # replied at +72 h: on time
        req(start, replied_at=due + H, closed_at=due + H),  # late
        req(start, replied_at=None, closed_at=None),  # unanswered past the deadline: overdue
        req(start, replied_at=None, closed_at=due - H),  # closed without a reply, in time
        req(start + 10 * 24 * H, replied_at=None, closed_at=None),  # due 30 May, after now: pending
        req(start + 10 * 24 * H, replied_at=now - H, closed_at=now - H),  # due 30 May, already answered
        req(datetime(2025, 5, 28, tzinfo=UTC), replied_at=None, closed_at=None),  # due in June
    ]
    row = only(metrics(rows, now=now))
    assert pair(row, "on_time") == (3, 5)
    assert pair(row, "overdue") == (2, 5)
    assert row["on_time_rate"] + row["overdue_rate"] == pytest.approx(1.0)


def test_resolution_and_satisfaction_come_from_valid_callbacks() -> None:
    rows = [
        req(resolved=True, satisfaction="satisfied"),
        req(resolved=False, satisfaction="basically"),
        req(resolved=True, satisfaction="unsatisfied"),
        req(resolved=None, satisfaction=None),  # called back, no answer: no valid callback
        req(callback_at=None, resolved=None, satisfaction=None),  # never called back
    ]
    row = only(metrics(rows))
    assert pair(row, "resolution") == (2, 3)
    assert pair(row, "satisfaction") == (2, 3)
    strict = only(metrics(rows, count_basically=False))
    assert pair(strict, "satisfaction") == (1, 3)


def test_callbacks_count_in_the_month_they_were_made() -> None:
    late_call = req(datetime(2025, 4, 28, tzinfo=UTC), callback_at=datetime(2025, 5, 3, tzinfo=UTC))
    assert pair(only(metrics([late_call])), "satisfaction") == (1, 1)


def test_return_and_reopen_rates() -> None:
    rows = [req(returned_count=0), req(returned_count=1), req(returned_count=2), req()]
    rows[1]["reopened_count"] = 1
    row = only(metrics(rows))
    assert pair(row, "return") == (2, 4)
    assert pair(row, "reopen") == (1, 4)
    assert row["closed"] == 4


def test_median_hours_to_close() -> None:
    rows = [req(closed_at=MAY + h * H, replied_at=MAY + h * H) for h in (10, 20, 60)]
    assert only(metrics(rows))["median_hours_to_close"] == pytest.approx(20.0)


def test_duplicates_and_not_responsible_take_part_in_no_rate() -> None:
    kept = [req(), req(satisfaction="unsatisfied", resolved=False)]
    excluded = [
        req(close_reason="duplicate", satisfaction="unsatisfied", resolved=False, accepted_at=None),
        req(close_reason="not_responsible", replied_at=None, returned_count=1, reopened_count=1),
    ]
    row = only(metrics(kept + excluded))
    assert (row["received"], row["excluded"]) == (4, 2)
    for rate in RATES:
        assert row[f"{rate.code}_denominator"] == 2, rate.code
    assert pair(row, "satisfaction") == (1, 2)
    assert pair(row, "response") == (2, 2)


def test_open_overdue_counts_requests_open_past_their_deadline_at_month_end() -> None:
    rows = [
        req(datetime(2025, 4, 1, tzinfo=UTC), replied_at=None, closed_at=None),  # open since April
        req(datetime(2025, 5, 1, tzinfo=UTC), replied_at=datetime(2025, 6, 5, tzinfo=UTC), closed_at=None),
        req(datetime(2025, 5, 29, tzinfo=UTC), replied_at=None, closed_at=None),  # due in June
        req(datetime(2025, 4, 1, tzinfo=UTC), close_reason="duplicate", replied_at=None, closed_at=None),
    ]
    row = only(metrics(rows))
    assert row["overdue_open"] == 2


def test_the_running_month_takes_open_overdue_as_of_now() -> None:
    now = datetime(2025, 5, 12, tzinfo=UTC)
    rows = [req(datetime(2025, 5, 1, tzinfo=UTC), replied_at=None, closed_at=None)]  # due 8 May
    assert only(metrics(rows, now=now))["overdue_open"] == 1
    assert only(metrics(rows, now=datetime(2025, 5, 7, tzinfo=UTC)))["overdue_open"] == 0


# —— units, windows, flags ——


def test_units_of_each_level_and_requests_without_a_unit() -> None:
    rows = [
        req(district_id=10, street_id=100, department_id=1),
        req(district_id=10, street_id=101, department_id=2),
        req(district_id=11, street_id=None, department_id=2),  # located to its district only
        req(district_id=None, street_id=None, department_id=None),  # not located below the city
    ]
    assert only(metrics(rows))["received"] == 4
    by_district = metrics(rows, level="district").set_index("unit")["received"].to_dict()
    assert by_district == {10: 2, 11: 1}
    assert metrics(rows, level="street").set_index("unit")["received"].to_dict() == {100: 1, 101: 1}
    assert metrics(rows, level="department").set_index("unit")["received"].to_dict() == {1: 1, 2: 2}


def test_by_month_or_over_the_whole_window() -> None:
    rows = [req(), req(), req(MAY + timedelta(days=31))]
    monthly = compute_metrics(table(rows), level="city", start="2025-05", end="2025-06", now=AFTER).rows
    assert monthly.set_index("period")["received"].to_dict() == {"2025-05": 2, "2025-06": 1}
    whole = compute_metrics(
        table(rows), level="city", start="2025-05", end="2025-06", now=AFTER, by_month=False
    )
    row = only(whole.rows)
    assert (row["period"], row["received"]) == ("2025-05/2025-06", 3)
    assert pair(row, "response") == (3, 3)


def test_a_simulated_request_marks_its_unit_simulated() -> None:
    rows = [req(district_id=10, simulated=True), req(district_id=10), req(district_id=11)]
    flags = metrics(rows, level="district").set_index("unit")["simulated"].to_dict()
    assert flags == {10: True, 11: False}
    assert compute_metrics(table(rows), level="city", start="2025-05", end="2025-05", now=AFTER).simulated


# —— ranking ——


def test_units_below_min_n_are_not_ranked() -> None:
    rows = (
        [req(district_id=10) for _ in range(5)]  # all satisfied: 100 %
        + [req(district_id=11, satisfaction="unsatisfied") for _ in range(2)]
        + [req(district_id=11) for _ in range(2)]  # 50 %
        + [req(district_id=12)]  # 100 %, one case: FixMyStreet #1957
    )
    ranked = metrics(rows, level="district", min_n=3).set_index("unit")
    assert ranked.loc[10, "satisfaction_rank"] == 1
    assert ranked.loc[11, "satisfaction_rank"] == 2
    assert pd.isna(ranked.loc[12, "satisfaction_rank"])
    assert ranked.loc[12, "satisfaction_rate"] == 1.0  # shown, just not ranked


def test_ranks_are_competition_ranks_and_lower_is_better_for_overdue() -> None:
    rates = pd.Series([0.9, 0.8, 0.9, 0.5, 0.1])
    dens = pd.Series([30, 30, 30, 30, 2])
    periods = pd.Series(["2025-05"] * 5)
    higher = rank_units(rates, dens, periods, min_n=20, higher_is_better=True)
    assert higher.tolist() == [1, 3, 1, 4, pd.NA]
    lower = rank_units(rates, dens, periods, min_n=20, higher_is_better=False)
    assert lower.tolist() == [3, 2, 3, 1, pd.NA]


def test_ranks_are_within_each_month() -> None:
    rows = [req(district_id=10), req(district_id=11, satisfaction="unsatisfied")]
    rows += [req(MAY + timedelta(days=31), district_id=10, satisfaction="unsatisfied")]
    rows += [req(MAY + timedelta(days=31), district_id=11)]
    out = compute_metrics(table(rows), level="district", start="2025-05", end="2025-06", now=AFTER, min_n=1)
    ranks = out.rows.set_index(["period", "unit"])["satisfaction_rank"].to_dict()
    assert ranks == {("2025-05", 10): 1, ("2025-05", 11): 2, ("2025-06", 10): 2, ("2025-06", 11): 1}


# —— properties ——

OFFSET = st.one_of(st.none(), st.floats(min_value=0, max_value=24 * 60, allow_nan=False))


@st.composite
def requests(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=30))):
        at = datetime(2025, 4, 15, tzinfo=UTC) + timedelta(
            hours=draw(st.floats(min_value=0, max_value=24 * 60))
        )

        def later(base: datetime = at) -> datetime | None:
            hours = draw(OFFSET)
            return None if hours is None else base + timedelta(hours=hours)

        rows.append(
            req(
                at,
                kind=draw(st.sampled_from(["complaint", "consultation", "help"])),
                district_id=draw(st.sampled_from([10, 11, None])),
                dispatched_at=later(),
                accepted_at=later(),
                contacted_at=later(),
                response_due_at=at + timedelta(hours=draw(st.sampled_from([2, 24, 168]))),
                replied_at=later(),
                closed_at=later(),
                expected_at=at + timedelta(hours=draw(st.sampled_from([2, 24, 168, 360]))),
                callback_at=later(),
                close_reason=draw(st.sampled_from([None, "resolved", "duplicate", "not_responsible"])),
                returned_count=draw(st.integers(min_value=0, max_value=2)),
                reopened_count=draw(st.integers(min_value=0, max_value=2)),
                resolved=draw(st.sampled_from([True, False, None])),
                satisfaction=draw(st.sampled_from(["satisfied", "basically", "unsatisfied", None])),
                simulated=draw(st.booleans()),
            )
        )
    return rows


@hsettings(max_examples=40, deadline=None)
@given(
    rows=requests(),
    now=st.datetimes(min_value=datetime(2025, 4, 1), max_value=datetime(2025, 9, 1), timezones=st.just(UTC)),
    level=st.sampled_from(["city", "district"]),
    by_month=st.booleans(),
)
def test_rates_lie_in_0_1_and_numerators_never_exceed_denominators(
    rows: list[dict[str, Any]], now: datetime, level: str, by_month: bool
) -> None:
    out = compute_metrics(
        table(rows),
        level=level,
        start="2025-04",
        end="2025-07",
        now=now,
        by_month=by_month,
        min_n=2,  # type: ignore[arg-type]
    ).rows
    for rate in RATES:
        num = out[f"{rate.code}_numerator"].to_numpy()
        den = out[f"{rate.code}_denominator"].to_numpy()
        assert (num >= 0).all(), rate.code
        assert (num <= den).all(), rate.code
        values = out[f"{rate.code}_rate"].to_numpy(dtype=float)
        assert np.isnan(values[den == 0]).all()
        assert ((values[den > 0] >= 0) & (values[den > 0] <= 1)).all()
        ranked = out[f"{rate.code}_rank"].notna().to_numpy()
        assert (den[ranked] >= 2).all()
    assert (out["on_time_numerator"] + out["overdue_numerator"] == out["on_time_denominator"]).all()
    assert (out["received_appeal"] + out["received_consultation"] == out["received"]).all()


@hsettings(max_examples=20, deadline=None)
@given(rows=requests())
def test_districts_add_up_to_at_most_the_city(rows: list[dict[str, Any]]) -> None:
    city = compute_metrics(
        table(rows), level="city", start="2025-04", end="2025-07", now=AFTER, by_month=False
    ).rows
    districts = compute_metrics(
        table(rows), level="district", start="2025-04", end="2025-07", now=AFTER, by_month=False
    ).rows
    for rate in RATES:
        column = f"{rate.code}_denominator"
        total = int(city[column].sum()) if len(city) else 0
        assert int(districts[column].sum()) <= total
        located = [r for r in rows if r["district_id"] is not None]
        if len(located) == len(rows):
            assert int(districts[column].sum()) == total


def test_fifty_thousand_requests_compute_in_well_under_two_seconds() -> None:
    rng = np.random.default_rng(7)
    n = 50_000
    at = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365 * 24, n), unit="h")
    hours = pd.to_timedelta(rng.uniform(0, 400, n), unit="h")
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "kind": rng.choice(["complaint", "consultation"], n),
            "department_id": rng.integers(1, 30, n),
            "district_id": rng.integers(1, 21, n),
            "street_id": rng.integers(100, 361, n),
            "requested_at": at,
            "dispatched_at": at + pd.Timedelta(minutes=5),
            "accepted_at": at + hours / 10,
            "contacted_at": at + hours / 8,
            "response_due_at": at + pd.Timedelta(hours=24),
            "replied_at": at + hours,
            "closed_at": at + hours,
            "expected_at": at + pd.Timedelta(hours=168),
            "callback_at": at + hours + pd.Timedelta(hours=24),
            "close_reason": rng.choice(["resolved", "duplicate", "not_responsible", "resolved"], n),
            "returned_count": rng.integers(0, 2, n),
            "reopened_count": rng.integers(0, 2, n),
            "resolved": rng.random(n) < 0.9,
            "satisfaction": rng.choice(["satisfied", "basically", "unsatisfied"], n),
            "simulated": True,
        }
    )
    started = time.perf_counter()
    out = compute_metrics(
        frame, level="street", start="2025-01", end="2026-01", now=AFTER + timedelta(days=200)
    )
    elapsed = time.perf_counter() - started
    assert len(out.rows) > 3000
    assert int(out.rows["received"].sum()) == n
    assert elapsed < 2.0, f"{elapsed:.2f} s"
