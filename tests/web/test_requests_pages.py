"""Citizens' requests through the running app: a citizen files one on a phone-sized page, bad input
is answered on the form with nothing stored, a flood gets 429, and the units handle the request
through the API and the request page; personal data stays masked unless revealed with a reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from planwatch.accounts.bootstrap import DEMO_ACCOUNTS, bootstrap_accounts
from planwatch.db import make_engine, session_factory, transaction
from planwatch.models import SecurityEvent, ServiceRequest
from tests.conftest import LiveServer, database_url, run_live_server, settings_for
from tests.service_requests.conftest import build_requests_database
from tests.web import test_pages
from tests.web.test_pages import Visit

browser = test_pages.browser

PASSWORD = "Demo!requests-pages-7q"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
POINT = {"lat": "30.6471", "lon": "104.0821"}  # 锦江区水井坊社区
PHONE = "13812348000"


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = database_url(backend, tmp_path_factory, "requests_pages")
    build_requests_database(url)
    settings = settings_for(url, demo=True, requests_per_minute=1000)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as db:
            bootstrap_accounts(db, settings, now=NOW, passwords={s.username: PASSWORD for s in DEMO_ACCOUNTS})
    finally:
        engine.dispose()
    yield from run_live_server(settings, clock=lambda: NOW)


def count_requests(server: LiveServer) -> int:
    engine = make_engine(server.settings.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(ServiceRequest)) or 0)
    finally:
        engine.dispose()


OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def client_for(url: str, **kwargs: object) -> httpx.Client:
    client = httpx.Client(base_url=url, **kwargs)  # type: ignore[arg-type]
    OPEN.append(client)
    return client


def form_client(server: LiveServer, name: str) -> tuple[httpx.Client, str]:
    """A client (``name`` only tells them apart) that opened the form and holds its CSRF cookie."""
    client = client_for(server.url, headers={"User-Agent": f"test {name}"})
    page = client.get("/requests/new")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client, token.group(1)


def file(client: httpx.Client, token: str, **fields: str) -> httpx.Response:
    data = {"csrf_token": token, "service_code": "elderly_care", "kind": "complaint",
            "description": "小区附近没有老年食堂,老人吃饭不方便", **POINT, **fields}  # fmt: skip
    return client.post("/requests/new", data=data)


def signed_in(server: LiveServer, username: str) -> httpx.Client:
    client = client_for(server.url)
    who = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert who.status_code == 200, who.text
    client.headers["X-CSRF-Token"] = who.json()["csrf_token"]
    return client


def test_a_citizen_files_a_request_and_follows_it_without_seeing_personal_data(server: LiveServer) -> None:
    client, token = form_client(server, "10.0.0.1")
    answer = file(
        client, token, phone=PHONE, first_name="王先生", description="电话13812348000 <b>老年食堂</b>"
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    assert "已受理" in page.text
    assert "&lt;b&gt;老年食堂&lt;/b&gt;" in page.text  # shown as text, never rendered
    assert PHONE not in page.text
    assert "138****8000" in page.text
    assert "王先生" not in page.text


def test_numbers_in_the_address_are_masked_for_everyone(server: LiveServer) -> None:
    client, token = form_client(server, "10.0.0.2")
    answer = file(client, token, address_string="东湖街道3栋 找王阿姨 138 1234 8000 或 028-85551234")
    assert answer.status_code == 303
    request_id = int(answer.headers["location"].split("/")[2].split("?")[0])
    public = client_for(server.url)
    for text in (public.get(f"/api/requests/{request_id}").text, public.get(f"/requests/{request_id}").text,
                 signed_in(server, "planner").get(f"/api/requests/{request_id}").text):  # fmt: skip
        assert not any(number in text for number in ("1234 8000", "85551234"))
        assert all(masked in text for masked in ("138****8000", "028-****1234"))


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"lat": "", "lon": ""}, 400, "no location"),
        ({"lat": "39.9", "lon": "116.4"}, 400, "outside this jurisdiction"),
        ({"service_code": "nope"}, 404, "is not a request type"),
        ({"description": "x" * (5 * 2**20)}, 400, "the limit is 4,000"),
        ({"lat": "north"}, 400, "must be numbers"),
        ({"kind": "bogus"}, 400, "is not a kind of request"),
    ],
)
def test_bad_input_is_answered_on_the_form_and_nothing_is_stored(
    server: LiveServer, fields: dict[str, str], status: int, message: str
) -> None:
    before = count_requests(server)
    client, token = form_client(server, f"10.0.1.{len(message)}")
    answer = file(client, token, **fields)
    assert answer.status_code == status
    assert message in answer.text
    assert 'data-testid="request-form"' in answer.text  # the form again, with what was typed
    assert count_requests(server) == before


def test_a_type_with_a_required_question_is_filed_from_the_form(server: LiveServer) -> None:
    before = count_requests(server)
    client, token = form_client(server, "10.0.1.99")
    road = {"service_code": "road_facility", "description": "人行道井盖松动,踩上去会翻"}
    missing = file(client, token, **road)
    assert missing.status_code == 400
    assert all(part in missing.text for part in ("attribute[hazard] is required", "yes (是)"))
    assert count_requests(server) == before
    answered = file(client, token, **road, **{"road_facility:attribute[hazard]": "yes",
                                             "elderly_care:attribute[hazard]": "ignored"})  # fmt: skip
    assert answered.status_code == 303, answered.text
    request_id = int(answered.headers["location"].split("/")[2].split("?")[0])
    detail = signed_in(server, "planner").get(f"/api/requests/{request_id}").json()
    assert detail["attributes"] == {"hazard": "yes"}


def test_a_flood_from_one_address_gets_429_with_retry_after(server: LiveServer) -> None:
    strict = server.settings.model_copy(update={"requests_per_minute": 3})
    for small in run_live_server(strict, clock=lambda: NOW):  # the same database, a 3-per-minute limit
        before = count_requests(server)
        client, token = form_client(small, "flood")
        codes = [file(client, token).status_code for _ in range(4)]
        assert codes == [303, 303, 303, 429]
        refused = file(client, token, description="第五次:路灯不亮")
        assert int(refused.headers["retry-after"]) >= 1
        assert "第五次:路灯不亮" in refused.text  # the form again, with what was typed
        assert "too many requests from this address" in refused.text
        assert count_requests(server) == before + 3


def test_a_form_post_without_its_csrf_token_is_refused(server: LiveServer) -> None:
    client, _ = form_client(server, "10.0.3.1")
    assert file(client, "wrong-token").status_code == 403


def test_the_units_handle_a_request_from_dispatch_to_callback(server: LiveServer) -> None:
    citizen, token = form_client(server, "10.0.4.1")
    filed = file(citizen, token, phone=PHONE)
    request_id = int(filed.headers["location"].split("/")[2].split("?")[0])
    mzj = signed_in(server, "mzj_reporter")
    queue = mzj.get("/api/requests", params={"state": "open"}).json()
    assert request_id in [item["id"] for item in queue["items"]]
    for step in ({"action": "accepted"}, {"action": "contacted", "note": "已电话联系"},
                 {"action": "replied", "note": "已协调街道开设助餐点"}):  # fmt: skip
        answer = mzj.post(f"/api/requests/{request_id}/actions", json=step)
        assert answer.status_code == 200, answer.text
    detail = answer.json()
    assert detail["state"] == "replied"
    assert detail["reporter"]["phone"] == "138****8000"
    assert mzj.post(f"/api/requests/{request_id}/callback",
                    json={"resolved": True, "satisfaction": "satisfied"}).status_code == 403  # fmt: skip
    planner = signed_in(server, "planner")
    closed = planner.post(f"/api/requests/{request_id}/actions", json={"action": "closed"})
    assert closed.json()["state"] == "closed"
    rated = planner.post(
        f"/api/requests/{request_id}/callback", json={"resolved": True, "satisfaction": "satisfied"}
    )
    assert rated.json()["resolved"] is True
    memo = planner.post(
        f"/api/requests/{request_id}/actions", json={"action": "note", "note": "内部:居民情绪激动"}
    )
    assert memo.status_code == 200, memo.text
    public = client_for(server.url).get(f"/api/requests/{request_id}").json()
    assert public["reporter"] is None
    notes = {event["action"]: event["note"] for event in public["timeline"]}
    assert notes["contacted"] is None  # the step shows, the unit's note to itself does not
    assert notes["replied"] == "已协调街道开设助餐点"
    assert "note" not in notes
    assert all(event["public"] or event["note"] is None for event in public["timeline"])
    page = client_for(server.url).get(f"/requests/{request_id}").text
    assert not any(internal in page for internal in ("已电话联系", "居民情绪激动"))
    assert "已协调街道开设助餐点" in page


def test_another_department_cannot_touch_the_request(server: LiveServer) -> None:
    citizen, token = form_client(server, "10.0.5.1")
    filed = file(
        citizen, token, service_code="other", description="其他问题", address_string="锦江区东湖街道"
    )
    request_id = int(filed.headers["location"].split("/")[2].split("?")[0])
    mzj = signed_in(server, "mzj_reporter")
    assert mzj.post(f"/api/requests/{request_id}/actions", json={"action": "accepted"}).status_code == 404
    jinjiang = signed_in(server, "jinjiang_reporter")
    assert (
        jinjiang.post(f"/api/requests/{request_id}/actions", json={"action": "accepted"}).status_code == 200
    )


def test_revealing_the_reporter_needs_a_reason_and_is_audited(server: LiveServer) -> None:
    citizen, token = form_client(server, "10.0.6.1")
    filed = file(citizen, token, phone=PHONE)
    request_id = int(filed.headers["location"].split("/")[2].split("?")[0])
    planner = signed_in(server, "planner")
    assert planner.post(f"/api/requests/{request_id}/reveal", json={"reason": ""}).status_code == 422
    shown = planner.post(f"/api/requests/{request_id}/reveal", json={"reason": "回访核实诉求"})
    assert shown.json()["phone"] == PHONE
    assert (
        signed_in(server, "reviewer")
        .post(f"/api/requests/{request_id}/reveal", json={"reason": "好奇看看"})
        .status_code
        == 403
    )
    engine = make_engine(server.settings.database_url)
    try:
        with engine.connect() as connection:
            ids = connection.scalars(
                select(SecurityEvent.object_id).where(SecurityEvent.action == "pii.unmask")
            ).all()
    finally:
        engine.dispose()
    assert str(request_id) in ids


@pytest.mark.browser
def test_filing_on_a_phone_sized_screen_and_the_queue(browser: object, server: LiveServer) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page = context.new_page()
    outside: list[str] = []
    page.route(
        re.compile(r"^https?://(?!127\.0\.0\.1).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    try:
        page.goto(f"{server.url}/requests/new")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling on a phone
        road = "[data-testid=attributes-road_facility]"
        assert not page.is_visible(road)  # a type's own questions show once it is chosen
        page.select_option("[data-testid=service-code]", "road_facility")
        assert page.is_visible(road)
        page.select_option("[data-testid=service-code]", "sanitation")
        assert not page.is_visible(road)
        page.fill("[data-testid=description]", "小区门口垃圾三天没人清运")
        page.fill("[data-testid=address]", "锦江区东湖街道东怡社区")
        page.click("[data-testid=submit-request]")
        page.wait_for_selector("[data-testid=filed]")
        assert "已受理" in page.inner_text("[data-testid=filed]")
        assert page.inner_text("[data-testid=state]").startswith("已派单")
        filed = page.url.split("/requests/")[1].split("?")[0]
    finally:
        context.close()
    assert outside == []
    visit = Visit(browser)
    try:
        visit.page.goto(f"{server.url}/login?next=/requests/queue")
        visit.page.fill("input[name=username]", "planner")
        visit.page.fill("input[name=password]", PASSWORD)
        visit.page.click("[data-testid=login-form] button[type=submit]")
        visit.page.wait_for_selector("[data-testid=queue]")
        assert "垃圾" in visit.page.inner_text("[data-testid=queue]")
        visit.page.click(f"[data-testid=queue] a[href='/requests/{filed}']")
        visit.page.wait_for_selector("[data-testid=act-form]")
        visit.page.select_option("[data-testid=action]", "accepted")
        visit.page.click("[data-testid=act-submit]")
        visit.page.wait_for_selector("[data-testid=flash]")
        assert "已签收" in visit.page.inner_text("[data-testid=state]")
    finally:
        visit.close()


def test_a_second_report_of_the_same_problem_lists_the_first_as_a_possible_duplicate(
    server: LiveServer,
) -> None:
    citizen, token = form_client(server, "10.0.7.1")
    first = file(
        citizen, token, service_code="noise", description="工地夜间施工噪音", lat="30.6301", lon="104.1001"
    )
    second = file(
        citizen, token, service_code="noise", description="晚上施工太吵", lat="30.6302", lon="104.1002"
    )
    first_id, second_id = (int(r.headers["location"].split("/")[2].split("?")[0]) for r in (first, second))
    detail = signed_in(server, "planner").get(f"/api/requests/{second_id}").json()
    assert first_id in [d["id"] for d in detail["duplicates"]]
    assert client_for(server.url).get(f"/api/requests/{second_id}").json()["duplicates"] == []  # staff only


def test_an_operator_gets_a_suggested_type_with_its_confidence(server: LiveServer) -> None:
    planner = signed_in(server, "planner")
    suggestion = planner.get("/api/requests/suggest", params={"text": "小区门口垃圾三天没人清运"}).json()
    assert suggestion["code"] == "sanitation"
    assert 0 < suggestion["confidence"] <= 1
    assert all(set(a) == {"code", "score"} for a in suggestion["alternatives"])
    assert client_for(server.url).get("/api/requests/suggest", params={"text": "垃圾"}).status_code == 403
