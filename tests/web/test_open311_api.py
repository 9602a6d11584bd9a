"""Open311 GeoReport v2 against the running server: the GET calls through a foreign client (PyPI
``georeport``), POSTs over real HTTP, every body checked against the spec (JSON Schemas, XML
element structure), bad input, the rate limit, and no reporter identity in any GET output.

POSTs write requests, so the module runs its own server on a fresh requests database instead of
the shared demo one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest
from georeport import GeoReport
from sqlalchemy import func, select

from planwatch.clock import system_clock
from planwatch.db import make_engine, session_factory, transaction
from planwatch.models import ServiceRequest
from planwatch.models.enums import RequestAction, RequestChannel
from planwatch.service_requests.service import NewRequest, act, create_client, submit_request
from tests.conftest import LiveServer, database_url, run_live_server, settings_for
from tests.service_requests.conformance import check, check_xml, validate_json
from tests.service_requests.conftest import build_requests_database

RATE = 6
"""POSTs per api_key per minute on this server (low, so the flood test is quick)."""
POINT = {"lat": "30.6471", "long": "104.0821"}  # 水井坊社区, 锦江区
CANARIES = ("13912345678", "canary@example.com", "王小明", "隐私姓", "device-canary-7", "account-canary-7")
"""The seeded reporter's identity: none of it may appear in any GET output."""
BASE = "/open311/v2"
FORMATS = ("xml", "json")


