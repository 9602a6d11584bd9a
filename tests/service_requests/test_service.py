"""The 12345 workflow: intake, routing, the state machine, callbacks, privacy."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.accounts.principal import Principal
from planwatch.datasets import chengdu_path
from planwatch.errors import CatalogueError, ConflictError, ForbiddenError, InvalidValueError, NotFoundError
from planwatch.models import Department, Division, RequestEvent, SecurityEvent, ServiceRequest
from planwatch.models.enums import RequestAction, RequestChannel, RequestState, Role, Satisfaction
from planwatch.service_requests.catalogue import load_service_types
from planwatch.service_requests.locate import Locator
from planwatch.service_requests.service import (
    TRANSITIONS,
    NewRequest,
    act,
    anonymise_closed,
    authenticate_client,
    create_client,
    open311_status,
    record_callback,
    reveal_reporter,
    submit_request,
)
from tests.conftest import settings_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHUIJINGFANG = (30.6471, 104.0821)  # near address point A-1 (水井坊社区)


@pytest.fixture
def settings(requests_url: str):
    return settings_for(requests_url)


def _ids(db: Session) -> dict[str, int]:
    return dict(db.execute(select(Division.code, Division.id)).all())


def _dept(db: Session, code: str) -> int:
    return db.execute(select(Department.id).where(Department.code == code)).scalar_one()


def dispatcher() -> Principal:
    return Principal(1, "operator", frozenset({Role.planner}))


def new(**fields: object) -> NewRequest:
    values: dict[str, object] = {"service_code": "elderly_care", "description": "小区附近没有老年食堂",
                                 "lat": SHUIJINGFANG[0], "lon": SHUIJINGFANG[1]}  # fmt: skip
    values.update(fields)
    return NewRequest(**values)  # type: ignore[arg-type]


def submit(db: Session, settings, **fields: object) -> ServiceRequest:
    return submit_request(
        db, new(**fields), channel=RequestChannel.web, actor="web", now=NOW, settings=settings
    )


def test_loading_the_types_again_changes_nothing(rdb: Session) -> None:
    report = load_service_types(rdb, chengdu_path("service_types.yaml"))
    assert report.unchanged
    assert report.types_created == 0


def test_a_bad_types_file_names_every_problem_and_loads_nothing(rdb: Session, tmp_path: Path) -> None:
    path = tmp_path / "types.yaml"
    path.write_text(
        "format: planwatch.service-types/v1\ntypes:\n"
        "  - {code: a, name: A, group: g, department: NOPE, deadline_hours: 0, response_hours: 1,"
        " duplicate: {radius_m: 100, window_days: 7}}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogueError) as caught:
        load_service_types(rdb, path)
    assert "types.0" in caught.value.message
    assert "deadline_hours" in caught.value.message


def test_a_point_is_located_in_its_community_street_and_district(rdb: Session) -> None:
    ids = _ids(rdb)
    where = Locator.from_session(rdb).locate(lat=SHUIJINGFANG[0], lon=SHUIJINGFANG[1])
    assert (where.division_id, where.street_id, where.district_id) == (
        ids["510104017001"],
        ids["510104017"],
        ids["510104"],
    )


def test_a_point_far_from_every_address_stays_at_its_district(rdb: Session) -> None:
    where = Locator.from_session(rdb).locate(lat=30.40, lon=104.55)  # 简阳市, no address points there
    assert where.division_id == where.district_id == _ids(rdb)["510185"]
    assert where.street_id is None


def test_address_text_is_located_by_the_division_names_it_holds(rdb: Session) -> None:
    ids = _ids(rdb)
    where = Locator.from_session(rdb).locate(address_string="锦江区东湖街道东怡社区 12栋")
    assert where.division_id == ids["510104018002"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lat": None, "lon": None}, "no location"),
        ({"lat": 39.9, "lon": 116.4}, "outside this jurisdiction"),
        ({"lat": 30.6, "lon": None}, "both lat and long"),
        ({"lat": None, "lon": None, "address_id": "NOPE"}, "not a known master address"),
        ({"lat": None, "lon": None, "address_string": "火星大道1号"}, "names no district"),
        ({"description": "x" * (5 * 2**20)}, "the limit is 4,000"),
        ({"phone": "call me"}, "not a phone number"),
        ({"service_code": "road_facility"}, r"attribute\[hazard\] is required"),
        ({"service_code": "road_facility", "attributes": {"hazard": "maybe"}}, "is not one of"),
        ({"attributes": {"nope": "1"}}, "not an attribute of elderly_care"),
        ({"attributes": {"age_of_person": "old"}}, "must be a number"),
    ],
)
def test_bad_requests_are_refused_with_the_field_named_and_nothing_stored(
    rdb: Session,
    settings,
    fields: dict[str, object],
    message: str,
) -> None:
    before = rdb.scalar(select(ServiceRequest.id).order_by(ServiceRequest.id.desc()).limit(1))
    with pytest.raises(InvalidValueError, match=message):
        submit(rdb, settings, **fields)
    assert rdb.scalar(select(ServiceRequest.id).order_by(ServiceRequest.id.desc()).limit(1)) == before


def test_an_unknown_service_code_is_not_found(rdb: Session, settings) -> None:
    with pytest.raises(NotFoundError, match="service_code 'nope'"):
        submit(rdb, settings, service_code="nope")


def test_a_request_is_routed_dispatched_and_given_its_deadlines(rdb: Session, settings) -> None:
    request = submit(
        rdb, settings, description="<script>alert(1)</script> 老人 13812345678", phone="13812345678"
    )
    assert request.state is RequestState.dispatched
    assert request.department_id == _dept(rdb, "CDMZJ")
    assert request.expected_at == NOW + timedelta(hours=168)
    assert request.response_due_at == NOW + timedelta(hours=24)
    assert request.description.startswith("<script>")  # stored as text, escaped where shown
    assert request.phone is not None
    assert "13812345678" not in request.phone
    assert [
        e.action for e in rdb.scalars(select(RequestEvent).where(RequestEvent.request_id == request.id))
    ] == [
        RequestAction.received,
        RequestAction.dispatched,
    ]
    assert open311_status(request) == "open"


def test_routing_rules_send_county_sanitation_to_the_county_government(rdb: Session, settings) -> None:
    request = submit(rdb, settings, service_code="sanitation", lat=30.86, lon=104.43)  # 金堂县
    assert request.department_id == _dept(rdb, "GOV-510121")
    other = submit(rdb, settings, service_code="other", description="其他")
    assert other.department_id == _dept(rdb, "GOV-510104")


def _walk(rdb: Session, request: ServiceRequest, *steps: RequestAction, **kw: object) -> None:
    for step in steps:
        act(rdb, request, step, now=NOW, principal=dispatcher(), note="已处理", **kw)  # type: ignore[arg-type]


def test_the_whole_workflow_from_intake_to_callback(rdb: Session, settings) -> None:
    request = submit(rdb, settings)
    _walk(rdb, request, RequestAction.accepted, RequestAction.contacted, RequestAction.replied)
    act(rdb, request, RequestAction.closed, now=NOW, principal=dispatcher())
    record_callback(
        rdb, request, resolved=True, satisfaction=Satisfaction.satisfied, now=NOW, principal=dispatcher()
    )
    assert request.state is RequestState.closed
    assert request.close_reason == "resolved"
    assert (request.accepted_at, request.contacted_at, request.replied_at, request.closed_at) == (NOW,) * 4
    assert request.resolved
    assert request.satisfaction is Satisfaction.satisfied
    assert open311_status(request) == "closed"


def test_a_step_the_state_does_not_allow_is_a_conflict(rdb: Session, settings) -> None:
    request = submit(rdb, settings)
    with pytest.raises(ConflictError, match=r"possible steps: .*accepted"):
        act(rdb, request, RequestAction.replied, now=NOW, principal=dispatcher(), note="x")


def test_a_reply_needs_a_note(rdb: Session, settings) -> None:
    request = submit(rdb, settings)
    act(rdb, request, RequestAction.accepted, now=NOW, principal=dispatcher())
    with pytest.raises(InvalidValueError, match="needs a note"):
        act(rdb, request, RequestAction.replied, now=NOW, principal=dispatcher())


def test_returned_transferred_and_reopened_requests_are_counted(rdb: Session, settings) -> None:
    request = submit(rdb, settings)
    act(rdb, request, RequestAction.returned, now=NOW, principal=dispatcher(), note="不属于本单位职责")
    assert request.state is RequestState.returned
    assert request.department_id is None
    act(rdb, request, RequestAction.transferred, now=NOW, principal=dispatcher(), note="转区政府",
        department_code="GOV-510104")  # fmt: skip
    assert request.department_id == _dept(rdb, "GOV-510104")
    _walk(rdb, request, RequestAction.accepted, RequestAction.replied)
    act(rdb, request, RequestAction.reopened, now=NOW, principal=dispatcher(), note="市民不满意,重办")
    assert (request.returned_count, request.reopened_count, request.state) == (1, 1, RequestState.dispatched)


def test_a_department_may_only_work_on_its_own_requests(rdb: Session, settings) -> None:
    request = submit(rdb, settings)
    mzj = Principal(
        2, "mzj", frozenset({Role.department_reporter}), departments=frozenset({_dept(rdb, "CDMZJ")})
    )
    wjw = Principal(
        3, "wjw", frozenset({Role.department_reporter}), departments=frozenset({_dept(rdb, "CDWJW")})
    )
    with pytest.raises(ForbiddenError, match="held by another unit"):
        act(rdb, request, RequestAction.accepted, now=NOW, principal=wjw)
    with pytest.raises(ForbiddenError):
        act(
            rdb, request, RequestAction.transferred, now=NOW, principal=mzj, note="x", department_code="CDWJW"
        )
    act(rdb, request, RequestAction.accepted, now=NOW, principal=mzj)
    assert request.state is RequestState.accepted


def test_district_staff_work_on_requests_held_by_their_district_government(rdb: Session, settings) -> None:
    ids = _ids(rdb)
    request = submit(rdb, settings, service_code="other", description="其他")
    jinjiang = Principal(4, "jj", frozenset({Role.district_reporter}), capture=frozenset({ids["510104"]}))
    act(rdb, request, RequestAction.accepted, now=NOW, principal=jinjiang)
    elsewhere = Principal(5, "qy", frozenset({Role.district_reporter}), capture=frozenset({ids["510105"]}))
    with pytest.raises(ForbiddenError):
        act(rdb, request, RequestAction.contacted, now=NOW, principal=elsewhere)


def test_community_shop_requests_go_to_the_street_office_whose_staff_and_district_handle_them(
    rdb: Session, settings
) -> None:
    ids = _ids(rdb)
    request = submit(rdb, settings, service_code="community_life", description="菜市场关门了,买菜不方便")
    assert request.street is not None
    assert request.street.code == "510104017"  # 锦官驿街道, where 水井坊社区 is
    office = rdb.get(Department, request.department_id)
    assert office is not None
    assert (office.code, office.name_zh) == ("GOV-510104017", "锦官驿街道办事处")
    street = Principal(6, "jgy", frozenset({Role.district_reporter}), capture=frozenset({ids["510104017"]}))
    act(rdb, request, RequestAction.accepted, now=NOW, principal=street)
    district = Principal(4, "jj", frozenset({Role.district_reporter}), capture=frozenset({ids["510104"]}))
    act(rdb, request, RequestAction.contacted, now=NOW, principal=district, note="已电话联系")
    other_street = Principal(
        7, "dh", frozenset({Role.district_reporter}), capture=frozenset({ids["510104018"]})
    )
    with pytest.raises(ForbiddenError):
        act(rdb, request, RequestAction.replied, now=NOW, principal=other_street, note="已处理")
    placed_at_district = submit(rdb, settings, service_code="community_life", lat=None, lon=None,
                                address_string="锦江区")  # fmt: skip
    assert placed_at_district.department_id == _dept(rdb, "GOV-510104")


def test_personal_data_is_revealed_only_with_a_reason_and_audited(rdb: Session, settings) -> None:
    request = submit(rdb, settings, phone="13812348000", first_name="王")
    with pytest.raises(InvalidValueError, match="reason"):
        reveal_reporter(rdb, dispatcher(), request, reason="", settings=settings, now=NOW)
    with pytest.raises(ForbiddenError):
        reveal_reporter(
            rdb,
            Principal(9, "r", frozenset({Role.reviewer})),
            request,
            reason="回访核实",
            settings=settings,
            now=NOW,
        )
    shown = reveal_reporter(rdb, dispatcher(), request, reason="回访核实诉求", settings=settings, now=NOW)
    assert shown["phone"] == "13812348000"
    assert shown["first_name"] == "王"
    audit = rdb.scalars(select(SecurityEvent).where(SecurityEvent.action == "pii.unmask")).all()
    assert any(e.object_id == str(request.id) for e in audit)


def test_closed_requests_are_anonymised_after_the_retention_period(rdb: Session, settings) -> None:
    request = submit(
        rdb,
        settings,
        phone="13812348000",
        description="我的电话13812348000",
        address_string="3栋 138 1234 8000",
    )
    _walk(rdb, request, RequestAction.accepted, RequestAction.replied)
    act(rdb, request, RequestAction.note, now=NOW, principal=dispatcher(), note="回电 028-85551234")
    act(rdb, request, RequestAction.closed, now=NOW, principal=dispatcher(), note="已联系 13812348000")
    assert anonymise_closed(rdb, now=NOW + timedelta(days=179), retention_days=180) == 0
    assert anonymise_closed(rdb, now=NOW + timedelta(days=181), retention_days=180) >= 1
    assert request.phone is None
    assert "138****8000" in request.description
    assert request.anonymised_at
    rdb.flush()
    notes = rdb.scalars(select(RequestEvent.note).where(RequestEvent.request_id == request.id)).all()
    stored = " ".join([request.address or "", request.status_notes or "", *(n or "" for n in notes)])
    assert not any(number in stored for number in ("13812348000", "1234 8000", "85551234"))
    assert "028-****1234" in stored
    assert anonymise_closed(rdb, now=NOW + timedelta(days=182), retention_days=180) == 0


def test_open311_clients_authenticate_by_key(rdb: Session) -> None:
    client, key = create_client(rdb, "wechat-app", actor="admin", now=NOW)
    assert authenticate_client(rdb, key, now=NOW).id == client.id
    for bad in (None, "", "o311_wrong"):
        with pytest.raises(ForbiddenError):
            authenticate_client(rdb, bad, now=NOW)


STEPS = [a for a in TRANSITIONS if a not in (RequestAction.callback,)]


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(STEPS), max_size=12))
def test_any_sequence_of_steps_keeps_the_state_and_its_timeline_consistent(
    rdb: Session,
    settings,
    steps: list[RequestAction],
) -> None:
    request = submit(rdb, settings)
    for step in steps:
        try:
            act(rdb, request, step, now=NOW, principal=dispatcher(), note="n", service_code="health",
                close_reason="resolved", department_code="CDWJW")  # fmt: skip
        except ConflictError:
            assert request.state not in TRANSITIONS[step][0]
    rdb.flush()
    events = rdb.scalars(
        select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.id)
    ).all()
    assert events[-1].to_state is request.state
    for before, after in itertools.pairwise(events):
        assert after.from_state is before.to_state
