"""Request metrics from the database: the one query loads what a window needs, and the monthly
rates are written per district and street as indicator values, simulated or computed, idempotently."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.models import DataValue, DataValueAudit, Division, Indicator, ServiceRequest, ServiceType
from planwatch.models.enums import (
    DivisionLevel,
    RequestChannel,
    RequestKind,
    RequestState,
    Satisfaction,
    ValueSource,
    ValueStatus,
)
from planwatch.service_requests.metrics import (
    COMPUTED_NOTE,
    RATES,
    SIMULATED_NOTE,
    dashboard_view,
    load_requests,
    metrics_view,
    request_metrics,
    write_request_indicators,
)
from tests.conftest import settings_for

JAN = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 20, tzinfo=UTC)
SHUIJINGFANG = "510104017001"  # 锦江区 锦官驿街道 水井坊社区
DONGYI = "510104018002"  # 锦江区 东湖街道 东怡社区
_tokens = itertools.count(1)


def add_request(
    db: Session, at: datetime = JAN, *, community: str = SHUIJINGFANG, **fields: Any
) -> ServiceRequest:
    """A request in ``community`` received at ``at`` and handled on time: dispatched, signed,
    contacted, answered in three days, called back satisfied. ``fields`` override any column."""
    division = db.execute(select(Division).where(Division.code == community)).scalar_one()
    street = db.get(Division, division.parent_id)
    assert street is not None
    service_type = db.execute(select(ServiceType).where(ServiceType.code == "elderly_care")).scalar_one()
    values: dict[str, Any] = {
        "token": f"metrics-{next(_tokens)}",
        "service_type_id": service_type.id,
        "kind": RequestKind.complaint,
        "state": RequestState.closed,
        "channel": RequestChannel.simulation,
        "description": "小区附近没有老年食堂",
        "attributes": {},
        "division_id": division.id,
        "street_id": street.id,
        "district_id": street.parent_id,
        "department_id": service_type.department_id,
        "requested_at": at,
        "updated_at": at + timedelta(days=4),
        "dispatched_at": at + timedelta(minutes=5),
        "accepted_at": at + timedelta(hours=1),
        "contacted_at": at + timedelta(hours=2),
        "response_due_at": at + timedelta(hours=service_type.response_hours),
        "replied_at": at + timedelta(days=3),
        "closed_at": at + timedelta(days=3),
        "expected_at": at + timedelta(hours=service_type.deadline_hours),
        "close_reason": "resolved",
        "resolved": True,
        "satisfaction": Satisfaction.satisfied,
        "callback_at": at + timedelta(days=4),
        "simulated": True,
    }
    values.update(fields)
    request = ServiceRequest(**values)
    db.add(request)
    db.flush()
    return request


def code_id(db: Session, code: str) -> int:
    return db.execute(select(Division.id).where(Division.code == code)).scalar_one()


def values_of(db: Session, indicator: str) -> dict[tuple[str, str], DataValue]:
    rows = db.execute(
        select(DataValue, Division.code)
        .join(Indicator, Indicator.id == DataValue.indicator_id)
        .join(Division, Division.id == DataValue.division_id)
        .where(Indicator.code == indicator, DataValue.deleted.is_(False))
    ).all()
    return {(code, value.period): value for value, code in rows}


@pytest.fixture
def settings(requests_url: str) -> Settings:
    return settings_for(requests_url)


def test_the_window_query_loads_every_request_a_metric_of_the_window_counts(rdb: Session) -> None:
    in_window = add_request(rdb, JAN).id
    called_back_in_window = add_request(rdb, JAN - timedelta(days=40), callback_at=JAN).id
    open_since_before = add_request(rdb, JAN - timedelta(days=60), replied_at=None, closed_at=None).id
    done_before = add_request(rdb, JAN - timedelta(days=60)).id
    after = add_request(rdb, JAN + timedelta(days=40)).id
    loaded = set(load_requests(rdb, start="2026-01", end="2026-01")["id"])
    assert {in_window, called_back_in_window, open_since_before} <= loaded
    assert done_before not in loaded
    assert after not in loaded


def test_metrics_per_district_street_department_and_city(rdb: Session) -> None:
    for _ in range(3):
        add_request(rdb)
    add_request(rdb, community=DONGYI, satisfaction=Satisfaction.unsatisfied, resolved=False)
    add_request(rdb, close_reason="duplicate")
    city = request_metrics(rdb, start="2026-01", end="2026-01", unit_level="city", now=NOW, min_n=1).rows
    assert city["received"].tolist() == [5]
    assert city["excluded"].tolist() == [1]
    assert (city["satisfaction_numerator"].tolist(), city["satisfaction_denominator"].tolist()) == ([3], [4])
    streets = request_metrics(rdb, start="2026-01", end="2026-01", unit_level="street", now=NOW, min_n=2).rows
    by_street = streets.set_index("unit")
    assert by_street.loc[code_id(rdb, "510104017"), "satisfaction_rank"] == 1
    assert by_street.loc[code_id(rdb, "510104018"), "satisfaction_rate"] == 0.0
    assert by_street["satisfaction_rank"].isna().sum() == 1  # one case: shown, not ranked
    view = metrics_view(rdb, level="department", start="2026-01", end="2026-01", now=NOW, min_n=20)
    (department,) = view.units
    assert department.code == "CDMZJ"
    assert department.rates["response"].denominator == 4
    assert department.rates["response"].rank is None  # fewer than 20 cases
    assert not department.ranked
    assert view.simulated
    city_view = metrics_view(rdb, level="city", start="2026-01", end="2026-01", now=NOW, min_n=1)
    assert city_view.units[0].code == "510100"
    assert city_view.units[0].rates["satisfaction"].rate == pytest.approx(0.75)


def test_rates_are_written_per_district_and_street_and_rerunning_changes_nothing(
    rdb: Session, settings: Settings
) -> None:
    for _ in range(3):
        add_request(rdb)
    add_request(rdb, community=DONGYI, satisfaction=Satisfaction.basically)
    add_request(
        rdb, community=DONGYI, satisfaction=Satisfaction.unsatisfied, replied_at=JAN + timedelta(days=9)
    )
    add_request(rdb, JAN + timedelta(days=30))  # February
    first = write_request_indicators(
        rdb, start="2026-01", end="2026-02", actor="tester", now=NOW, settings=settings
    )
    assert first["months"] == ["2026-01", "2026-02"]
    assert first["warnings"] == []
    # 5 indicators × (1 district + 2 streets) in January, × (1 + 1) in February
    assert first["created"] == 5 * 3 + 5 * 2
    satisfaction = values_of(rdb, "requests_satisfaction_rate")
    jinjiang = satisfaction[("510104", "2026-01")]
    assert (jinjiang.numerator, jinjiang.denominator) == (4.0, 5.0)
    assert jinjiang.value == pytest.approx(80.0)
    assert jinjiang.source is ValueSource.simulated
    assert SIMULATED_NOTE in (jinjiang.comment or "")
    assert satisfaction[("510104018", "2026-01")].value == pytest.approx(50.0)
    on_time = values_of(rdb, "requests_on_time_rate")[("510104018", "2026-01")]
    overdue = values_of(rdb, "requests_overdue_rate")[("510104018", "2026-01")]
    assert (on_time.value, overdue.value) == (pytest.approx(50.0), pytest.approx(50.0))
    levels = rdb.scalars(
        select(Division.level).where(Division.id.in_([v.division_id for v in satisfaction.values()]))
    )
    assert set(levels) == {DivisionLevel.district, DivisionLevel.street}  # departments get no values
    audits = rdb.scalar(select(func.count()).select_from(DataValueAudit))
    again = write_request_indicators(
        rdb, start="2026-01", end="2026-02", actor="tester", now=NOW, settings=settings
    )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, first["created"])
    assert rdb.scalar(select(func.count()).select_from(DataValueAudit)) == audits


def test_a_changed_request_updates_only_its_values(rdb: Session, settings: Settings) -> None:
    requests = [add_request(rdb) for _ in range(2)]
    write_request_indicators(rdb, start="2026-01", end="2026-01", actor="tester", now=NOW, settings=settings)
    requests[0].satisfaction = Satisfaction.unsatisfied
    rdb.flush()
    report = write_request_indicators(
        rdb, start="2026-01", end="2026-01", actor="tester", now=NOW, settings=settings
    )
    assert report["updated"] == 2  # satisfaction of the district and of the street
    assert values_of(rdb, "requests_satisfaction_rate")[("510104", "2026-01")].value == pytest.approx(50.0)


def test_real_requests_give_computed_drafts(rdb: Session, settings: Settings) -> None:
    add_request(rdb, simulated=False, channel=RequestChannel.hotline)
    report = write_request_indicators(
        rdb, start="2026-01", end="2026-01", actor="tester", now=NOW, settings=settings
    )
    assert report["created"] == 10
    value = values_of(rdb, "requests_response_rate")[("510104017", "2026-01")]
    assert value.source is ValueSource.computed
    assert value.status is ValueStatus.draft
    assert value.comment == COMPUTED_NOTE


def test_months_not_begun_are_skipped_and_closed_months_left_as_they_are(
    rdb: Session, requests_url: str
) -> None:
    add_request(rdb, simulated=False, channel=RequestChannel.hotline)
    add_request(rdb, JAN + timedelta(days=30), simulated=False, channel=RequestChannel.hotline)
    strict = settings_for(requests_url, entry_expiry_days=0)  # January closed on 1 February
    report = write_request_indicators(
        rdb, start="2026-01", end="2026-06", actor="tester", now=NOW, settings=strict
    )
    assert report["months"] == ["2026-01", "2026-02"]
    assert report["kept_locked"] == 10
    assert report["created"] == 10
    assert "closed" in report["warnings"][0]
    written = values_of(rdb, "requests_response_rate")
    assert ("510104", "2026-02") in written
    assert ("510104", "2026-01") not in written


def test_a_window_not_begun_writes_nothing(rdb: Session, settings: Settings) -> None:
    add_request(rdb)
    report = write_request_indicators(
        rdb, start="2026-05", end="2026-06", actor="tester", now=NOW, settings=settings
    )
    assert report["created"] == 0
    assert report["months"] == []
    assert "has not begun" in report["warnings"][0]


def test_the_catalogue_holds_every_written_rate_as_a_monthly_ratio(rdb: Session) -> None:
    codes = [r.indicator for r in RATES if r.indicator]
    indicators = {i.code: i for i in rdb.scalars(select(Indicator).where(Indicator.code.in_(codes)))}
    assert set(indicators) == set(codes)
    for indicator in indicators.values():
        assert indicator.frequency.value == "monthly"
        assert indicator.factor == 100
        assert set(indicator.levels) == {"district", "street"}
        assert indicator.source_department is not None
        assert indicator.source_department.code == "CDWLLZB"
    assert indicators["requests_overdue_rate"].direction.value == "lower"


def test_the_dashboard_from_one_query_agrees_with_each_month_alone(rdb: Session) -> None:
    add_request(rdb, JAN - timedelta(days=70), replied_at=None, closed_at=None)  # open since November
    add_request(rdb, JAN - timedelta(days=40), callback_at=JAN, satisfaction=Satisfaction.unsatisfied)
    for _ in range(3):
        add_request(rdb)
    add_request(rdb, JAN + timedelta(days=30), community=DONGYI)
    board = dashboard_view(rdb, month="2026-01", now=NOW, min_n=2)
    assert board.month == "2026-01"
    for level, shown in board.levels.items():
        alone = metrics_view(rdb, level=level, start="2026-01", end="2026-01", now=NOW, min_n=2)  # type: ignore[arg-type]
        assert shown.units == alone.units, level
    assert board.city.units[0].overdue_open == 1
    assert board.city.units[0].rates["satisfaction"].denominator == 4
    assert [u.period for u in board.series.units] == ["2025-11", "2025-12", "2026-01"]
    assert board.simulated
