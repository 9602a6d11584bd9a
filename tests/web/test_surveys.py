"""Demand surveys and supply–demand matching over HTTP against the running app: answer a survey
through the phone form and the JSON API, one answer per person, results, managing surveys, and
the supply–demand page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from planwatch.datasets.surveys_demo import install_surveys_demo
from planwatch.db import make_engine, session_factory, transaction
from planwatch.models.enums import Role
from planwatch.service_requests.surveys import define_survey, publish_survey, validate_survey_data
from tests.conftest import LiveServer, database_url, make_user, run_live_server, settings_for
from tests.service_requests.conftest import build_requests_database
from tests.web import test_pages
from tests.web.test_pages import Visit

DEMO = "cd-demand-2025"
ONE_EACH = "t-one-each"  # one answer per person
DRAFT = "t-draft"
STREET, COMMUNITY, WUHOU_STREET = "510104017", "510104017001", "510107001"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
browser = test_pages.browser  # the module-scoped headless Chromium fixture of the page tests

ANSWERS = {"needs": ["health"], "elderly_care": "no_elderly", "childcare": "no_child", "satisfaction": 4}


def small_survey(code: str, *, identity_required: bool) -> dict[str, object]:
    return {
        "format": "planwatch.survey/v1",
        "code": code,
        "title": "每人一次的调查",
        "identity_required": identity_required,
        "questions": [
            {
                "code": "care",
                "kind": "single",
                "text": "需要养老服务吗?",
                "options": [{"key": "yes", "name": "需要"}, {"key": "no_need", "name": "不需要"}],
            }
        ],
    }


@dataclass
class Site:
    server: LiveServer
    planner: tuple[str, str]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = database_url(backend, tmp_path_factory, "surveys_web")
    build_requests_database(url)
    files = tmp_path_factory.mktemp("surveys_web_files")
    (files / "facilities.csv").write_text(
        "id,type,name,lon,lat,capacity,division_code\n"
        "n1,nursing_home,养老院,104.08,30.64,120,510104017001\n"
        "c1,nursery,托育中心,104.08,30.64,40,510104017002\n",
        encoding="utf-8",
    )
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            install_surveys_demo(
                session, seed=5, year=2025, n_responses=120, facilities=files / "facilities.csv"
            )
            for code, identity in ((ONE_EACH, True), (DRAFT, False)):
                survey, _ = define_survey(
                    session,
                    validate_survey_data(small_survey(code, identity_required=identity)),
                    actor="t",
                    now=datetime.now(UTC),
                )
                if code == ONE_EACH:
                    publish_survey(session, survey, now=survey.created_at)
    finally:
        engine.dispose()
    password = make_user(url, "sv_planner", [Role.planner])
    for server in run_live_server(settings_for(url, requests_per_minute=500)):
        yield Site(server, ("sv_planner", password))


@pytest.fixture
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        yield client


@pytest.fixture
def planner(site: Site) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in as a planner, and its CSRF token."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        token = form_token(client.get("/login"))
        username, password = site.planner
        response = client.post(
            "/login", data={"csrf_token": token, "username": username, "password": password}
        )
        assert response.status_code == 303, response.text
        yield client, client.get("/api/session").json()["csrf_token"]


def form_token(response: httpx.Response) -> str:
    match = CSRF_FIELD.search(response.text)
    assert match is not None, response.text
    return match.group(1)


def answers_n(http: httpx.Client, code: str) -> int:
    response = http.get(f"/api/surveys/{code}/results")
    assert response.status_code == 200, response.text
    return int(response.json()["n"])


# ---------------------------------------------------------------- reading


def test_the_public_sees_open_surveys_and_not_drafts(
    http: httpx.Client, planner: tuple[httpx.Client, str]
) -> None:
    """GET /api/surveys lists open surveys with their link; a draft is 404 to the public only."""
    surveys = {s["code"]: s for s in http.get("/api/surveys").json()}
    assert {DEMO, ONE_EACH} <= set(surveys)
    assert DRAFT not in surveys
    assert surveys[DEMO]["status"] == "open"
    assert surveys[DEMO]["link"] == f"/surveys/{DEMO}"
    assert surveys[DEMO]["simulated"] is True
    assert [q["kind"] for q in surveys[DEMO]["questions"]] == [
        "multiple",
        "single",
        "single",
        "scale",
        "text",
    ]
    assert http.get(f"/api/surveys/{DRAFT}").status_code == 404
    assert http.get(f"/surveys/{DRAFT}").status_code == 404
    client, _ = planner
    assert DRAFT in {s["code"] for s in client.get("/api/surveys").json()}
    assert client.get(f"/api/surveys/{DRAFT}").json()["status"] == "draft"
    page = http.get("/surveys")
    assert page.status_code == 200
    assert f'data-survey="{DEMO}"' in page.text
    assert DRAFT not in page.text


def test_the_answering_page_works_without_javascript(http: httpx.Client) -> None:
    """Radio buttons, check boxes, a scale, a text box and a street picker; no script; a CSRF cookie."""
    page = http.get(f"/surveys/{DEMO}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert 'type="checkbox" name="needs" value="health"' in html
    assert 'type="radio" name="elderly_care" value="home"' in html
    assert 'type="radio" name="satisfaction" value="5"' in html
    assert '<textarea name="suggestions"' in html
    assert '<select name="street"' in html
    assert f'<option value="{STREET}"' in html
    assert "<optgroup" in html
    assert '<meta name="viewport" content="width=device-width' in html
    assert "<script" not in html
    assert form_token(page) == http.cookies["pw_csrf"]
    english = http.get(f"/surveys/{DEMO}", params={"lang": "en"}).text
    assert "Where do you live?" in english
    assert "Yes, services at home" in english


# ---------------------------------------------------------------- answering through the form


def test_answering_through_the_form(http: httpx.Client) -> None:
    """Choose a street, then its community, answer, and land on the thank-you page."""
    before = answers_n(http, DEMO)
    token = form_token(http.get(f"/surveys/{DEMO}"))
    typed = {"needs": ["health", "canteen"], "elderly_care": "day_care", "satisfaction": "3"}
    refined = http.post(
        f"/surveys/{DEMO}", data={"csrf_token": token, "street": STREET, "step": "refine", **typed}
    )
    assert refined.status_code == 200
    assert '<select name="community"' in refined.text
    assert f'<option value="{COMMUNITY}"' in refined.text
    assert 'value="canteen" checked' in refined.text  # what was ticked stays ticked
    assert 'value="day_care" checked' in refined.text
    assert answers_n(http, DEMO) == before  # choosing a community stores nothing
    done = http.post(
        f"/surveys/{DEMO}",
        data={"csrf_token": token, "street": STREET, "community": COMMUNITY, "step": "submit", "childcare": "no_child",
              "suggestions": "<b>希望</b>增加食堂", **typed},
    )  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == f"/surveys/{DEMO}/thanks"
    thanks = http.get(done.headers["location"])
    assert thanks.status_code == 200
    assert 'data-testid="survey-thanks"' in thanks.text
    assert answers_n(http, DEMO) == before + 1


def test_a_bad_form_is_answered_on_the_form(http: httpx.Client) -> None:
    """A missing answer or division: 422, the problem named, everything typed kept, nothing stored."""
    before = answers_n(http, DEMO)
    token = form_token(http.get(f"/surveys/{DEMO}"))
    missing = http.post(
        f"/surveys/{DEMO}",
        data={"csrf_token": token, "street": STREET, "needs": ["education"], "satisfaction": "2"},
    )
    assert missing.status_code == 422
    assert "question &#39;elderly_care&#39;" in missing.text
    assert 'value="education" checked' in missing.text
    no_place = http.post(f"/surveys/{DEMO}", data={"csrf_token": token, **ANSWERS, "satisfaction": "4"})
    assert no_place.status_code == 422
    assert "division_code" in no_place.text
    assert answers_n(http, DEMO) == before


def test_a_form_without_its_csrf_token_is_refused(http: httpx.Client) -> None:
    """The anonymous form is a double-submit form: no token, no answer."""
    http.get(f"/surveys/{DEMO}")
    response = http.post(f"/surveys/{DEMO}", data={"street": STREET, **ANSWERS, "satisfaction": "4"})
    assert response.status_code == 403


# ---------------------------------------------------------------- answering through the API


def test_an_anonymous_json_answer(http: httpx.Client) -> None:
    """POST /api/surveys/{code}/responses needs no account; a bad answer is 422 naming the question."""
    created = http.post(
        f"/api/surveys/{DEMO}/responses", json={"division_code": WUHOU_STREET, "answers": ANSWERS}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["survey"] == DEMO
    assert body["division_code"] == WUHOU_STREET
    assert body["simulated"] is False
    bad = http.post(
        f"/api/surveys/{DEMO}/responses",
        json={"division_code": WUHOU_STREET, "answers": {**ANSWERS, "satisfaction": 9}},
    )
    assert bad.status_code == 422
    assert "question 'satisfaction'" in bad.json()["error"]["message"]
    assert http.post(f"/api/surveys/{DEMO}/responses", json={"answers": ANSWERS}).status_code == 422
    assert (
        http.post(
            f"/api/surveys/{DRAFT}/responses", json={"division_code": STREET, "answers": {}}
        ).status_code
        == 404
    )


def test_one_answer_per_person(http: httpx.Client) -> None:
    """Where identity is required, a second answer from the same mobile is 409, however it is written."""
    url = f"/api/surveys/{ONE_EACH}/responses"
    body = {"division_code": STREET, "answers": {"care": "yes"}}
    assert http.post(url, json=body).status_code == 422  # no phone
    first = http.post(url, json={**body, "phone": "13712345678"})
    assert first.status_code == 201, first.text
    again = http.post(url, json={**body, "phone": "+86 137-1234-5678"})
    assert again.status_code == 409
    assert "one answer per person" in again.json()["error"]["message"]
    page = http.get(f"/surveys/{ONE_EACH}")
    assert 'name="phone"' in page.text
    form = http.post(
        f"/surveys/{ONE_EACH}",
        data={"csrf_token": form_token(page), "street": STREET, "care": "no_need", "phone": "137 1234 5678"},
    )
    assert form.status_code == 409
    assert "每人限答一次" in form.text
    results = http.get(f"/api/surveys/{ONE_EACH}/results").json()
    assert results["n"] == 1
    assert "13712345678" not in str(results)


# ---------------------------------------------------------------- results


def test_results_for_the_public_and_for_staff(http: httpx.Client, planner: tuple[httpx.Client, str]) -> None:
    """The public sees counts, small divisions without their distribution, and no comment texts;
    staff see every division and the comments, masked."""
    public = http.get(f"/api/surveys/{DEMO}/results", params={"level": "street"}).json()
    assert public["simulated"] is True
    assert public["min_n"] == 20
    assert sum(d["n"] for d in public["divisions"]) + public["unplaced"] == public["n"]
    assert any(d["suppressed"] for d in public["divisions"])
    note = next(q for q in public["total"]["questions"] if q["code"] == "suggestions")
    assert note["texts"] is None
    assert note["texts_count"] >= 1
    client, _ = planner
    staff = client.get(f"/api/surveys/{DEMO}/results", params={"level": "street"}).json()
    assert not any(d["suppressed"] for d in staff["divisions"])
    texts = next(q for q in staff["total"]["questions"] if q["code"] == "suggestions")["texts"]
    assert texts
    assert not any(re.search(r"1[3-9]\d{9}", text) for text in texts)
    assert http.get(f"/api/surveys/{DEMO}/results", params={"level": "city"}).status_code == 422


def test_the_results_page_has_tables_and_charts(
    http: httpx.Client, planner: tuple[httpx.Client, str]
) -> None:
    """A table per question, plotly charts served locally, the simulated banner; comments for staff."""
    page = http.get(f"/surveys/{DEMO}/results", params={"level": "district"})
    assert page.status_code == 200
    assert 'data-testid="simulated-banner"' in page.text
    assert 'data-testid="table-elderly_care"' in page.text
    assert 'id="chart-satisfaction"' in page.text
    assert '<script src="/static/vendor/plotly.min.js"></script>' in page.text
    assert http.get("/static/survey_chart.js").status_code == 200
    assert "<b>希望</b>" not in page.text
    client, _ = planner
    staff = client.get(f"/surveys/{DEMO}/results").text
    assert "&lt;b&gt;希望&lt;/b&gt;增加食堂" in staff  # shown as text, never rendered


# ---------------------------------------------------------------- managing


def test_managing_surveys_needs_the_permission(http: httpx.Client, planner: tuple[httpx.Client, str]) -> None:
    """The public may not define, publish or close; a planner defines, publishes, and closes."""
    definition = small_survey("t-managed", identity_required=False)
    assert http.post("/api/surveys", json=definition).status_code == 403
    assert http.post(f"/api/surveys/{ONE_EACH}/close").status_code == 403
    client, csrf = planner
    headers = {"X-CSRF-Token": csrf}
    created = client.post("/api/surveys", json=definition, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    bad = client.post("/api/surveys", json={**definition, "questions": []}, headers=headers)
    assert bad.status_code == 422
    assert "questions" in bad.json()["error"]["message"]
    assert client.post("/api/surveys/t-managed/publish", headers=headers).json()["status"] == "open"
    assert client.post("/api/surveys/t-managed/publish", headers=headers).status_code == 409
    answer = {"division_code": STREET, "answers": {"care": "yes"}}
    assert http.post("/api/surveys/t-managed/responses", json=answer).status_code == 201
    assert client.post("/api/surveys/t-managed/close", headers=headers).json()["status"] == "closed"
    assert http.post("/api/surveys/t-managed/responses", json=answer).status_code == 409
    assert 'data-testid="survey-not-open"' in http.get("/surveys/t-managed").text


# ---------------------------------------------------------------- supply and demand


def test_supply_demand_api_and_page(http: httpx.Client) -> None:
    """Every pair by default, one on request; the page ranks the shortest and says what is simulated."""
    every = http.get("/api/supply-demand").json()
    assert {r["pair"]["code"] for r in every} == {
        "elderly_beds",
        "childcare_places",
        "kindergarten_places",
        "canteen_seats",
    }
    (beds,) = http.get("/api/supply-demand", params={"pair": "elderly_beds", "level": "street"}).json()
    assert beds["level"] == "street"
    assert beds["simulated"] is True
    assert "facilities" in beds["simulated_sources"]
    assert beds["rows"][0]["rank"] == 1
    assert beds["total"]["supply"] == 120
    assert beds["survey_year"] == 2025
    assert http.get("/api/supply-demand", params={"pair": "spaceships"}).status_code == 404
    assert http.get("/api/supply-demand", params={"level": "city"}).status_code == 422
    pairs = http.get("/api/supply-demand/pairs").json()
    assert next(p for p in pairs if p["code"] == "childcare_places")["standard"]["verified"] == "secondary"
    page = http.get("/supply-demand", params={"pair": "childcare_places", "level": "district"})
    assert page.status_code == 200
    assert 'data-testid="simulated-banner"' in page.text
    assert 'data-testid="table-childcare_places"' in page.text
    assert 'data-rank="1"' in page.text
    assert "3/15" in page.text
    assert http.get("/supply-demand", params={"lang": "en"}).status_code == 200


# ---------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_a_phone_answers_the_survey_in_chromium(browser: object, site: Site) -> None:
    """On a 390 px wide screen the form fits without sideways scrolling, answers by tapping, and
    nothing is loaded from outside."""
    visit = Visit(browser)
    try:
        page = visit.page
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{site.url}/surveys/{DEMO}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.select_option("[data-testid=street]", STREET)
        page.click("[data-testid=refine]")
        page.select_option("[data-testid=community]", COMMUNITY)
        page.check("input[name=needs][value=childcare]")
        page.check("input[name=elderly_care][value=no_elderly]")
        page.check("input[name=childcare][value=full_day]")
        page.check("input[name=satisfaction][value='5']")
        box = page.locator("label:has(input[name=satisfaction][value='5'])").bounding_box()
        assert box is not None
        assert box["height"] >= 44  # a finger-sized target
        page.click("[data-testid=submit-survey]")
        page.wait_for_selector("[data-testid=survey-thanks]")
        assert visit.outside == []
        assert visit.errors == []
    finally:
        visit.close()


@pytest.mark.browser
def test_the_shortest_divisions_are_drawn_in_chromium(browser: object, site: Site) -> None:
    """plotly draws the bars from the local copy (the results page uses the same script)."""
    visit = Visit(browser)
    try:
        page = visit.page
        page.goto(f"{site.url}/supply-demand?pair=elderly_beds")
        page.wait_for_selector("#chart-elderly_beds .main-svg", timeout=20_000)
        assert page.locator("#chart-elderly_beds .bars path").count() >= 1
        assert visit.outside == []
        assert visit.errors == []
    finally:
        visit.close()
