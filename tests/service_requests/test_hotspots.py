"""Demand hot spots: counts per division, type and period against the trailing baseline."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import Division, ServiceRequest, ServiceType
from planwatch.models.enums import DivisionLevel, RequestChannel, RequestKind, RequestState
from planwatch.service_requests.hotspots import (
    count_table,
    division_counts,
    find_hotspots,
    hotspots,
    period_bounds,
    period_index,
    period_label,
)

_tokens = itertools.count()
MONDAY = date(2026, 3, 2)


def _instants(*texts: str) -> np.ndarray:
    return np.array([np.datetime64(t, "s") for t in texts])


# —— periods ——


def test_weeks_start_on_monday_in_beijing_time() -> None:
    """Sunday 16:30 UTC is already Monday in Beijing: the new ISO week."""
    weeks = period_index(_instants("2026-03-01T15:59:59", "2026-03-01T16:00:00"), "week")
    assert weeks[1] == weeks[0] + 1
    assert period_bounds(int(weeks[1]), "week") == (MONDAY, MONDAY + timedelta(days=7))
    assert period_label(int(weeks[1]), "week") == "2026-W10"


def test_iso_week_labels_cross_the_new_year() -> None:
    """Monday 2025-12-29 starts ISO week 1 of 2026."""
    week = period_index(_instants("2025-12-29T00:00:00"), "week")[0]
    assert period_label(int(week), "week") == "2026-W01"


def test_months_are_beijing_calendar_months() -> None:
    """The last UTC evening of January is February in Beijing."""
    months = period_index(_instants("2026-01-31T15:00:00", "2026-01-31T16:00:00"), "month")
    assert [period_label(int(m), "month") for m in months] == ["2026-01", "2026-02"]
    assert period_bounds(int(months[1]), "month") == (date(2026, 2, 1), date(2026, 3, 1))


# —— the core ——


@settings(max_examples=50)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(0, 30), st.booleans()), max_size=200)
)
def test_counts_sum_to_the_requests_given(rows: list[tuple[int, int, int, bool]]) -> None:
    """Every request is counted once, in its own cell; simulated ones are counted too."""
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    table = count_table(columns[0], columns[1], columns[2], columns[3])
    assert int(table["count"].sum()) == len(rows)
    assert int(table["simulated"].sum()) == sum(1 for row in rows if row[3])
    assert not table.duplicated(["division_id", "service_type_id", "period"]).any()


def _table(counts: dict[int, int], *, division: int = 1, service_type: int = 1) -> pd.DataFrame:
    periods = [p for p, n in counts.items() for _ in range(n)]
    return count_table([division] * len(periods), [service_type] * len(periods), periods)


def test_a_spike_against_a_quiet_baseline_is_hot() -> None:
    """One a week for eight weeks, then ten: baseline 1, ratio 10, z 9."""
    table = _table({**dict.fromkeys(range(100, 108), 1), 108: 10})
    scored = find_hotspots(table).set_index("period")
    spike = scored.loc[108]
    assert (spike["baseline"], spike["ratio"], spike["z"], bool(spike["hot"])) == (1.0, 10.0, 9.0, True)
    assert not scored.loc[107, "hot"]


def test_periods_without_requests_count_as_zero() -> None:
    """Two requests in the eight weeks before: a baseline of 0.25."""
    table = _table({100: 1, 104: 1, 108: 6})
    spike = find_hotspots(table).set_index("period").loc[108]
    assert spike["baseline"] == 0.25
    assert spike["baseline_n"] == 8
    assert spike["z"] == pytest.approx(6 - 0.25)  # variance floored at 1


def test_no_baseline_before_half_the_window_exists() -> None:
    """Three periods of history are too few for an eight-period baseline."""
    table = _table({100: 1, 103: 9})
    scored = find_hotspots(table, first_period=100).set_index("period")
    assert np.isnan(scored.loc[103, "baseline"])
    assert not scored.loc[103, "hot"]
    assert find_hotspots(table, first_period=96).set_index("period").loc[103, "baseline"] == pytest.approx(
        1 / 7
    )


def test_a_small_count_is_never_hot() -> None:
    """Below min_count nothing is hot however quiet the cell was."""
    table = _table({108: 4})
    scored = find_hotspots(table, first_period=90)
    assert scored["z"].iloc[0] == 4.0
    assert not scored["hot"].iloc[0]


def test_an_empty_table_scores_to_an_empty_table() -> None:
    """No requests, no rows."""
    scored = find_hotspots(count_table([], [], []))
    assert scored.empty
    assert {"baseline", "z", "hot"} <= set(scored.columns)


@settings(max_examples=50)
@given(
    st.lists(st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(0, 15)), min_size=1, max_size=120),
    st.integers(1, 6),
)
def test_the_baseline_is_the_mean_of_the_cell_over_the_periods_before(
    rows: list[tuple[int, int, int]], window: int
) -> None:
    """Against a direct computation, cell by cell."""
    columns = list(zip(*rows, strict=True))
    table = count_table(*columns)
    scored = find_hotspots(table, first_period=0, baseline_periods=window)
    for row in scored.itertuples():
        lo = max(row.period - window, 0)
        total = sum(
            1 for d, t, p in rows if (d, t) == (row.division_id, row.service_type_id) and lo <= p < row.period
        )
        n = row.period - lo
        if n >= -(-window // 2):
            assert row.baseline == pytest.approx(total / n)
        else:
            assert np.isnan(row.baseline)


# —— the database ——

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


def _division(db: Session, code: str) -> int:
    return db.execute(select(Division.id).where(Division.code == code)).scalar_one()


def _add(db: Session, code: str, community: str, at: datetime, *, n: int = 1, **fields: object) -> None:
    service_type = db.execute(select(ServiceType.id).where(ServiceType.code == code)).scalar_one()
    division = _division(db, community)
    for _ in range(n):
        db.add(
            ServiceRequest(
                token=f"hot-{next(_tokens)}", service_type_id=service_type, kind=RequestKind.complaint,
                state=RequestState.dispatched, channel=RequestChannel.simulation, description="噪音扰民",
                attributes={}, division_id=division, district_id=_division(db, community[:6]),
                street_id=_division(db, community[:9]), requested_at=at, updated_at=at, response_due_at=at,
                expected_at=at, simulated=fields.get("simulated", True),
                close_reason=fields.get("close_reason"),
            )
        )  # fmt: skip
    db.flush()


def _history(db: Session) -> None:
    """Eight quiet weeks in two communities, then a burst of noise complaints in one."""
    for weeks in range(1, 9):
        _add(db, "noise", "510104017001", NOW - timedelta(weeks=weeks))
        _add(db, "noise", "510104018002", NOW - timedelta(weeks=weeks), n=2)
    _add(db, "noise", "510104017001", NOW, n=7)
    _add(db, "noise", "510104017001", NOW, n=3, close_reason="duplicate")
    _add(db, "noise", "510104018002", NOW, n=2)


def test_a_burst_in_one_community_is_its_hot_spot(rdb: Session) -> None:
    """Seven noise complaints against one a week: hot, named, per 1,000 of the street."""
    _history(rdb)
    report = hotspots(rdb, day=NOW.date())
    assert (report.period, report.period_start) == ("2026-W10", MONDAY)
    assert report.requests == 9  # the three duplicates are not counted
    assert report.cells == 2
    [spot] = report.rows
    assert (spot.division_code, spot.division_name, spot.division_level) == (
        "510104017001",
        "水井坊社区",
        DivisionLevel.community,
    )
    assert (spot.street_code, spot.district_code, spot.service_type_code) == ("510104017", "510104", "noise")
    assert (spot.count, spot.baseline, spot.ratio, spot.z, spot.hot) == (7, 1.0, 7.0, 6.0, True)
    assert spot.population_level is DivisionLevel.street
    assert spot.population_division_code == "510104017"
    assert spot.per_1000 == pytest.approx(7000 / spot.population, abs=1e-4)
    assert spot.population_simulated
    assert spot.simulated
    assert report.simulated
    assert any("street" in note for note in report.notes)


def test_every_cell_of_the_period_on_request(rdb: Session) -> None:
    """only_hot=False lists the quiet community too, hottest first."""
    _history(rdb)
    report = hotspots(rdb, day=NOW.date(), only_hot=False)
    assert [(s.division_code, s.hot) for s in report.rows] == [
        ("510104017001", True),
        ("510104018002", False),
    ]
    assert report.rows[1].z == 0.0


def test_filters_by_type_and_district(rdb: Session) -> None:
    """Another type or another district sees no hot spot."""
    _history(rdb)
    sanitation = rdb.execute(select(ServiceType.id).where(ServiceType.code == "sanitation")).scalar_one()
    assert hotspots(rdb, day=NOW.date(), service_type_id=sanitation).rows == []
    assert hotspots(rdb, day=NOW.date(), district_id=_division(rdb, "510105")).rows == []
    assert len(hotspots(rdb, day=NOW.date(), district_id=_division(rdb, "510104")).rows) == 1


def test_a_young_history_has_no_hot_spots(rdb: Session) -> None:
    """A burst in the first weeks on record has nothing to stand out against."""
    _add(rdb, "noise", "510104017001", NOW, n=20)
    report = hotspots(rdb, day=NOW.date(), only_hot=False)
    assert report.rows[0].baseline is None
    assert not report.rows[0].hot


def test_monthly_hot_spots(rdb: Session) -> None:
    """Months work like weeks."""
    _history(rdb)
    report = hotspots(rdb, day=NOW.date(), period="month", baseline_periods=2, only_hot=False)
    assert report.period == "2026-03"
    assert report.period_start == date(2026, 3, 1)


def test_bad_parameters_are_refused(rdb: Session) -> None:
    """A period that is neither week nor month, or an unknown type."""
    with pytest.raises(InvalidValueError, match="period"):
        hotspots(rdb, day=NOW.date(), period="day")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        hotspots(rdb, day=NOW.date(), service_type_id=999_999)


def test_division_counts_roll_up_for_a_map(rdb: Session) -> None:
    """Per community as located, and per district with the district's census population."""
    _history(rdb)
    start, end = NOW.date() - timedelta(days=7 * 9), NOW.date()
    located = division_counts(rdb, start=start, end=end)
    assert [(c.division_code, c.count) for c in located] == [("510104018002", 18), ("510104017001", 15)]
    [district] = division_counts(rdb, start=start, end=end, level=DivisionLevel.district)
    assert (district.division_code, district.count, district.population_level) == (
        "510104",
        33,
        DivisionLevel.district,
    )
    assert district.per_1000 == pytest.approx(33_000 / district.population, abs=1e-4)
    assert not district.population_simulated
    assert district.simulated
    with pytest.raises(InvalidValueError, match="before"):
        division_counts(rdb, start=end, end=start)