def _as_list(value: Any) -> list[Any]:
    """xmltodict turns a one-item XML list into a dict (and an empty one into None)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def open311_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    """A server on its own requests database with three requests: one whose reporter left every
    kind of identity (the canaries), one closed, one older than the 90-day window."""
    url = database_url(backend, tmp_path_factory, "open311")
    build_requests_database(url)
    settings = settings_for(url, requests_per_minute=RATE)
    now = system_clock()
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as db:

            def submit(at: datetime, **fields: Any) -> ServiceRequest:
                values = {"service_code": "sanitation", "lat": 30.6471, "lon": 104.0821, **fields}
                return submit_request(db, NewRequest(**values), channel=RequestChannel.hotline, actor="hotline",
                                      now=at, settings=settings)  # fmt: skip

            canary = submit(
                now - timedelta(hours=2), description="电话13912345678,垃圾满了", phone="13912345678",
                email="canary@example.com", first_name="王小明", last_name="隐私姓", device_id="device-canary-7",
                account_id="account-canary-7",
            )  # fmt: skip
            closed = submit(now - timedelta(days=3), service_code="childcare", description="托位不够")
            for action, note in (
                (RequestAction.accepted, None),
                (RequestAction.replied, "已答复 / answered"),
            ):
                act(db, closed, action, now=now - timedelta(days=2), actor="unit", note=note)
            act(
                db,
                closed,
                RequestAction.closed,
                now=now - timedelta(days=1),
                actor="centre",
                close_reason="resolved",
            )
            old = submit(now - timedelta(days=200), description="很久以前")
            ids = {"canary": canary.id, "closed": closed.id, "old": old.id, "canary_token": canary.token}
    finally:
        engine.dispose()
    for server in run_live_server(settings):
        yield server, ids


@pytest.fixture
def server(open311_server: tuple[LiveServer, dict[str, Any]]) -> LiveServer:
    return open311_server[0]


@pytest.fixture
def seeded(open311_server: tuple[LiveServer, dict[str, Any]]) -> dict[str, Any]:
    return open311_server[1]


_names = count()


@pytest.fixture
def new_key(server: LiveServer) -> Callable[[], str]:
    """A factory of fresh api_keys (each with its own rate budget)."""

    def make() -> str:
        engine = make_engine(server.settings.database_url)
        try:
            with transaction(session_factory(engine)) as db:
                _, key = create_client(db, f"client-{next(_names)}", actor="test", now=system_clock())
        finally:
            engine.dispose()
        return key

    return make


@pytest.fixture
def key(new_key: Callable[[], str]) -> str:
    return new_key()


def stored_requests(server: LiveServer) -> int:
    engine = make_engine(server.settings.database_url)
    try:
        with session_factory(engine)() as db:
            return int(db.scalar(select(func.count(ServiceRequest.id))) or 0)
    finally:
        engine.dispose()


def get(server: LiveServer, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{server.url}{BASE}{path}", params=params, timeout=10)


def post(server: LiveServer, path: str, data: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}{BASE}{path}", data=data, timeout=30)


def error_text(response: httpx.Response, fmt: str) -> str:
    """The description of the single error of an errors document, after checking it."""
    if fmt == "json":
        (error,) = validate_json("errors", response.content)
        assert error["code"] == response.status_code
        return str(error["description"])
    root = check_xml("errors", response.content)
    assert root.findtext("error/code") == str(response.status_code)
    return str(root.findtext("error/description"))


def client(server: LiveServer, fmt: str) -> GeoReport:
    return GeoReport(server.url + BASE, output_format=fmt)


# ---------------------------------------------------------------------------------------------
# GET through the foreign client


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_lists_this_endpoint_in_both_formats(server: LiveServer, fmt: str) -> None:
    """Discovery is offered in XML and JSON and names this endpoint and its formats."""
    response = get(server, f"/discovery.{fmt}")
    assert (
        response.headers["content-type"]
        == f"{'text/xml' if fmt == 'xml' else 'application/json'}; charset=utf-8"
    )
    body = check("discovery", fmt, response.content)
    url = body["endpoints"][0]["url"] if fmt == "json" else body.findtext("endpoints/endpoint/url")
    assert url == server.url + BASE


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_service_list_through_georeport(server: LiveServer, fmt: str) -> None:
    """georeport reads every request type, the same in both formats."""
    services = _as_list(client(server, fmt).get_service_list())
    assert len(services) == 19
    by_code = {s["service_code"]: s for s in services}
    assert by_code["education"]["service_name"] == "教育入学"
    assert str(by_code["education"]["metadata"]).lower() == "true"
    check("services", fmt, get(server, f"/services.{fmt}").content)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_service_definition_through_georeport(server: LiveServer, fmt: str) -> None:
    """georeport reads a type's attributes with their list values."""
    definition = client(server, fmt).get_service_definition("road_facility")
    attributes = definition["attributes"]
    attribute = _as_list(attributes["attribute"] if fmt == "xml" else attributes)[0]
    assert attribute["code"] == "hazard"
    assert str(attribute["required"]).lower() == "true"
    values = attribute["values"]["value"] if fmt == "xml" else attribute["values"]
    assert {v["key"] for v in _as_list(values)} >= {"yes", "no"}
    check("service_definition", fmt, get(server, f"/services/road_facility.{fmt}").content)


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_and_one_request_through_georeport(
    server: LiveServer, seeded: dict[str, Any], fmt: str
) -> None:
    """georeport lists requests (the last 90 days by default) and reads one."""
    geo = client(server, fmt)
    listed = {r["service_request_id"]: r for r in _as_list(geo.get_service_requests())}
    assert {str(seeded["canary"]), str(seeded["closed"])} <= set(listed)
    assert str(seeded["old"]) not in listed
    closed = _as_list(geo.get_service_requests(status="closed"))
    assert [r["service_request_id"] for r in closed] == [str(seeded["closed"])]
    one = geo.get_service_request(str(seeded["closed"]))
    assert one["status"] == "closed"
    assert one["service_code"] == "childcare"
    assert one["status_notes"] == "已答复 / answered"
    assert one["agency_responsible"]
    check("requests", fmt, get(server, f"/requests.{fmt}").content)
    check("requests", fmt, get(server, f"/requests/{seeded['closed']}.{fmt}").content)


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_filters_paging_and_extensions(server: LiveServer, seeded: dict[str, Any], fmt: str) -> None:
    """Ids override the window; pages split the list; extensions add the state and timeline."""
    ids = f"{seeded['old']},{seeded['canary']}"
    by_id = check(
        "requests", "json", get(server, "/requests.json", service_request_id=ids, status="closed").content
    )
    assert [r["service_request_id"] for r in by_id] == sorted(
        [str(seeded["old"]), str(seeded["canary"])], key=int
    )
    first = check("requests", "json", get(server, "/requests.json", page="1", page_size="1").content)
    second = check("requests", "json", get(server, "/requests.json", page="2", page_size="1").content)
    assert len(first) == len(second) == 1
    assert first[0]["service_request_id"] != second[0]["service_request_id"]
    extended = get(server, f"/requests/{seeded['closed']}.{fmt}", extensions="true")
    body = check("requests", fmt, extended.content)
    if fmt == "json":
        assert body[0]["extended_attributes"]["state"] == "closed"
        assert body[0]["notes"][-1]["type"] == "closed"
    else:
        assert body.findtext("request/extended_attributes/state_zh") == "已办结"
        assert [n.findtext("type") for n in body.iterfind("request/notes/note")][-1] == "closed"


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        (
            "/requests.{fmt}",
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
            400,
            "at most 90 days",
        ),
        ("/requests.{fmt}", {"status": "pending"}, 400, "'pending' is not open or closed"),
        ("/requests.{fmt}", {"page_size": "5000"}, 400, "page_size must be"),
        ("/requests.{fmt}", {"start_date": "last week"}, 400, "not a W3C datetime"),
        ("/requests.{fmt}", {"jurisdiction_id": "sfgov.org"}, 404, "'sfgov.org' is not served here"),
        ("/requests/987654321.{fmt}", {}, 404, "no service request"),
        ("/services/nope.{fmt}", {}, 404, "'nope' is not a request type"),
        ("/tokens/nope.{fmt}", {}, 404, "no service request has the token"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_gets_answer_the_spec_error_document(
    server: LiveServer, fmt: str, path: str, params: dict[str, str], status: int, message: str
) -> None:
    """400 for a bad argument, 404 for what does not exist, in the requested format."""
    response = get(server, path.format(fmt=fmt), **params)
    assert response.status_code == status
    assert message in error_text(response, fmt)


def test_the_jurisdiction_may_be_named(server: LiveServer) -> None:
    """The endpoint's own jurisdiction_id is accepted, and an empty one is like none."""
    assert get(server, "/services.xml", jurisdiction_id="chengdu.gov.cn").status_code == 200
    assert get(server, "/services.xml", jurisdiction_id="").status_code == 200


def test_an_unknown_format_or_resource_is_a_spec_404_in_xml(server: LiveServer) -> None:
    """A format other than xml/json, or a resource the spec has not, answers the XML error."""
    for path in ("/services.html", "/services", "/nothing/here.json"):
        response = get(server, path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(("text/xml", "application/json"))
    assert "no format 'html'" in error_text(get(server, "/services.html"), "xml")
    assert "no Open311 resource" in error_text(get(server, "/nothing/here.json"), "json")


# ---------------------------------------------------------------------------------------------
# POST


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_posted_request_is_created_and_can_be_read_back(server: LiveServer, key: str, fmt: str) -> None:
    """POST answers the new id and a notice; the request then lists, and its token resolves."""
    response = post(server, f"/requests.{fmt}", {"api_key": key, "service_code": "road_facility", **POINT,
                    "attribute[hazard]": "yes", "description": "井盖缺失\n很危险", "phone": "13800000000"})  # fmt: skip
    assert response.status_code == 200, response.text
    created = check("request_created", fmt, response.content)
    new_id = (
        created[0]["service_request_id"] if fmt == "json" else created.findtext("request/service_request_id")
    )
    notice = created[0]["service_notice"] if fmt == "json" else created.findtext("request/service_notice")
    assert "expected by" in notice
    (item,) = check("requests", "json", get(server, f"/requests/{new_id}.json").content)
    assert item["description"] == "井盖缺失\n很危险"
    assert (item["service_code"], item["status"]) == ("road_facility", "open")
    engine = make_engine(server.settings.database_url)
    try:
        with session_factory(engine)() as db:
            token = db.scalar(select(ServiceRequest.token).where(ServiceRequest.id == int(new_id)))
    finally:
        engine.dispose()
    resolved = check("token", fmt, get(server, f"/tokens/{token}.{fmt}").content)
    assert (
        resolved[0]["service_request_id"]
        if fmt == "json"
        else resolved.findtext("request/service_request_id")
    ) == new_id


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("api_key", [None, "", "o311_not-a-real-key"])
def test_a_post_without_a_good_api_key_is_403(server: LiveServer, fmt: str, api_key: str | None) -> None:
    """No key, an empty key and an unknown key are refused with 403 and nothing stored."""
    before = stored_requests(server)
    data = {"service_code": "sanitation", **POINT} | ({"api_key": api_key} if api_key is not None else {})
    response = post(server, f"/requests.{fmt}", data)
    assert response.status_code == 403
    assert "api_key" in error_text(response, fmt)
    assert stored_requests(server) == before


BAD_POSTS = [
    ({"service_code": "no_such_type", **POINT}, 404, "'no_such_type' is not a request type"),
    ({**POINT}, 400, "service_code is required"),
    ({"service_code": "sanitation"}, 400, "give lat and long, or address_string, or address_id"),
    ({"service_code": "sanitation", "lat": "39.9", "long": "116.4"}, 400, "outside this jurisdiction"),
    ({"service_code": "sanitation", "lat": "north", "long": "104.08"}, 400, "lat 'north' is not a number"),
    ({"service_code": "sanitation", "lat": "30.6"}, 400, "give both lat and long"),
    ({"service_code": "road_facility", **POINT}, 400, "attribute[hazard] is required"),
    ({"service_code": "sanitation", "jurisdiction_id": "sfgov.org", **POINT}, 404, "is not served here"),
    ({"service_code": "sanitation", "media_url": "javascript:alert(1)", **POINT}, 400, "media_url must be"),
]


@pytest.mark.parametrize(("data", "status", "message"), BAD_POSTS)
def test_bad_posts_are_refused_clearly_and_store_nothing(
    server: LiveServer, new_key: Callable[[], str], data: dict[str, str], status: int, message: str
) -> None:
    """Each bad input answers its spec status with the field named; nothing is stored."""
    before = stored_requests(server)
    response = post(server, "/requests.json", {"api_key": new_key(), **data})
    assert response.status_code == status
    assert message in error_text(response, "json")
    assert stored_requests(server) == before


def test_a_5_mb_description_is_refused_with_its_length_and_the_limit(server: LiveServer, key: str) -> None:
    """A 5 MB description does not crash the server: 400 saying how long and what the limit is."""
    before = stored_requests(server)
    response = post(server, "/requests.xml", {"api_key": key, "service_code": "sanitation", **POINT,
                                             "description": "x" * (5 * 2**20)})  # fmt: skip
    assert response.status_code == 400
    assert "description is 5,242,880 characters long; the limit is 4,000" in error_text(response, "xml")
    assert stored_requests(server) == before
    assert get(server, "/services.xml").status_code == 200


def test_markup_in_a_description_is_stored_as_text_and_escaped_in_every_output(
    server: LiveServer, key: str
) -> None:
    """HTML and script come back as the same text, escaped in XML and never raw in JSON."""
    text = '<script>alert("x")</script><img src=x onerror=alert(1)> & 井盖'
    created = post(
        server, "/requests.json", {"api_key": key, "service_code": "sanitation", **POINT, "description": text}
    )
    new_id = validate_json("request_created", created.content)[0]["service_request_id"]
    as_xml = get(server, f"/requests/{new_id}.xml")
    assert b"<script>" not in as_xml.content
    assert b'&lt;script&gt;alert("x")&lt;/script&gt;&lt;img' in as_xml.content
    assert check_xml("requests", as_xml.content).findtext("request/description") == text
    as_json = get(server, f"/requests/{new_id}.json")
    assert b"<script>" not in as_json.content
    assert b"<img" not in as_json.content
    assert validate_json("requests", as_json.content)[0]["description"] == text


def test_a_flood_from_one_client_gets_429_with_retry_after(
    server: LiveServer, key: str, new_key: Callable[[], str]
) -> None:
    """Over requests_per_minute POSTs from one api_key: 429, Retry-After, spec body; others unaffected."""
    data = {"api_key": key, "service_code": "sanitation", **POINT, "description": "flood"}
    answers = [post(server, "/requests.json", data).status_code for _ in range(RATE)]
    assert answers == [200] * RATE
    before = stored_requests(server)
    refused = post(server, "/requests.json", data)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert f"at most {RATE} per minute" in error_text(refused, "json")
    refused_xml = post(server, "/requests.xml", data)
    assert refused_xml.status_code == 429
    assert "try again in" in error_text(refused_xml, "xml")
    assert stored_requests(server) == before
    other = post(server, "/requests.json", {**data, "api_key": new_key()})
    assert other.status_code == 200


def test_a_flood_of_bad_keys_from_one_address_gets_429_and_good_keys_still_work(
    server: LiveServer, key: str
) -> None:
    """Past requests_per_minute bad keys in a minute, the address's bad keys get 429 (no more
    security-log rows); a good key from the same address is still served."""
    strict = server.settings.model_copy(update={"requests_per_minute": 2})
    for small in run_live_server(strict):  # the same database, a fresh app and limit of 2
        data = {"service_code": "sanitation", **POINT, "description": "guess"}
        codes = [post(small, "/requests.json", {**data, "api_key": f"o311_guess{i}"}).status_code
                 for i in range(3)]  # fmt: skip
        assert codes == [403, 403, 429]
        refused = post(small, "/requests.json", {**data, "api_key": "o311_guess9"})
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "bad api_key from this address" in error_text(refused, "json")
        assert post(small, "/requests.json", {**data, "api_key": key}).status_code == 200


# ---------------------------------------------------------------------------------------------
# privacy


def test_no_get_output_holds_the_reporters_identity(
    server: LiveServer, seeded: dict[str, Any], key: str
) -> None:
    """Name, phone, e-mail, device and account never appear; a phone typed in the text is masked."""
    canary = seeded["canary"]
    bodies = []
    for fmt in FORMATS:
        for path, params in (
            ("/requests.{fmt}", {}),
            ("/requests.{fmt}", {"extensions": "true"}),
            (f"/requests/{canary}.{{fmt}}", {}),
            (f"/requests/{canary}.{{fmt}}", {"extensions": "true"}),
            (f"/tokens/{seeded['canary_token']}.{{fmt}}", {}),
            ("/servicerequestupdates.{fmt}", {"api_key": key}),
        ):
            response = get(server, path.format(fmt=fmt), **params)
            assert response.status_code == 200
            bodies.append(response.text)
    for body in bodies:
        for secret in CANARIES:
            assert secret not in body
    assert any("139****5678" in body for body in bodies)


# ---------------------------------------------------------------------------------------------
# FixMyStreet request updates


def test_updates_need_a_key_and_carry_extended_statuses(
    server: LiveServer, seeded: dict[str, Any], key: str
) -> None:
    """GET servicerequestupdates: 403 without a key; with one, public steps with FMS statuses."""
    refused = get(server, "/servicerequestupdates.xml")
    assert refused.status_code == 403
    assert "api_key" in error_text(refused, "xml")
    updates = check(
        "request_updates", "json", get(server, "/servicerequestupdates.json", api_key=key).content
    )
    closed = [u for u in updates if u["service_request_id"] == str(seeded["closed"])]
    assert closed[-1]["external_status_code"] == "FIXED"
    assert closed[-1]["status"] == "closed"
    check("request_updates", "xml", get(server, "/servicerequestupdates.xml", api_key=key).content)
    since = datetime.now(UTC) - timedelta(hours=36)  # after the closed request's accept and reply
    recent = check(
        "request_updates",
        "json",
        get(server, "/servicerequestupdates.json", api_key=key, start_date=since.isoformat()).content,
    )
    assert all(datetime.fromisoformat(u["updated_datetime"]) >= since.replace(microsecond=0) for u in recent)
    assert [
        u["external_status_code"] for u in recent if u["service_request_id"] == str(seeded["closed"])
    ] == ["FIXED"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_citizens_update_is_posted_on_the_clients_own_request(
    server: LiveServer, new_key: Callable[[], str], fmt: str
) -> None:
    """POST servicerequestupdates adds a public note; another client may not; the id comes back."""
    mine, theirs = new_key(), new_key()
    created = post(server, "/requests.json", {"api_key": mine, "service_code": "sanitation", **POINT})
    new_id = validate_json("request_created", created.content)[0]["service_request_id"]
    update = {
        "service_request_id": new_id,
        "description": "还没人来清运 / still not collected",
        "status": "OPEN",
    }
    response = post(server, f"/servicerequestupdates.{fmt}", {"api_key": mine, **update})
    assert response.status_code == 200, response.text
    answer = check("update_created", fmt, response.content)
    update_id = answer[0]["update_id"] if fmt == "json" else answer.findtext("request_update/update_id")
    (item,) = check("requests", "json", get(server, f"/requests/{new_id}.json", extensions="true").content)
    assert item["notes"][-1]["description"] == "还没人来清运 / still not collected"
    updates = check(
        "request_updates", "json", get(server, "/servicerequestupdates.json", api_key=mine).content
    )
    assert update_id in {u["update_id"] for u in updates}
    other = post(server, f"/servicerequestupdates.{fmt}", {"api_key": theirs, **update})
    assert other.status_code == 403
    assert "not submitted through this api_key" in error_text(other, fmt)
    missing = post(server, f"/servicerequestupdates.{fmt}", {"api_key": mine, "service_request_id": new_id})
    assert missing.status_code == 400
    assert "description is required" in error_text(missing, fmt)


def test_the_api_is_documented_in_the_openapi_schema(server: LiveServer) -> None:
    """Every Open311 route is in /openapi.json (the catch-all 404 is not)."""
    paths = json.loads(httpx.get(f"{server.url}/openapi.json", timeout=10).content)["paths"]
    for path in ("discovery", "services", "services/{service_code}", "requests", "requests/{service_request_id}",
                 "tokens/{token}", "servicerequestupdates"):  # fmt: skip
        assert f"{BASE}/{path}.{{fmt}}" in paths
    assert not any("{path}" in p for p in paths)
