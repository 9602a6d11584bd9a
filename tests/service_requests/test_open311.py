"""Open311 GeoReport v2 documents: XML and JSON serialisation, arguments, the request queries and
the views (no reporter identity, masked numbers, FixMyStreet statuses)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from defusedxml import ElementTree
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import ForbiddenError, InvalidValueError, NotFoundError
from planwatch.models import RequestEvent, ServiceRequest, ServiceType
from planwatch.models.enums import RequestAction, RequestChannel, RequestState
from planwatch.service_requests import open311
from planwatch.service_requests.open311 import Document
from planwatch.service_requests.service import NewRequest, act, create_client, submit_request
from tests.conftest import settings_for
from tests.service_requests.conformance import IDENTITY, check_xml, validate_json

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POINT = (30.6471, 104.0821)  # 水井坊社区, 锦江区


def xml_value(body: bytes, path: str) -> str | None:
    found = ElementTree.fromstring(body).find(path)
    assert found is not None
    return found.text


# ---------------------------------------------------------------------------------------------
# serialisation


def test_a_list_document_is_xml_items_and_a_top_level_json_array() -> None:
    doc = Document("services", [{"service_code": "a", "metadata": True, "keywords": None}])
    xml = open311.to_xml(doc)
    assert xml.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<services><service>')
    assert b"<metadata>true</metadata>" in xml
    assert b"<keywords />" in xml  # an empty element is null in JSON
    assert json.loads(open311.to_json(doc)) == [{"service_code": "a", "metadata": True, "keywords": None}]


def test_nested_lists_take_their_item_names() -> None:
    doc = Document(
        "service_definition",
        {"service_code": "x", "attributes": [{"code": "c", "values": [{"key": "k", "name": "n"}]}]},
    )
    root = ElementTree.fromstring(open311.to_xml(doc))
    assert root.find("attributes/attribute/values/value/key").text == "k"  # type: ignore[union-attr]
    assert json.loads(open311.to_json(doc))["attributes"][0]["values"] == [{"key": "k", "name": "n"}]


def test_numbers_booleans_and_datetimes_keep_their_types_in_json() -> None:
    moment = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    doc = Document("service_requests", [{"lat": 30.5, "order": 2, "closed": False, "at": moment}])
    assert json.loads(open311.to_json(doc)) == [
        {"lat": 30.5, "order": 2, "closed": False, "at": "2026-05-01T08:00:00+08:00"}
    ]
    assert xml_value(open311.to_xml(doc), "request/at") == "2026-05-01T08:00:00+08:00"


def test_a_stored_naive_datetime_is_utc_and_written_with_its_offset() -> None:
    assert open311.w3c(datetime(2026, 5, 1, 0, 0)) == "2026-05-01T08:00:00+08:00"
    assert open311.w3c(datetime(2026, 5, 1, 0, 0, 30, 999, tzinfo=UTC)) == "2026-05-01T08:00:30+08:00"


def test_errors_are_a_list_of_code_and_description() -> None:
    doc = open311.error_document([(400, "bad"), (404, "missing")])
    validate_json("errors", open311.to_json(doc))
    root = check_xml("errors", open311.to_xml(doc))
    assert [e.findtext("code") for e in root] == ["400", "404"]


def test_markup_in_text_is_escaped_in_both_formats_and_reads_back_as_text() -> None:
    text = '<script>alert("x")</script> & <b>'
    doc = Document("service_requests", [{"description": text}])
    xml, body = open311.to_xml(doc), open311.to_json(doc)
    assert b"<script>" not in xml
    assert b"&lt;script&gt;" in xml
    assert b"<" not in body
    assert b"&" not in body
    assert xml_value(xml, "request/description") == text
    assert json.loads(body)[0]["description"] == text


def _round_trips(text: str) -> tuple[str | None, str | None]:
    doc = Document("service_requests", [{"description": text}])
    return xml_value(open311.to_xml(doc), "request/description"), json.loads(open311.to_json(doc))[0][
        "description"
    ]


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))))
def test_any_text_reads_back_the_same_from_xml_and_json(text: str) -> None:
    from_xml, from_json = _round_trips(text)
    expected = open311.xml_text(text) or None
    assert from_xml == from_json == expected


ATOMS = ["a", "中", "😀", "<", ">", "&", '"', "'", "\t", "\n", "\r", "\r\n", " ", "]]>", "\u2028"]


@given(st.lists(st.sampled_from(ATOMS)).map("".join))
def test_text_xml_can_hold_comes_back_exactly_including_tabs_newlines_and_carriage_returns(text: str) -> None:
    assert _round_trips(text) == (text or None, text or None)


def test_characters_xml_cannot_hold_become_replacement_characters_in_both_formats() -> None:
    text = "a\x00b\x1bc\ud800d\ufffe"
    assert _round_trips(text) == ("a\ufffdb\ufffdc\ufffdd\ufffd",) * 2


# ---------------------------------------------------------------------------------------------
# arguments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01T00:00:00Z", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01T08:00:00+08:00", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01T08:00:00 08:00", datetime(2026, 5, 1, tzinfo=UTC)),  # '+' sent unencoded
        ("2026-05-01", datetime(2026, 4, 30, 16, tzinfo=UTC)),  # a date: Beijing midnight
        ("2026-05-01T08:00:00", datetime(2026, 5, 1, tzinfo=UTC)),
    ],
)
def test_w3c_arguments_are_read_with_their_offset_or_as_beijing_time(text: str, expected: datetime) -> None:
    assert open311.parse_w3c(text, "start_date") == expected


def test_a_bad_datetime_names_the_argument_and_the_format() -> None:
    with pytest.raises(InvalidValueError, match=r"start_date 'yesterday' is not a W3C datetime.*2026-05-01T"):
        open311.parse_w3c("yesterday", "start_date")


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    )
)
def test_written_datetimes_read_back_as_the_same_instant(moment: datetime) -> None:
    assert open311.parse_w3c(open311.w3c(moment), "start_date") == moment.replace(microsecond=0)


ARGUMENTS = [
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "page",
    "page_size",
    "extensions",
]


@given(st.dictionaries(st.sampled_from(ARGUMENTS), st.text(max_size=40)))
def test_any_query_string_is_either_understood_or_refused_as_a_bad_value(params: dict[str, str]) -> None:
    try:
        query = open311.parse_request_query(params, now=NOW)
    except InvalidValueError:
        return
    assert query.ids or (query.start is not None and query.end is not None)
    if query.start is not None and query.end is not None:
        assert timedelta(0) <= query.end - query.start <= timedelta(days=90)
    assert 1 <= query.page_size <= 1000


def test_the_default_window_is_the_last_90_days() -> None:
    query = open311.parse_request_query({}, now=NOW)
    assert (query.start, query.end) == (NOW - timedelta(days=90), NOW)
    assert (query.page, query.page_size, query.statuses) == (1, 1000, {"open", "closed"})


def test_one_end_of_the_window_sets_the_other_90_days_away() -> None:
    start = open311.parse_request_query({"start_date": "2026-01-01T00:00:00Z"}, now=NOW)
    assert start.end == datetime(2026, 4, 1, tzinfo=UTC)
    end = open311.parse_request_query({"end_date": "2026-01-01T00:00:00Z"}, now=NOW)
    assert end.start == datetime(2025, 10, 3, tzinfo=UTC)


def test_a_range_over_90_days_is_refused_with_its_length() -> None:
    with pytest.raises(InvalidValueError, match=r"spans 120\.0 days; Open311 allows at most 90 days"):
        open311.parse_request_query(
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, now=NOW
        )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "before start_date"),
        ({"status": "pending"}, "'pending' is not open or closed"),
        ({"page_size": "1001"}, "page_size must be a whole number from 1 to 1,000"),
        ({"page": "0"}, "page must be"),
        ({"page": "-1"}, "page must be"),
        ({"extensions": "yes"}, "extensions must be true or false"),
        ({"service_request_id": "12,abc"}, "'abc' is not a request number"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        open311.parse_request_query(params, now=NOW)


@pytest.mark.parametrize(
    "name",
    [
        "service_request_id",
        "service_code",
        "start_date",
        "end_date",
        "status",
        "page",
        "page_size",
        "extensions",
    ],
)
def test_an_argument_sent_empty_is_the_same_as_one_not_sent(name: str) -> None:
    assert open311.parse_request_query({name: ""}, now=NOW) == open311.parse_request_query({}, now=NOW)
    assert open311.parse_request_query({name: "  "}, now=NOW) == open311.parse_request_query({}, now=NOW)


def test_service_request_id_overrides_every_other_argument() -> None:
    query = open311.parse_request_query(
        {"service_request_id": "3, 1", "status": "bogus", "start_date": "never", "page_size": "0"}, now=NOW
    )
    assert query.ids == (3, 1)


def test_status_and_codes_are_comma_lists() -> None:
    query = open311.parse_request_query({"status": "open,closed", "service_code": "a, b"}, now=NOW)
    assert query.statuses == {"open", "closed"}
    assert query.service_codes == ("a", "b")


def test_jurisdiction_may_be_left_out_or_name_this_one() -> None:
    settings = settings_for("sqlite://")
    open311.check_jurisdiction({}, settings)
    open311.check_jurisdiction({"jurisdiction_id": ""}, settings)
    open311.check_jurisdiction({"jurisdiction_id": "Chengdu.gov.cn"}, settings)
    with pytest.raises(NotFoundError, match=r"'sfgov\.org' is not served here"):
        open311.check_jurisdiction({"jurisdiction_id": "sfgov.org"}, settings)


def test_only_xml_and_json_are_formats() -> None:
    assert open311.parse_format("xml") == "xml"
    with pytest.raises(NotFoundError, match="no format 'html'"):
        open311.parse_format("html")


def test_posted_fields_become_a_new_request_with_single_and_multiple_attributes() -> None:
    new = open311.new_request(
        [
            ("service_code", " road_facility "),
            ("lat", "30.6"),
            ("long", "104.0"),
            ("attribute[hazard]", "yes"),
            ("attribute[kinds][]", "a"),
            ("attribute[kinds][]", "b"),
            ("email", ""),
            ("phone", "13912345678"),
        ]
    )
    assert (new.service_code, new.lat, new.lon, new.email, new.phone) == (
        "road_facility",
        30.6,
        104.0,
        None,
        "13912345678",
    )
    assert new.attributes == {"hazard": "yes", "kinds": ["a", "b"]}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("lat", "1")], "service_code is required"),
        ([("service_code", "x"), ("lat", "north"), ("long", "104")], "lat 'north' is not a number"),
        ([("service_code", "x"), ("lat", "30"), ("long", "inf")], "long 'inf' is not a number"),
        ([("service_code", "x"), ("lat", "nan"), ("long", "1")], "lat 'nan' is not a number"),
    ],
)
def test_bad_posted_fields_are_named(fields: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        open311.new_request(fields)


# ---------------------------------------------------------------------------------------------
# queries and views (on the small requests database, rolled back)


@pytest.fixture
def settings(requests_url: str):
    return settings_for(requests_url)


def _submit(
    db: Session, settings, *, at: datetime, code: str = "sanitation", **fields: object
) -> ServiceRequest:
    values: dict[str, object] = {
        "service_code": code,
        "description": "垃圾桶满了",
        "lat": POINT[0],
        "lon": POINT[1],
    }
    values.update(fields)
    return submit_request(
        db,
        NewRequest(**values),
        channel=RequestChannel.open311,
        actor="open311:test",
        now=at,
        settings=settings,
    )  # type: ignore[arg-type]


def _close(db: Session, request: ServiceRequest, at: datetime) -> None:
    for action, note in (
        (RequestAction.accepted, None),
        (RequestAction.contacted, None),
        (RequestAction.replied, "已清运 / collected"),
    ):
        act(db, request, action, now=at, actor="unit", note=note)
    act(db, request, RequestAction.closed, now=at, actor="centre", close_reason="resolved")


@pytest.fixture
def history(rdb: Session, settings) -> dict[str, ServiceRequest]:
    """Five requests: three recent (one closed, one of another type), one old, one simulated."""
    requests = {
        "open": _submit(
            rdb, settings, at=NOW - timedelta(days=1), description="电话 13812345678 的王先生反映"
        ),
        "closed": _submit(rdb, settings, at=NOW - timedelta(days=2)),
        "other": _submit(
            rdb, settings, at=NOW - timedelta(days=3), code="elderly_care", description="老年食堂"
        ),
        "old": _submit(rdb, settings, at=NOW - timedelta(days=100)),
        "simulated": _submit(rdb, settings, at=NOW - timedelta(days=4)),
    }
    _close(rdb, requests["closed"], NOW - timedelta(days=1))
    requests["simulated"].simulated = True
    rdb.flush()
    return requests


def _ids(query: open311.RequestQuery, db: Session) -> list[int]:
    return [r.id for r in open311.query_requests(db, query)]


def test_requests_in_the_default_window_newest_first(
    rdb: Session, history: dict[str, ServiceRequest]
) -> None:
    found = _ids(open311.parse_request_query({}, now=NOW), rdb)
    expected = [history[k].id for k in ("open", "closed", "other", "simulated")]
    assert found[: len(expected)] == expected
    assert history["old"].id not in found


def test_requests_filtered_by_status_code_and_ids(rdb: Session, history: dict[str, ServiceRequest]) -> None:
    closed = _ids(open311.parse_request_query({"status": "closed"}, now=NOW), rdb)
    assert history["closed"].id in closed
    assert history["open"].id not in closed
    opened = _ids(open311.parse_request_query({"status": "open"}, now=NOW), rdb)
    assert history["open"].id in opened
    assert history["closed"].id not in opened
    other = _ids(open311.parse_request_query({"service_code": "elderly_care"}, now=NOW), rdb)
    assert history["other"].id in other
    assert history["open"].id not in other
    ids = f"{history['old'].id},{history['open'].id}"
    assert _ids(
        open311.parse_request_query({"service_request_id": ids, "status": "closed"}, now=NOW), rdb
    ) == sorted([history["old"].id, history["open"].id])


def test_pages_partition_the_window(rdb: Session, history: dict[str, ServiceRequest]) -> None:
    everything = _ids(open311.parse_request_query({}, now=NOW), rdb)
    pages = [
        _ids(open311.parse_request_query({"page": str(p), "page_size": "2"}, now=NOW), rdb)
        for p in range(1, len(everything) // 2 + 3)
    ]
    assert [i for page in pages for i in page] == everything
    assert all(len(page) <= 2 for page in pages)


def test_the_list_never_holds_reporter_identity_and_masks_numbers(
    rdb: Session, history: dict[str, ServiceRequest], settings
) -> None:
    request = _submit(
        rdb, settings, at=NOW, phone="13912345678", email="wang@example.com", first_name="王小明",
        last_name="王", device_id="device-canary", account_id="account-canary",
        description="身份证 510104199001011234,电话 13812345678",
    )  # fmt: skip
    doc = open311.requests_document(rdb, open311.RequestQuery(ids=(request.id,), extensions=True))
    for body in (open311.to_xml(doc), open311.to_json(doc)):
        text = body.decode()
        for canary in ("13912345678", "wang@example.com", "王小明", "device-canary", "account-canary"):
            assert canary not in text
        assert "13812345678" not in text
        assert "510104199001011234" not in text
        assert "138****5678" in text
    item = doc.content[0]
    assert not set(IDENTITY) & set(item)


def test_a_request_document_carries_the_spec_fields(rdb: Session, history: dict[str, ServiceRequest]) -> None:
    doc = open311.request_document(rdb, str(history["closed"].id))
    data = validate_json("requests", open311.to_json(doc))
    check_xml("requests", open311.to_xml(doc))
    (item,) = data
    closed = history["closed"]
    assert item["status"] == "closed"
    assert item["status_notes"] == "已清运 / collected"
    assert item["service_code"] == "sanitation"
    assert item["service_name"] == "环境卫生"
    assert item["agency_responsible"]
    assert item["updated_datetime"] == open311.w3c(closed.closed_at)  # type: ignore[arg-type]
    assert item["expected_datetime"] == open311.w3c(closed.expected_at)
    assert (item["lat"], item["long"]) == POINT


def test_simulated_requests_say_so_in_their_notice(rdb: Session, history: dict[str, ServiceRequest]) -> None:
    doc = open311.request_document(rdb, str(history["simulated"].id), extensions=True)
    (item,) = doc.content
    assert "模拟数据" in item["service_notice"]
    assert item["extended_attributes"]["simulated"] is True


def test_extensions_add_the_internal_state_and_the_public_timeline(
    rdb: Session, history: dict[str, ServiceRequest]
) -> None:
    doc = open311.request_document(rdb, str(history["closed"].id), extensions=True)
    data = validate_json("requests", open311.to_json(doc))
    check_xml("requests", open311.to_xml(doc))
    (item,) = data
    assert item["extended_attributes"]["state"] == "closed"
    assert item["extended_attributes"]["state_zh"] == "已办结"
    assert [n["type"] for n in item["notes"]] == [
        "received", "dispatched", "accepted", "contacted", "replied", "closed"
    ]  # fmt: skip


def test_an_unknown_request_or_token_is_not_found(rdb: Session, history: dict[str, ServiceRequest]) -> None:
    with pytest.raises(NotFoundError):
        open311.request_document(rdb, "999999999")
    with pytest.raises(NotFoundError):
        open311.request_document(rdb, "abc")
    with pytest.raises(NotFoundError):
        open311.token_document(rdb, "nope")
    token = open311.token_document(rdb, history["open"].token)
    assert validate_json("token", open311.to_json(token)) == [
        {"service_request_id": str(history["open"].id), "token": history["open"].token}
    ]


def test_the_service_list_and_definitions_follow_the_spec(rdb: Session) -> None:
    services = validate_json("services", open311.to_json(open311.services_document(rdb)))
    check_xml("services", open311.to_xml(open311.services_document(rdb)))
    by_code = {s["service_code"]: s for s in services}
    assert by_code["education"]["metadata"] is True
    assert by_code["childcare"]["metadata"] is False
    definition = open311.service_definition_document(rdb, "education")
    data = validate_json("service_definition", open311.to_json(definition))
    check_xml("service_definition", open311.to_xml(definition))
    (attribute,) = data["attributes"]
    assert attribute["datatype"] == "singlevaluelist"
    assert attribute["variable"] is True
    assert {"key": "primary", "name": "小学"} in attribute["values"]
    with pytest.raises(NotFoundError, match="'nope' is not a request type"):
        open311.service_definition_document(rdb, "nope")


def test_the_discovery_changeset_follows_the_service_definitions(rdb: Session) -> None:
    settings = settings_for("sqlite://")
    first = open311.discovery_document(rdb, url="http://x/open311/v2", settings=settings)
    validate_json("discovery", open311.to_json(first))
    check_xml("discovery", open311.to_xml(first))
    again = open311.discovery_document(rdb, url="http://y", settings=settings)
    assert again.content["changeset"] == first.content["changeset"]  # type: ignore[call-overload]
    education = rdb.scalars(select(ServiceType).where(ServiceType.code == "education")).one()
    education.description = "changed"
    rdb.flush()
    second = open311.discovery_document(rdb, url="http://x", settings=settings)
    assert second.content["changeset"] != first.content["changeset"]  # type: ignore[call-overload]


# ---------------------------------------------------------------------------------------------
# FixMyStreet updates


def _event(action: RequestAction, to_state: RequestState) -> RequestEvent:
    return RequestEvent(action=action, to_state=to_state, at=NOW, actor="x", public=True)


@pytest.mark.parametrize(
    ("action", "to_state", "close_reason", "expected"),
    [
        (RequestAction.received, RequestState.received, None, "OPEN"),
        (RequestAction.dispatched, RequestState.dispatched, None, "OPEN"),
        (RequestAction.accepted, RequestState.accepted, None, "INVESTIGATING"),
        (RequestAction.contacted, RequestState.in_progress, None, "INVESTIGATING"),
        (RequestAction.progress, RequestState.in_progress, None, "IN_PROGRESS"),
        (RequestAction.replied, RequestState.replied, None, "IN_PROGRESS"),
        (RequestAction.returned, RequestState.returned, None, "INTERNAL_REFERRAL"),
        (RequestAction.transferred, RequestState.dispatched, None, "INTERNAL_REFERRAL"),
        (RequestAction.reopened, RequestState.dispatched, None, "REOPEN"),
        (RequestAction.closed, RequestState.closed, "resolved", "FIXED"),
        (RequestAction.closed, RequestState.closed, "duplicate", "DUPLICATE"),
        (RequestAction.closed, RequestState.closed, "not_responsible", "NOT_COUNCILS_RESPONSIBILITY"),
        (RequestAction.closed, RequestState.closed, "no_further_action", "NO_FURTHER_ACTION"),
        (RequestAction.closed, RequestState.closed, None, "CLOSED"),
        (RequestAction.note, RequestState.accepted, None, "INVESTIGATING"),
        (RequestAction.classified, RequestState.received, None, "OPEN"),
    ],
)
def test_fixmystreet_statuses(
    action: RequestAction, to_state: RequestState, close_reason: str | None, expected: str
) -> None:
    state = RequestState.closed if close_reason else to_state
    request = ServiceRequest(state=state, close_reason=close_reason)
    assert open311.fms_status(_event(action, to_state), request) == expected


def test_updates_are_the_public_steps_in_the_window_oldest_first(
    rdb: Session, history: dict[str, ServiceRequest]
) -> None:
    doc = open311.updates_document(rdb, open311.parse_update_query({}, now=NOW))
    data = validate_json("request_updates", open311.to_json(doc))
    check_xml("request_updates", open311.to_xml(doc))
    closed = [u for u in data if u["service_request_id"] == str(history["closed"].id)]
    assert [u["external_status_code"] for u in closed] == [
        "OPEN",
        "OPEN",
        "INVESTIGATING",
        "INVESTIGATING",
        "IN_PROGRESS",
        "FIXED",
    ]
    assert closed[-1]["status"] == "closed"
    assert [u["updated_datetime"] for u in data] == sorted(u["updated_datetime"] for u in data)
    assert all(u["service_request_id"] != str(history["old"].id) for u in data)


def test_a_citizen_update_is_a_public_note_on_the_clients_own_request(
    rdb: Session, settings, history: dict[str, ServiceRequest]
) -> None:
    mine, _ = create_client(rdb, "mine", actor="test", now=NOW)
    theirs, _ = create_client(rdb, "theirs", actor="test", now=NOW)
    request = history["open"]
    request.client_id = mine.id
    fields = [
        ("service_request_id", str(request.id)),
        ("description", "还没清运"),
        ("media_url", "https://x.cn/p.jpg"),
    ]
    event = open311.add_citizen_update(rdb, fields, client=mine, now=NOW)
    assert (event.action, event.public, event.actor) == (RequestAction.note, True, "open311:mine")
    assert event.note == "还没清运\n附件 / media: https://x.cn/p.jpg"
    assert validate_json("update_created", open311.to_json(open311.update_created_document(event))) == [
        {"update_id": str(event.id)}
    ]
    with pytest.raises(ForbiddenError, match="not submitted through this api_key"):
        open311.add_citizen_update(rdb, fields, client=theirs, now=NOW)
    with pytest.raises(NotFoundError):
        open311.add_citizen_update(
            rdb, [("service_request_id", "99999999"), ("description", "x")], client=mine, now=NOW
        )
    with pytest.raises(InvalidValueError, match="description is required"):
        open311.add_citizen_update(rdb, [("service_request_id", str(request.id))], client=mine, now=NOW)
    with pytest.raises(InvalidValueError, match="media_url must be"):
        open311.add_citizen_update(
            rdb, [*fields[:2], ("media_url", "javascript:alert(1)")], client=mine, now=NOW
        )


def test_the_created_answer_names_the_handling_unit_and_deadline(rdb: Session, settings) -> None:
    request = _submit(rdb, settings, at=NOW)
    doc = open311.created_document(request)
    (item,) = validate_json("request_created", open311.to_json(doc))
    check_xml("request_created", open311.to_xml(doc))
    assert item["service_request_id"] == str(request.id)
    assert open311.w3c(request.expected_at) in item["service_notice"]
