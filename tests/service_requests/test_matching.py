"""Supply–demand matching: the pure ranking core, population estimates, facility import, and the
adapter with survey demand and request volume."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.errors import ImportFileError, InvalidValueError, NotFoundError
from planwatch.models import Facility, Population
from planwatch.models.enums import DivisionLevel, RequestChannel
from planwatch.service_requests.facilities import import_facilities
from planwatch.service_requests.matching import (
    GROUPS,
    PAIRS,
    DivisionInput,
    Standard,
    SupplyDemandPair,
    match_divisions,
    register_pair,
    supply_demand,
)
from planwatch.service_requests.service import NewRequest, submit_request
from planwatch.service_requests.survey_results import write_survey_indicators
from planwatch.service_requests.surveys import (
    define_survey,
    publish_survey,
    submit_answers,
    validate_survey_data,
)
from tests.conftest import settings_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JINJIANG, WUHOU = "510104", "510107"
STREET, OTHER_STREET, WUHOU_STREET = "510104017", "510104018", "510107001"
COMMUNITY = "510104017001"
HEADER = "id,type,name,lon,lat,capacity,division_code\n"
FACILITIES = HEADER + (
    "n1,nursing_home,锦江养老院,104.08,30.64,200,510104017001\n"
    "n2,nursing_home,东湖养老院,104.09,30.63,100,510104018\n"
    "d1,elderly_day_care,日间照料中心,104.08,30.64,,510104017002\n"
    "w1,nursing_home,武侯养老院,104.05,30.64,50,510107001\n"
    "c1,nursery,托育中心,104.08,30.64,60,510104017003\n"
    "x1,nursing_home,区级养老院,104.08,30.64,30,510104\n"
)

PAIR = SupplyDemandPair(
    code="t",
    name_zh="测试",
    name_en="Test",
    facility_types=("nursing_home",),
    group="60+",
    unit_zh="床",
    unit_en="beds",
    ratio_label_zh="老人/床",
    ratio_label_en="older residents per bed",
    standard=Standard(10, 1000, "60+", "每千人10床", "10 per 1,000", "test", "unverified"),
)


def unit(code: str, demand: float | None, supply: float, *, base: float | None = None) -> DivisionInput:
    return DivisionInput(
        division_id=None, code=code, name_zh=code, name_en=None, level="district", population=10_000.0,
        demand=demand, demand_estimated=False, base=demand if base is None else base, supply=supply,
        facilities=1 if supply else 0, without_capacity=0, requests=5,
    )  # fmt: skip


@pytest.fixture
def settings(requests_url: str) -> Settings:
    return settings_for(requests_url)


@pytest.fixture
def facilities(tmp_path: Path) -> Path:
    path = tmp_path / "facilities.csv"
    path.write_text(FACILITIES, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the pure core


def test_shortest_of_supply_first() -> None:
    """No supply with demand first (largest demand first), then the highest demand per unit."""
    rows = match_divisions(
        PAIR,
        [
            unit("a", 1000, 10),  # 100 per bed
            unit("b", 1000, 50),  # 20 per bed
            unit("c", 500, 0),  # no supply
            unit("d", 2000, 0),  # no supply, more demand
            unit("e", 0, 10),  # no demand: not ranked
            unit("f", None, 10),  # demand unknown: not ranked
        ],
    )
    assert [(r.code, r.rank) for r in rows] == [
        ("d", 1), ("c", 2), ("a", 3), ("b", 4), ("e", None), ("f", None),
    ]  # fmt: skip
    by_code = {r.code: r for r in rows}
    assert by_code["a"].ratio == 100
    assert by_code["a"].supply_per_1000 == 10
    assert by_code["a"].required == 10  # 10 beds per 1,000
    assert by_code["a"].gap == 0
    assert by_code["b"].gap == -40  # a surplus
    assert by_code["d"].no_supply
    assert by_code["d"].ratio is None
    assert by_code["a"].requests_per_10k == 5


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(0, 1e7, allow_subnormal=False)),
            st.one_of(st.just(0.0), st.floats(0.5, 1e5)),  # capacities: none, or half a place and up
        ),
        max_size=30,
    )
)
def test_ratio_and_rank_arithmetic(values: list[tuple[float | None, float]]) -> None:
    """ratio × supply = demand; ranks run 1..k over divisions with demand; gaps follow the standard."""
    rows = match_divisions(PAIR, [unit(f"u{i:02d}", d, s) for i, (d, s) in enumerate(values)])
    assert len(rows) == len(values)
    ranked = [r for r in rows if r.rank is not None]
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert {r.code for r in ranked} == {f"u{i:02d}" for i, (d, _) in enumerate(values) if d}
    for row in rows:
        if row.ratio is not None:
            assert row.ratio * row.supply == pytest.approx(row.demand)
        if row.demand is not None:
            assert row.gap == pytest.approx(row.demand * 10 / 1000 - row.supply)
    ratios = [r.ratio for r in ranked if not r.no_supply]
    assert ratios == sorted(ratios, reverse=True)
    assert all(r.no_supply for r in ranked[: sum(r.no_supply for r in ranked)])


def test_pairs_need_known_groups() -> None:
    """The registry refuses a group that is not defined."""
    with pytest.raises(InvalidValueError, match="unknown group"):
        register_pair(SupplyDemandPair("x", "x", "x", ("nursery",), "0-1", "", "", "", ""))
    assert {"elderly_beds", "childcare_places", "kindergarten_places", "canteen_seats"} <= set(PAIRS)
    assert PAIRS["elderly_beds"].standard is not None
    assert PAIRS["elderly_beds"].standard.verified == "unverified"
    assert GROUPS["0-2"].fraction == pytest.approx(0.2)


# ---------------------------------------------------------------- facility import


def test_facilities_import_once_and_re_run_changes_nothing(rdb: Session, facilities: Path) -> None:
    """Upsert by id; a second run is unchanged; a changed capacity is one update."""
    report = import_facilities(rdb, facilities)
    assert (report.created, report.updated, report.unchanged) == (6, 0, 0)
    assert report.types == {"elderly_day_care": 1, "nursery": 1, "nursing_home": 4}
    assert not report.simulated
    day_care = rdb.scalars(select(Facility).where(Facility.code == "d1")).one()
    assert day_care.capacity is None
    assert day_care.division.code == "510104017002"
    again = import_facilities(rdb, facilities)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    facilities.write_text(
        FACILITIES.replace(
            "n2,nursing_home,东湖养老院,104.09,30.63,100", "n2,nursing_home,东湖养老院,104.09,30.63,150"
        ),
        encoding="utf-8",
    )
    changed = import_facilities(rdb, facilities, simulated=False)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 5)


def test_a_simulated_column_marks_the_rows(rdb: Session, tmp_path: Path) -> None:
    """The file's simulated column, or the argument, labels the rows 模拟数据."""
    path = tmp_path / "sim.csv"
    path.write_text(
        HEADER.strip() + ",simulated\nn9,nursing_home,养老院,104.08,30.64,10,510104017,true\n",
        encoding="utf-8",
    )
    assert import_facilities(rdb, path).simulated
    assert rdb.scalars(select(Facility).where(Facility.code == "n9")).one().simulated
    assert not import_facilities(rdb, path, simulated=False).simulated


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + "a,nursing_home,A,104.0,30.6,10,510104017\nb,spaceship,B,104.0,30.6,1,510104017\n",
            "row 3, column 'type': unknown facility type 'spaceship'",
        ),
        (
            HEADER + "a,nursing_home,A,104.0,30.6,10,510104017\nb,nursery,B,104.0,30.6,ten,510104017\n",
            "row 3, column 'capacity': 'ten' is not a number",
        ),
        (
            HEADER + "a,nursing_home,A,104.0,30.6,10,510104017\nb,nursery,B,104.0,30.6,5,999999\n",
            "row 3, column 'division_code': '999999' is not a current division",
        ),
        (
            HEADER + "a,nursing_home,A,104.0,30.6,10,510104017\na,nursery,B,104.0,30.6,5,510104017\n",
            "row 3, column 'id': 'a' is used twice",
        ),
        (HEADER + "a,nursing_home,A,104.0,30.6,-1,510104017\n", "row 2, column 'capacity': -1 is below 0"),
        ("id,type,name,lon,lat,capacity\na,nursery,A,104.0,30.6,5\n", "column 'division_code' missing"),
        ("type,lon,lat\nnursery,104.0,30.6\n", "column 'id' missing"),
    ],
)
def test_bad_facility_files_name_the_row_and_column(
    rdb: Session, tmp_path: Path, text: str, message: str
) -> None:
    """All or nothing: a bad row stops the import before anything is written."""
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    before = len(rdb.scalars(select(Facility)).all())
    with pytest.raises(ImportFileError) as caught:
        import_facilities(rdb, path)
    assert "bad.csv" in caught.value.message
    assert message in caught.value.message
    assert len(rdb.scalars(select(Facility)).all()) == before


