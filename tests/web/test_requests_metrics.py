"""The request metrics (诉求考核指标) through the running app: the public JSON with every rate's N
and ranks only with enough cases, clear errors for bad months, and the dashboard in Chinese and
English with its chart, map and tables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from planwatch.db import make_engine, session_factory, transaction
from planwatch.models.enums import Satisfaction
from tests.conftest import LiveServer, database_url, run_live_server, settings_for
from tests.service_requests.conftest import build_requests_database
from tests.service_requests.test_metrics_indicators import DONGYI, SHUIJINGFANG, add_request
from tests.web import test_pages
from tests.web.test_pages import Visit, shot

NOW = datetime(2026, 3, 5, tzinfo=UTC)
JAN = datetime(2026, 1, 12, 2, 0, tzinfo=UTC)
FEB = datetime(2026, 2, 9, 2, 0, tzinfo=UTC)
MIN_N = 3
JINJIANG, JINGUANYI, DONGHU = "510104", "510104017", "510104018"
PHONE = "13812348000"

browser = test_pages.browser


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = database_url(backend, tmp_path_factory, "requests_metrics")
    build_requests_database(url)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as db:
            # January: 4 cases in 锦官驿 (3 satisfied), 2 in 东湖 (too few to rank); February: 3 in 锦官驿
            for satisfaction in (Satisfaction.satisfied,) * 3 + (Satisfaction.unsatisfied,):
                add_request(db, JAN, community=SHUIJINGFANG, satisfaction=satisfaction, phone=PHONE)
            for _ in range(2):
                add_request(db, JAN, community=DONGYI, accepted_at=JAN + timedelta(hours=30))
            for _ in range(3):
                add_request(db, FEB, community=SHUIJINGFANG)
    finally:
        engine.dispose()
    yield from run_live_server(settings_for(url, request_min_n=MIN_N), clock=lambda: NOW)


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def units(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["code"]: u for u in body["units"]}


def test_street_metrics_carry_their_n_and_rank_only_with_enough_cases(client: httpx.Client) -> None:
    response = client.get("/api/requests/metrics", params={"level": "street", "month": "2026-01"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["level"], body["start"], body["end"], body["min_n"]) == (
        "street",
        "2026-01",
        "2026-01",
        MIN_N,
    )
    assert body["simulated"] is True
    assert body["excluded_close_reasons"] == ["duplicate", "not_responsible"]
    assert {r["code"] for r in body["rates"]} >= {
        "response",
        "on_time",
        "resolution",
        "satisfaction",
        "overdue",
    }
    streets = units(body)
    satisfaction = streets[JINGUANYI]["rates"]["satisfaction"]
    assert satisfaction == {"rate": 0.75, "numerator": 3, "denominator": 4, "rank": 1}
    assert streets[JINGUANYI]["ranked"] is True
    donghu = streets[DONGHU]
    assert donghu["rates"]["response"] == {"rate": 0.0, "numerator": 0, "denominator": 2, "rank": None}
    assert donghu["ranked"] is False
    assert donghu["simulated"] is True


def test_the_latest_month_with_requests_is_the_default(client: httpx.Client) -> None:
    body = client.get("/api/requests/metrics").json()
    assert (body["level"], body["start"]) == ("district", "2026-02")
    assert units(body)[JINJIANG]["received"] == 3


def test_a_window_by_month_and_as_a_whole(client: httpx.Client) -> None:
    window = {"level": "city", "start": "2026-01", "end": "2026-02"}
    monthly = client.get("/api/requests/metrics", params={**window, "by_month": "true"}).json()
    assert [(u["period"], u["received"]) for u in monthly["units"]] == [("2026-01", 6), ("2026-02", 3)]
    whole = client.get("/api/requests/metrics", params=window).json()
    assert [(u["period"], u["received"]) for u in whole["units"]] == [("2026-01/2026-02", 9)]
    assert whole["units"][0]["code"] == "510100"


def test_departments_are_public_and_no_personal_data_is_in_the_metrics(client: httpx.Client) -> None:
    response = client.get("/api/requests/metrics", params={"level": "department", "month": "2026-01"})
    assert response.status_code == 200
    assert [u["code"] for u in response.json()["units"]] == ["CDMZJ"]
    assert PHONE not in response.text
    assert "老年食堂" not in response.text  # descriptions stay out too


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"month": "202601"},
        {"start": "2026-01"},
        {"month": "2026-01", "start": "2026-01", "end": "2026-02"},
        {"start": "2026-02", "end": "2026-01"},
        {"start": "2000-01", "end": "2026-01"},
        {"start": "0000-01", "end": "9999-12"},
        {"level": "county"},
    ],
)
def test_bad_parameters_are_refused_with_422(client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/api/requests/metrics", params=params)
    assert response.status_code == 422, response.text


def test_the_dashboard_renders_in_chinese(client: httpx.Client) -> None:
    page = client.get("/requests/metrics", params={"month": "2026-01"})
    assert page.status_code == 200
    html = page.text
    assert "诉求考核指标" in html
    assert 'data-testid="simulated-banner"' in html
    for level in ("district", "street", "department"):
        assert f'data-testid="rm-table-{level}"' in html
    assert f'data-unit="{DONGHU}" class="low-n" data-low-n="1"' in html
    assert 'data-rate="satisfaction" data-n="4" data-rank="1"' in html
    assert 'data-testid="rm-district-map"' in html
    assert f'data-division="{JINJIANG}"' in html
    assert "响应率" in html
    assert "重复件" in html  # the exclusions are shown
    assert PHONE not in html


def test_the_dashboard_renders_in_english(client: httpx.Client) -> None:
    html = client.get("/requests/metrics", params={"month": "2026-01", "lang": "en"}).text
    assert "Request metrics" in html
    assert "response rate" in html
    assert "Simulated data" in html
    assert "fewer than 3 cases" in html


def test_a_bad_month_on_the_dashboard_is_refused(client: httpx.Client) -> None:
    assert client.get("/requests/metrics", params={"month": "2026-1"}).status_code == 422


def test_hot_spots_are_public_counts_per_community_and_type(client: httpx.Client) -> None:
    params = {"day": "2026-02-10", "period": "month", "all": "true"}
    response = client.get("/api/requests/hotspots", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["period_kind"], body["requests"], body["simulated"]) == (
        "2026-02",
        "month",
        3,
        True,
    )
    (cell,) = body["rows"]
    assert (cell["division_code"], cell["service_type_code"], cell["count"]) == (
        SHUIJINGFANG,
        "elderly_care",
        3,
    )
    assert cell["hot"] is False  # three requests and no baseline yet
    assert PHONE not in response.text
    hot_only = client.get("/api/requests/hotspots", params={"day": "2026-02-10", "period": "month"}).json()
    assert hot_only["rows"] == []
    assert hot_only["cells"] == 1


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"service_code": "no_such_type"}, 404),
        ({"district": "999999"}, 404),
        ({"period": "year"}, 422),
        ({"day": "2026-02-30"}, 422),
        ({"day": "0001-01-01"}, 422),
        ({"min_count": "0"}, 422),
    ],
)
def test_bad_hot_spot_queries_are_refused(client: httpx.Client, params: dict[str, str], status: int) -> None:
    assert client.get("/api/requests/hotspots", params=params).status_code == status


@pytest.mark.browser
def test_the_chart_is_drawn_offline(browser: object, server: LiveServer) -> None:
    visit = Visit(browser)
    try:
        page = visit.page
        page.goto(f"{server.url}/requests/metrics?month=2026-02")
        page.wait_for_selector("[data-testid=rm-chart][data-state=drawn]", timeout=30_000)
        assert page.locator("[data-testid=rm-chart] .scatterlayer .trace").count() == 5
        assert page.locator("[data-testid=rm-table-street] tr[data-unit]").count() == 1
        shot(visit, "requests-metrics")
        assert visit.outside == []
        assert visit.errors == []
    finally:
        visit.close()


def test_kept_results_never_outlive_a_change_in_the_requests(
    server: LiveServer, client: httpx.Client
) -> None:
    """Metrics and hot spots are kept between identical calls, keyed on the requests' version:
    a new request shows at once."""
    params = {"level": "city", "month": "2025-12"}

    def december() -> tuple[int, dict[str, Any]]:
        body = client.get("/api/requests/metrics", params=params).json()
        return sum(u["received"] for u in body["units"]), body

    before, first = december()
    assert december()[1] == first  # the kept answer is the same answer
    spots = client.get("/api/requests/hotspots", params={"day": "2025-12-10", "all": "true"}).json()
    engine = make_engine(server.settings.database_url)
    try:
        with transaction(session_factory(engine)) as db:
            add_request(db, datetime(2025, 12, 8, 2, 0, tzinfo=UTC), community=SHUIJINGFANG)
    finally:
        engine.dispose()
    assert december()[0] == before + 1
    after = client.get("/api/requests/hotspots", params={"day": "2025-12-10", "all": "true"}).json()
    assert after != spots
