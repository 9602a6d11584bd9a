"""Evaluation round pages in headless Chromium: a planner publishes the mid-term and the final
evaluation through the form, reads a round (Chinese, 模拟数据 banner), compares two rounds, and
records a qualitative assessment on a target page; the public reads but sees no forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from planwatch.accounts.bootstrap import DEMO_ACCOUNTS, bootstrap_accounts
from planwatch.db import make_engine, session_factory, transaction
from tests.conftest import LiveServer, build_demo_database, database_url, run_live_server, settings_for
from tests.web import test_pages
from tests.web.test_data_pages import sign_in
from tests.web.test_pages import Visit, shot

browser = test_pages.browser  # the module-scoped headless Chromium fixture of the page tests

PASSWORD = "Demo!data-pages-7q"  # the one tests.web.test_data_pages.sign_in types
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = database_url(backend, tmp_path_factory, "evaluation_pages")
    build_demo_database(url)
    settings = settings_for(url, demo=True)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            bootstrap_accounts(
                session, settings, now=NOW, passwords={spec.username: PASSWORD for spec in DEMO_ACCOUNTS}
            )
    finally:
        engine.dispose()
    yield from run_live_server(settings, clock=lambda: NOW)


def test_a_planner_publishes_reads_and_compares_rounds(browser: object, server: LiveServer) -> None:
    visit = Visit(browser)
    try:
        page = visit.page
        sign_in(visit, server.url, "planner", "/")
        page.click("[data-testid=nav-rounds]")
        page.wait_for_selector("[data-testid=publish-form]")
        form = page.locator("[data-testid=publish-form]")
        form.locator("select[name=kind]").select_option("midterm")
        form.locator("textarea[name=note]").fill("中期评估(页面发布)")
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/rounds/\d+\?"))
        assert page.locator("[data-testid=round-title]").inner_text() == "中期评估 2023"
        assert "已发布" in page.locator("[data-testid=flash]").inner_text()
        assert page.locator("[data-testid=simulated-banner]").inner_text().startswith("模拟数据")
        assert page.locator("[data-testid=round-targets] tr[data-target]").count() >= 35
        shot(visit, "evaluation-round")

        page.click(".crumbs a")  # back to the list
        form = page.locator("[data-testid=publish-form]")
        form.locator("select[name=kind]").select_option("midterm")
        form.locator("button[type=submit]").click()  # the same round again: refused, nothing stored
        page.wait_for_selector("[data-testid=flash].error")
        assert "--supersede" in page.locator("[data-testid=flash]").inner_text()
        assert page.locator("[data-testid=rounds] tr[data-round]").count() == 1

        page.locator("[data-testid=publish-form] select[name=kind]").select_option("final")
        page.locator("[data-testid=publish-form] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/rounds/\d+\?"))
        assert page.locator("[data-testid=round-title]").inner_text() == "总结评估 2025"
        page.locator("[data-testid=compare-form] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/rounds/diff\?"))
        assert page.locator("[data-testid=diff-changed] tr[data-target]").count() >= 1
        assert page.locator("[data-testid=diff-counts] tr[data-status]").count() >= 2
        shot(visit, "evaluation-diff")
        assert visit.outside == []
        assert visit.errors == []
    finally:
        visit.close()


def test_a_planner_assesses_a_qualitative_target(browser: object, server: LiveServer) -> None:
    targets = httpx.get(server.url + "/api/targets", timeout=60).json()
    qualitative = next(t for t in targets if t["code"] == "CD14-T27")
    level = next(t for t in targets if t["code"] == "CD14-T05")
    visit = Visit(browser)
    try:
        page = visit.page
        sign_in(visit, server.url, "planner", f"/targets/{qualitative['id']}")
        form = page.locator("[data-testid=assessment-form]")
        form.locator("input[name=year]").fill("2023")
        form.locator("select[name=status]").select_option("on_track")
        form.locator("input[name=assessor]").fill("市发改委规划处")
        form.locator("textarea[name=evidence]").fill("市委政法委2023年工作总结:示范城市创建按计划推进")
        form.locator("button[type=submit]").click()
        page.wait_for_selector("[data-testid=flash].ok")
        rows = page.locator("[data-testid=assessment-history] tr[data-assessment]")
        assert rows.count() == 1
        assert rows.first.get_attribute("data-status") == "on_track"
        assert "市发改委规划处" in rows.first.inner_text()
        shot(visit, "assessment")
        page.goto(f"{server.url}/targets/{level['id']}")
        assert page.locator("[data-testid=assessments]").count() == 0  # only qualitative targets
        assert visit.errors == []
    finally:
        visit.close()
    public = Visit(browser)
    try:
        public.page.goto(f"{server.url}/targets/{qualitative['id']}")
        assert public.page.locator("[data-testid=assessment-history] tr[data-assessment]").count() == 1
        assert public.page.locator("[data-testid=assessment-form]").count() == 0
        public.page.goto(f"{server.url}/rounds")
        assert public.page.locator("[data-testid=publish-form]").count() == 0
    finally:
        public.close()