def test_only_csv_files(rdb: Session, tmp_path: Path) -> None:
    """Point layers have no reliable id column here: the message says to save as CSV."""
    path = tmp_path / "f.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"\.csv"):
        import_facilities(rdb, path)


# ---------------------------------------------------------------- the adapter


def _population(rdb: Session, code: str, band: str) -> float:
    from planwatch.models import Division

    return float(
        rdb.scalar(
            select(Population.population)
            .join(Division, Division.id == Population.division_id)
            .where(Division.code == code, Population.age_band == band, Population.year == 2020)
        )
        or 0
    )


def test_district_demand_and_supply(rdb: Session, facilities: Path) -> None:
    """A district's group is its band; supply sums capacity of the pair's types below it."""
    import_facilities(rdb, facilities)
    result = supply_demand(rdb, "elderly_beds", level=DivisionLevel.district)
    rows = {r.code: r for r in result.rows}
    assert len(rows) == 20
    assert rows[JINJIANG].demand == _population(rdb, JINJIANG, "60+")
    assert not rows[JINJIANG].demand_estimated
    assert rows[JINJIANG].supply == 330  # 200 + 100 + 30; the day-care centre has no capacity
    assert rows[JINJIANG].facilities == 4
    assert rows[JINJIANG].facilities_without_capacity == 1
    assert rows[WUHOU].supply == 50
    assert rows[JINJIANG].required == pytest.approx(35 * rows[JINJIANG].demand / 1000)
    assert result.total.supply == 380
    assert result.total.rank is None
    assert rows[JINJIANG].rank is not None
    assert rows[WUHOU].rank is not None
    assert rows[WUHOU].rank < rows[JINJIANG].rank  # 50 beds for Wuhou's older residents is shorter
    no_supply = [r for r in result.rows if r.no_supply]
    assert [r.rank for r in no_supply] == list(range(1, len(no_supply) + 1))
    assert any("no capacity" in note for note in result.estimates)
    assert "population" in result.simulated_sources  # the shipped district bands are simulated


