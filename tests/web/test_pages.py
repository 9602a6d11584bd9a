"""Pages in real headless Chromium: they render, draw their charts, and load nothing from outside."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SHOTS = Path(os.environ.get("PLANWATCH_SCREENSHOTS", "")) if os.environ.get("PLANWATCH_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        if os.environ.get("PLANWATCH_REQUIRE_BROWSER") == "1":
            pytest.fail("PLANWATCH_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install chromium)")
        pytest.skip("headless Chromium is not installed (Debian package chromium); page tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


class Visit:
    """A browser page that records every request that would leave the machine (and blocks it)."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(locale="zh-CN")  # type: ignore[attr-defined]
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _route(self, route: object, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: object) -> Iterator[Visit]:
    v = Visit(browser)
    yield v
    v.close()


def shot(visit: Visit, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        visit.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_overview_renders_in_chinese_with_status_chart(visit: Visit, live_server: LiveServer) -> None:
    page = visit.page
    page.goto(live_server.url + "/")
    page.wait_for_selector("#status-chart .main-svg", timeout=20_000)
    assert "规划总览" in page.content()
    assert page.locator("[data-testid=simulated-banner]").inner_text().startswith("模拟数据")
    assert page.locator("tr[data-target]").count() >= 35
    assert page.locator("#status-chart .bars path").count() >= 1
    shot(visit, "overview")
    assert visit.outside == []
    assert visit.errors == []


def test_target_page_draws_the_trajectory(visit: Visit, live_server: LiveServer) -> None:
    targets = httpx.get(live_server.url + "/api/targets", timeout=30).json()
    evaluated = next(
        t for t in targets if t["evaluation"] and t["evaluation"]["series"] and t["kind"] == "level"
    )
    page = visit.page
    page.goto(f"{live_server.url}/targets/{evaluated['id']}")
    page.wait_for_selector("#target-chart .main-svg", timeout=20_000)
    assert page.locator("#target-chart .scatterlayer .trace").count() == 3  # actual, expected path, target
    assert evaluated["source_sentence"] in page.locator("[data-testid=source-sentence]").inner_text()
    assert "模拟" in page.locator("#target-chart").inner_text()
    assert page.locator("[data-testid=district-map] path").count() == 20
    assert page.locator("[data-testid=breakdown] tr[data-unit]").count() == 20
    shot(visit, "target")
    assert visit.outside == []
    assert visit.errors == []


def test_target_page_draws_the_forecast_before_the_deadline(visit: Visit, live_server: LiveServer) -> None:
    targets = httpx.get(live_server.url + "/api/targets", params={"year": 2024}, timeout=30).json()
    forecast = next(
        t
        for t in targets
        if t["evaluation"] and (t["evaluation"]["forecast"] or {}).get("scale") == "measure"
    )
    page = visit.page
    page.goto(f"{live_server.url}/targets/{forecast['id']}?year=2024")
    page.wait_for_selector("#target-chart .main-svg", timeout=20_000)
    traces = page.locator("#target-chart .scatterlayer .trace").count()
    assert traces >= 4  # actual, (expected path, target,) forecast line, forecast point with its interval
    assert "趋势预测" in page.locator("#target-chart").inner_text()
    text = page.locator("[data-testid=forecast]").inner_text()
    assert "80%区间" in text
    assert "到期完成概率" in text
    shot(visit, "target-forecast")
    assert visit.errors == []


def test_language_switch_to_english_and_back(visit: Visit, live_server: LiveServer) -> None:
    page = visit.page
    page.goto(live_server.url + "/")
    page.click("[data-testid=lang-switch]")
    page.wait_for_selector("text=Plan overview")
    assert "Simulated data" in page.locator("[data-testid=simulated-banner]").inner_text()
    page.goto(live_server.url + "/")  # the choice is remembered
    assert "Plan overview" in page.content()
    shot(visit, "overview-en")
    page.click("[data-testid=lang-switch]")
    page.wait_for_selector("text=规划总览")
    assert visit.outside == []


def test_unknown_target_page_is_a_404_page(visit: Visit, live_server: LiveServer) -> None:
    response = visit.page.goto(live_server.url + "/targets/999999")
    assert response is not None
    assert response.status == 404
    assert "no target with id 999999" in visit.page.content()


def test_docs_page_loads_nothing_from_outside(visit: Visit, live_server: LiveServer) -> None:
    visit.page.goto(live_server.url + "/docs")
    assert "/api/targets" in visit.page.content()
    assert visit.outside == []


def test_warnings_page_lists_red_first_with_departments_and_units(
    visit: Visit, live_server: LiveServer
) -> None:
    api = httpx.get(live_server.url + "/api/warnings?year=2024", timeout=30).json()
    assert api["warnings"], "the simulated demo has lagging targets in 2024"
    page = visit.page
    page.goto(live_server.url + "/warnings?year=2024")
    cards = page.locator("[data-testid=warning]")
    assert cards.count() == len(api["warnings"])
    assert [cards.nth(i).get_attribute("data-code") for i in range(cards.count())] == [
        w["code"] for w in api["warnings"]
    ]
    levels = [cards.nth(i).get_attribute("data-level") for i in range(cards.count())]
    assert levels == sorted(levels, key=lambda level: level != "red")  # red first
    assert "责任单位" in page.locator("[data-testid=department]").first.inner_text()
    assert page.locator("[data-testid=simulated-banner]").count() == 1
    assert page.locator("[data-testid=unit-warning]").count() == sum(len(w["units"]) for w in api["warnings"])
    shot(visit, "warnings")
    assert visit.outside == []
    assert visit.errors == []


def test_overview_shows_each_section_score(visit: Visit, live_server: LiveServer) -> None:
    page = visit.page
    page.goto(live_server.url + "/?year=2024")
    scores = page.locator(".section-score[data-score]:not([data-score=''])")
    assert scores.count() > 0
    assert "评分" in scores.first.inner_text()
    assert visit.errors == []
