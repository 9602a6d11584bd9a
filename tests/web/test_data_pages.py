"""Data collection pages in headless Chromium, on a demo database whose 2026 is open for entry:
template, upload (rejected, imported, unchanged), one value and its history, approval locking the
district, the English version; nothing is loaded from outside."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from planwatch.accounts.bootstrap import DEMO_ACCOUNTS, bootstrap_accounts
from planwatch.db import make_engine, session_factory, transaction
from tests.conftest import LiveServer, build_demo_database, database_url, run_live_server, settings_for
from tests.web import test_pages
from tests.web.test_pages import Visit, shot

browser = test_pages.browser  # the module-scoped headless Chromium fixture of the page tests

PASSWORD = "Demo!data-pages-7q"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
"""The injected clock: the reporting year 2026 has begun and is open for entry."""
YEAR = "2026"
DISTRICT = "510104"  # 锦江区, the demo district reporter's capture scope
FILLED = {"chengdu_featured_shops_new": "12", "class1_shelters_built": "3", "community_canteens_new": "4"}
"""Plain counts (not ratios) the district reports yearly."""
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = database_url(backend, tmp_path_factory, "data_pages")
    build_demo_database(url)
    settings = settings_for(url, demo=True)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            passwords = {spec.username: PASSWORD for spec in DEMO_ACCOUNTS}
            bootstrap_accounts(session, settings, now=NOW, passwords=passwords)
    finally:
        engine.dispose()
    yield from run_live_server(settings, clock=lambda: NOW)


@dataclass
class Reporter:
    visit: Visit
    url: str

    def goto(self, path: str) -> None:
        response = self.visit.page.goto(self.url + path)
        assert response is not None
        assert response.status == 200, self.visit.page.content()

    def upload(self, content: bytes, name: str = "锦江区-2026.csv", *, dry_run: bool = False) -> str:
        """Upload through the hub's form; returns the import's outcome badge text."""
        page = self.visit.page
        self.goto("/data")
        form = page.locator("[data-testid=upload-form]")
        form.locator("input[type=file]").set_input_files(
            {"name": name, "mimeType": "text/csv", "buffer": content}
        )
        if dry_run:
            form.locator("input[name=dry_run]").check()
        form.locator("button[type=submit]").click()
        # a recorded import has a page of its own; a dry run or a no-change upload is shown at once
        page.wait_for_url(re.compile(r"/data/(imports/\d+|import)$"))
        return page.locator("[data-testid=outcome]").inner_text()

    def count(self, key: str) -> int:
        return int(self.visit.page.locator(f"[data-count={key}] .n").inner_text())


def sign_in(visit: Visit, url: str, username: str, next_path: str) -> None:
    page = visit.page
    page.goto(f"{url}/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-form] button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def filled_csv(template: bytes, values: dict[str, str]) -> bytes:
    """The downloaded template with ``values`` written into the district's own 2026 rows."""
    rows = list(csv.reader(io.StringIO(template.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    column = {name: header.index(name) for name in ("指标代码", "区划代码", "期间", "数值")}
    for row in body:
        code = row[column["指标代码"]]
        if row[column["区划代码"]] == DISTRICT and row[column["期间"]] == YEAR and code in values:
            row[column["数值"]] = values[code]
    out = io.StringIO()
    csv.writer(out).writerows([header, *body])
    return out.getvalue().encode("utf-8")


def test_a_district_reports_its_year_through_the_pages(browser: object, server: LiveServer) -> None:
    visit = Visit(browser)
    planner = Visit(browser)
    try:
        page = visit.page
        reporter = Reporter(visit, server.url)
        sign_in(visit, server.url, "jinjiang_reporter", "/")
        page.click("[data-testid=nav-data]")
        page.wait_for_selector("[data-testid=template-form]")
        assert page.locator("[data-testid=nav-approvals]").count() == 0  # reporters do not approve
        units = page.locator("[data-testid=template-form] select[name=unit] option")
        assert units.count() == 1
        assert units.first.get_attribute("value") == f"division:{DISTRICT}"
        page.select_option("[data-testid=template-form] select[name=format]", "csv")
        page.fill("[data-testid=template-form] input[name=year]", YEAR)
        with page.expect_download() as download_info:
            page.click("[data-testid=template-form] button[type=submit]")
        download = download_info.value
        assert download.suggested_filename == f"{DISTRICT}-{YEAR}.csv"
        template = download.path().read_bytes()
        assert template.decode("utf-8-sig").startswith("指标代码,指标名称,区划代码")
        shot(visit, "data-hub")

        # one bad row: the page names row, column and problem, and nothing is written
        bad = filled_csv(template, {**FILLED, "class1_shelters_built": "三个"})
        assert reporter.upload(bad) == "被拒绝"
        errors = page.locator("[data-testid=errors] tbody tr")
        assert errors.count() == 1
        cells = errors.first.locator("td").all_inner_texts()
        assert int(cells[0]) > 1
        assert cells[1:3] == ["数值", "三个"]
        assert "不是数字" in cells[3]
        assert reporter.count("inserted") + reporter.count("updated") == 0
        assert "没有写入任何数据" in page.locator("[data-testid=next-steps]").inner_text()
        href = page.locator("[data-testid=annotated-report]").get_attribute("href")
        annotated = page.request.get(f"{server.url}{href}")
        assert annotated.status == 200
        assert annotated.headers["content-type"] == XLSX
        shot(visit, "data-import-rejected")
        nothing = page.request.get(
            f"{server.url}/api/data-values/chengdu_featured_shops_new/{DISTRICT}/{YEAR}/history"
        )
        assert nothing.json() == []

        # a dry run of the corrected file writes nothing either; the real upload writes 3 values
        good = filled_csv(template, FILLED)
        assert reporter.upload(good, dry_run=True) == "试导入"
        assert page.url.endswith("/data/import")  # shown at once: a dry run keeps no record
        assert reporter.count("inserted") + reporter.count("updated") == 3
        assert reporter.upload(good) == "导入成功"
        assert reporter.count("inserted") + reporter.count("updated") == 3
        assert page.locator("[data-testid=written] tbody tr").count() == 3
        assert "审核" in page.locator("[data-testid=next-steps]").inner_text()
        assert reporter.upload(good) == "无变化"
        assert page.url.endswith("/data/import")  # nothing changed, nothing recorded
        assert reporter.count("unchanged") == 3
        assert reporter.count("inserted") + reporter.count("updated") == 0

        # one value on the form: a problem is shown inline, then the value and its history
        reporter.goto("/data/entry")
        form = page.locator("[data-testid=entry-form]")
        form.locator("input[name=indicator]").fill("community_chain_stores_new")
        form.locator("input[name=division]").fill(DISTRICT)
        form.locator("input[name=period]").fill("2026年")
        form.locator("input[name=value]").fill("-2")
        form.locator("button[type=submit]").click()
        problems = page.locator("[data-testid=entry-problems]")
        assert "数值" in problems.inner_text()
        assert form.locator("input[name=value]").input_value() == "-2"  # the form keeps what was typed
        form.locator("input[name=value]").fill("7")
        form.locator("textarea[name=comment]").fill("网页补填")
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/data/history\?"))
        assert "已保存" in page.locator("[data-testid=flash]").inner_text()
        (row,) = page.locator("[data-testid=history] tbody tr").all()
        texts = row.locator("td").all_inner_texts()
        assert texts[1] == "jinjiang_reporter"
        assert texts[2] == "新增"
        assert texts[3].replace(" ", "") == "—→7"
        assert texts[4] == "网页填报"
        assert "网页补填" in page.locator("[data-testid=current-value]").inner_text()
        shot(visit, "data-history")

        # the district submits its year; the city's planner approves it; the district is then closed
        reporter.goto(f"/data/approvals?year={YEAR}")
        jinjiang = page.locator(f"tr[data-unit='division:{DISTRICT}']")
        jinjiang.locator("button[data-action=submit]").click()
        page.wait_for_selector("[data-testid=flash]")
        assert page.locator(f"tr[data-unit='division:{DISTRICT}']").get_attribute("data-state") == "submitted"

        sign_in(planner, server.url, "planner", f"/data/approvals?year={YEAR}")
        planner.page.wait_for_selector("[data-testid=approvals]")
        assert planner.page.locator("[data-testid=nav-approvals]").count() == 1
        planner.page.locator(f"tr[data-unit='division:{DISTRICT}'] button[data-action=approve]").click()
        planner.page.wait_for_selector("[data-testid=flash]")
        assert "已审核" in planner.page.locator("[data-testid=flash]").inner_text()
        shot(planner, "data-approvals")
        city = planner.page.locator("tr[data-unit='division:510100'] button[data-action=approve]")
        city.click()  # the city waits for every district and department: a 409 page says so
        assert "waiting for" in planner.page.locator(".error-message").inner_text()

        assert reporter.upload(good) == "无变化"  # its unchanged rows are no write into the closed year
        changed = filled_csv(template, {**FILLED, "chengdu_featured_shops_new": "13"})
        assert reporter.upload(changed) == "被拒绝"
        (locked,) = page.locator("[data-testid=errors] tbody tr").all()
        assert "已审核" in locked.inner_text()

        # the English version of the same pages
        page.goto(page.url + "?lang=en")
        assert page.locator("[data-testid=outcome]").inner_text() == "Rejected"
        assert "Nothing was written" in page.locator("[data-testid=next-steps]").inner_text()
        shot(visit, "data-import-en")
        reporter.goto("/data")
        assert page.locator("h1").inner_text() == "Data reporting"
        assert "数据填报" not in page.locator("header").inner_text()
        reporter.goto(f"/data/approvals?year={YEAR}")
        assert page.locator(f"tr[data-unit='division:{DISTRICT}'] .state").inner_text() == "approved"
        reporter.goto("/data/entry")
        assert "Indicator code" in page.locator("[data-testid=entry-form]").inner_text()

        assert visit.outside == []
        assert planner.outside == []
        assert visit.errors == []
        assert planner.errors == []
    finally:
        visit.close()
        planner.close()


def test_the_data_pages_need_a_signed_in_reporter_and_the_csrf_token(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        hub = http.get("/data")
        assert hub.status_code == 403
        assert 'data-testid="error-sign-in"' in hub.text
        assert http.post("/data/import", files={"file": ("a.csv", b"x")}).status_code == 403
        token = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text)
        assert token is not None
        signed = http.post(
            "/login", data={"csrf_token": token.group(1), "username": "reviewer", "password": PASSWORD}
        )
        assert signed.status_code == 303
        assert http.get("/data").status_code == 403  # a reviewer reads, never writes
        assert http.get("/data/approvals", params={"year": YEAR}).status_code == 200
        refused = http.post("/data/import", files={"file": ("a.csv", b"x")})
        assert refused.status_code == 403