def test_street_groups_are_estimated_from_the_district_share(rdb: Session, facilities: Path) -> None:
    """Streets have totals only: street 60+ = street total × district 60+ / district total."""
    import_facilities(rdb, facilities)
    result = supply_demand(rdb, "elderly_beds", level=DivisionLevel.street)
    row = next(r for r in result.rows if r.code == STREET)
    expected = (
        _population(rdb, STREET, "total")
        * _population(rdb, JINJIANG, "60+")
        / _population(rdb, JINJIANG, "total")
    )
    assert row.demand == pytest.approx(expected)
    assert row.demand_estimated
    assert row.supply == 200  # the district-level home is above the street level
    assert result.unplaced_facilities == 1
    assert any("district's share" in note for note in result.estimates)


def test_children_under_3_are_estimated_and_said_so(rdb: Session, facilities: Path) -> None:
    """Under-3s = 0–14 × 3/15; the childcare standard counts places per 1,000 residents."""
    import_facilities(rdb, facilities)
    result = supply_demand(rdb, "childcare_places", level=DivisionLevel.district)
    row = next(r for r in result.rows if r.code == JINJIANG)
    assert row.demand == pytest.approx(_population(rdb, JINJIANG, "0-14") * 3 / 15)
    assert row.demand_estimated
    assert row.supply == 60
    assert row.required == pytest.approx(4.5 * _population(rdb, JINJIANG, "total") / 1000)
    assert any("3/15" in note for note in result.estimates)
    assert result.pair.standard is not None
    assert result.pair.standard.verified == "secondary"


