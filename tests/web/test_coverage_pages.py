"""Life-circle coverage (生活圈覆盖) and siting (选址) pages in real headless Chromium: the 模拟数据
banner, the circles table, the plotly maps drawn offline from the JSON twins, the tables per division
and per proposed site, and the English pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.web import test_pages
from tests.web.test_pages import Visit, shot

pytestmark = pytest.mark.browser

browser = test_pages.browser  # the module-scoped headless Chromium fixture of the page tests

CHILD = "cd_child_5min_activity"


@pytest.fixture
def visit(browser: object) -> Iterator[Visit]:
    v = Visit(browser)
    yield v
    v.close()


@pytest.fixture(scope="module")
def sitings(live_server: LiveServer) -> dict[str, dict[str, Any]]:
    body = httpx.get(live_server.url + "/api/coverage/siting", timeout=30).json()
    return {s["circle"]: s for s in body}


def test_coverage_page_shows_the_banner_inputs_and_circles(visit: Visit, live_server: LiveServer) -> None:
    page = visit.page
    page.goto(live_server.url + "/")
    page.click("[data-testid=nav-coverage]")
    page.wait_for_selector("[data-testid=circles]")
    assert page.locator("[data-testid=coverage-title]").inner_text() == "生活圈覆盖评估"
    assert page.locator("[data-testid=simulated-banner]").inner_text().startswith("模拟数据")
    assert page.locator("[data-testid=run-inputs] tr[data-input]").count() == 3
    rows = page.locator("[data-testid=circles] tr[data-circle]")
    assert rows.count() == 12
    assert page.locator("[data-testid=circles] [data-verified=unverified]").first.inner_text() == "未核实"
    shelter = page.locator("tr[data-circle=cd_shelter_area]").inner_text()
    assert "m²" in shelter
    assert page.locator("[data-testid=run-sitings] li").count() == 2
    shot(visit, "coverage")
    page.click(f"tr[data-circle={CHILD}] a")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    assert visit.outside == []
    assert visit.errors == []


def test_circle_page_draws_the_map_and_the_worst_divisions_first(
    visit: Visit, live_server: LiveServer
) -> None:
    page = visit.page
    page.goto(f"{live_server.url}/coverage/circles/{CHILD}")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    figure = page.locator("[data-testid=coverage-map]")
    assert figure.locator(".main-svg").count() >= 1
    assert int(figure.get_attribute("data-origins") or 0) > 1000
    assert int(figure.get_attribute("data-facilities") or 0) > 0
    assert figure.locator(".scatterlayer .trace").count() == 4  # far/unreachable, gap, within, facilities
    assert figure.locator(".colorbar").count() == 1
    assert page.locator("[data-testid=simulated-banner]").is_visible()

    rows = page.locator("[data-testid=divisions] tr[data-division]")
    assert rows.count() == 20
    shares = [float(s) for s in rows.evaluate_all("rs => rs.map(r => r.dataset.share)") if s]
    assert shares == sorted(shares)
    assert all(0 <= s <= 100 for s in shares)

    assert int(figure.get_attribute("data-covered") or 0) > 0
    page.check("[data-testid=gaps-only]")
    page.wait_for_function(
        "n => document.querySelectorAll('#coverage-map .scatterlayer .trace').length === n", arg=3
    )
    shot(visit, "coverage-circle")
    assert visit.outside == []
    assert visit.errors == []


def test_circle_page_per_type_and_per_level(visit: Visit, live_server: LiveServer) -> None:
    page = visit.page
    page.goto(f"{live_server.url}/coverage/circles/{CHILD}")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    assert page.locator("[data-testid=part-select] option").count() == 3  # whole circle + two types
    page.select_option("[data-testid=part-select]", "children_complex")
    page.wait_for_url("**part=children_complex**")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    assert page.locator("[data-testid=part-select]").input_value() == "children_complex"
    page.select_option("[data-testid=level-select]", "street")
    page.wait_for_url("**level=street**")
    assert page.locator("[data-testid=divisions]").get_attribute("data-level") == "street"
    assert page.locator("[data-testid=divisions] tr[data-division]").count() > 20
    page.select_option("[data-testid=level-select]", "community")  # a single type stops at streets
    page.wait_for_selector("[data-testid=no-divisions]")
    assert visit.errors == []


def test_area_circle_page_shows_area_per_resident(visit: Visit, live_server: LiveServer) -> None:
    page = visit.page
    page.goto(f"{live_server.url}/coverage/circles/cd_shelter_area")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    assert "人均面积" in page.locator("[data-testid=divisions] thead").inner_text()
    assert page.locator("[data-testid=part-select]").count() == 0  # one facility type only
    assert visit.errors == []


def test_siting_page_lists_twenty_numbered_sites_on_the_map(
    visit: Visit, live_server: LiveServer, sitings: dict[str, dict[str, Any]]
) -> None:
    page = visit.page
    page.goto(live_server.url + "/coverage/siting")
    assert page.locator("[data-testid=sitings] tr[data-siting]").count() == 2
    assert page.locator("[data-testid=simulated-banner]").is_visible()
    page.click(f"tr[data-siting='{sitings[CHILD]['id']}'] a")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    assert page.locator("[data-testid=simulated-banner]").inner_text().startswith("模拟数据")
    assert page.locator("[data-testid=sites] tr[data-site]").count() == 20
    before = page.locator("[data-testid=share-before]").inner_text()
    after = page.locator("[data-testid=share-after]").inner_text()
    assert float(before.rstrip("%")) <= float(after.rstrip("%"))
    figure = page.locator("[data-testid=coverage-map]")
    # covered (legend only), uncovered, existing facilities, proposed sites
    assert figure.locator(".scatterlayer .trace").count() == 3
    assert figure.locator(".scatterlayer .trace").last.locator(".textpoint").count() == 20
    page.check("[data-testid=show-covered]")
    page.wait_for_function(
        "() => document.querySelectorAll('#coverage-map .scatterlayer .trace').length === 4"
    )
    shot(visit, "siting")
    assert visit.outside == []
    assert visit.errors == []


def test_english_pages(visit: Visit, live_server: LiveServer, sitings: dict[str, dict[str, Any]]) -> None:
    page = visit.page
    page.goto(live_server.url + "/coverage?lang=en")
    assert page.locator("[data-testid=coverage-title]").inner_text() == "Life-circle coverage"
    assert page.locator("[data-testid=nav-coverage]").inner_text() == "Life circles"
    assert "Simulated data" in page.locator("[data-testid=simulated-banner]").inner_text()
    assert "Children's 5-minute walking activity circle" in page.locator("[data-testid=circles]").inner_text()
    assert page.locator("[data-testid=circles] [data-verified=unverified]").first.inner_text() == "unverified"
    page.goto(f"{live_server.url}/coverage/circles/{CHILD}")  # the choice is remembered
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    assert "By division (lowest coverage first)" in page.content()
    assert "Within the threshold" in page.locator("[data-testid=coverage-map]").inner_text()
    shot(visit, "coverage-circle-en")
    page.goto(f"{live_server.url}/coverage/siting/{sitings['cd_fire_5min']['id']}")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    assert "Proposed sites (in order of gain)" in page.content()
    assert page.locator("[data-testid=sites] tr[data-site]").count() == 10
    page.goto(live_server.url + "/coverage?lang=zh")
    assert visit.outside == []
    assert visit.errors == []


def test_clicking_a_facility_draws_its_isochrones(visit: Visit, live_server: LiveServer) -> None:
    page = visit.page
    page.goto(f"{live_server.url}/coverage/circles/cd_fire_5min")
    page.wait_for_selector("[data-testid=coverage-map][data-state=drawn]", timeout=30_000)
    note = page.locator("[data-testid=isochrone-note]")
    figure = page.locator("[data-testid=coverage-map]")
    assert note.is_hidden()
    assert figure.get_attribute("data-isochrones") == "0"
    traces = "() => document.getElementById('coverage-map').data.length"
    width = "() => { const r = document.getElementById('coverage-map')._fullLayout.xaxis.range; return r[1] - r[0]; }"
    before, city = page.evaluate(traces), page.evaluate(width)
    # click the first fire station's marker where plotly drew it (the demo map is SVG: few residents)
    figure.scroll_into_view_if_needed()
    x, y, name = page.evaluate(
        """() => {
            const el = document.getElementById('coverage-map');
            const f = el.data.find(t => t.meta === 'facilities');
            const box = el.querySelector('.draglayer .nsewdrag').getBoundingClientRect();
            return [box.left + el._fullLayout.xaxis.l2p(f.x[0]), box.top + el._fullLayout.yaxis.l2p(f.y[0]),
                    f.text[0].split('<br>')[0]];
        }"""
    )
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    note.wait_for(state="visible", timeout=30_000)
    assert figure.get_attribute("data-isochrones") == "3"
    assert note.inner_text().startswith(f"等时圈:{name}")
    assert "(模拟)" in note.inner_text()  # the polygons are drawn from simulated data
    bands = page.evaluate(
        "() => document.getElementById('coverage-map').data.map((t, i) => [i, t.meta, t.fill, t.name])"
    )
    # three filled polygons below the points, the largest first
    assert [b[:3] for b in bands[:3]] == [[i, "isochrone", "toself"] for i in range(3)]
    assert [b[3].split("≤ ")[1] for b in bands[:3]] == ["5 min", "3.3 min", "1.7 min"]
    assert page.evaluate(traces) == before + 3
    assert page.evaluate(width) < city / 4  # zoomed in on the facility
    # the gaps-only toggle still finds the covered residents among the moved traces
    page.check("[data-testid=gaps-only]")
    page.wait_for_function(
        "() => document.getElementById('coverage-map').data.find(t => t.meta === 'covered').visible === false"
    )
    shot(visit, "coverage-isochrones")
    page.click("[data-testid=isochrone-clear]")
    note.wait_for(state="hidden")
    assert page.evaluate(traces) == before
    assert figure.get_attribute("data-isochrones") == "0"
    assert page.evaluate(width) == pytest.approx(city, rel=0.01)  # the whole city again
    # the same through the handler's function, by facility id
    page.evaluate(
        """async () => {
            const r = await fetch('/api/coverage/runs/latest/circles/cd_fire_5min/map');
            const m = await r.json();
            await window.coverageIsochrones.show(m.facilities.id[1]);
        }"""
    )
    assert figure.get_attribute("data-isochrones") == "3"
    assert visit.outside == []
    assert visit.errors == []