def test_survey_demand_and_request_volume_are_shown(rdb: Session, settings: Settings) -> None:
    """The survey indicator's share (aggregated from streets) and requests per 10,000 residents."""
    data = {
        "format": "planwatch.survey/v1", "code": "m-demand", "title": "需求",
        "questions": [{
            "code": "care", "kind": "single", "text": "需要养老服务吗?",
            "options": [{"key": "yes", "name": "需要"}, {"key": "no_need", "name": "不需要"}],
            "demand": {"indicator": "survey_elderly_care_demand_share", "options": ["yes"]},
        }],
    }  # fmt: skip
    survey, _ = define_survey(rdb, validate_survey_data(data), actor="t", now=NOW)
    publish_survey(rdb, survey, now=NOW)
    for division, care in (
        (STREET, "yes"),
        (STREET, "no_need"),
        (OTHER_STREET, "yes"),
        (WUHOU_STREET, "no_need"),
    ):
        submit_answers(rdb, survey, {"care": care}, division_code=division, identity=None,
                       channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip
    write_survey_indicators(rdb, survey, year=2026, actor="t", now=NOW)
    # a request's year is Beijing time: 01:00 on 1 January 2026 there is still 2025 in UTC
    for moment in (
        NOW,
        NOW,
        datetime(2025, 12, 31, 17, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 15, 0, tzinfo=UTC),
    ):
        submit_request(
            rdb,
            NewRequest(service_code="elderly_care", description="附近没有养老院", lat=30.6471, lon=104.0821),
            channel=RequestChannel.web, actor="t", now=moment, settings=settings,
        )  # fmt: skip
    rdb.expire_all()
    result = supply_demand(rdb, "elderly_beds", level=DivisionLevel.district)
    rows = {r.code: r for r in result.rows}
    assert result.survey_year == 2026
    assert rows[JINJIANG].survey_share == pytest.approx(200 / 3)
    assert rows[JINJIANG].survey_n == 3
    assert rows[WUHOU].survey_share == 0
    assert result.total.survey_share == pytest.approx(50.0)
    assert result.requests_year == 2026
    assert rows[JINJIANG].requests == 3
    assert rows[JINJIANG].requests_per_10k == pytest.approx(3e4 / _population(rdb, JINJIANG, "total"))
    assert rows[WUHOU].requests == 0
    assert any("aggregated from lower levels" in note for note in result.estimates)
    streets = {r.code: r for r in supply_demand(rdb, "elderly_beds", level=DivisionLevel.street).rows}
    assert streets[STREET].survey_share == 50
    assert streets[STREET].requests == 3


def test_unknown_pairs_and_levels(rdb: Session) -> None:
    """An unknown pair is 404 naming the pairs; the city is not a matching level."""
    with pytest.raises(NotFoundError, match="elderly_beds"):
        supply_demand(rdb, "spaceships")
    with pytest.raises(InvalidValueError, match="level"):
        supply_demand(rdb, "elderly_beds", level=DivisionLevel.city)
