"""The simulated request history: reproducible, realistic shares, valid timelines, fast install."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from planwatch.crypto import decrypt
from planwatch.datasets import chengdu_path
from planwatch.datasets.coverage_demo import build_coverage_demo, write_coverage_demo
from planwatch.datasets.requests_demo import (
    ACTOR,
    RequestsDemo,
    address_points_from_origins,
    build_requests_demo,
    demo_types_from_file,
    install_requests_demo,
    read_request_templates,
    route_from_file,
)
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import load_divisions
from planwatch.errors import CatalogueError, NotFoundError
from planwatch.models import AddressPoint, Department, Division, RequestEvent, ServiceRequest, ServiceType
from planwatch.models.enums import RequestAction, RequestState
from planwatch.pii import PHONE, mask_text
from planwatch.plans.service import load_plan_file
from planwatch.service_requests.catalogue import load_service_types
from planwatch.service_requests.routing import Router
from planwatch.service_requests.service import TRANSITIONS
from tests.conftest import database_url, rolled_back, settings_for

YEAR = 2025
CHINA = "Asia/Shanghai"


@pytest.fixture(scope="module")
def coverage_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("requests-coverage")
    write_coverage_demo(build_coverage_demo(scale=0.02), directory)
    return directory


@pytest.fixture(scope="module")
def divisions() -> pd.DataFrame:
    return pd.read_csv(chengdu_path("divisions.csv"), dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def points(coverage_dir: Path, divisions: pd.DataFrame) -> pd.DataFrame:
    origins = pd.read_csv(coverage_dir / "origins.csv", dtype={"id": str, "division_code": str})
    return address_points_from_origins(origins, divisions)


@pytest.fixture(scope="module")
def demo(points: pd.DataFrame) -> RequestsDemo:
    return build_requests_demo(seed=14, n=12_000, year=YEAR, address_points=points)


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database with the divisions, the plan's departments and the request types."""
    url = database_url(backend, tmp_path_factory, "requests-demo")
    engine = make_engine(url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        load_divisions(session, chengdu_path("divisions.csv"))
        load_plan_file(session, chengdu_path("plan.yaml"))
        load_service_types(session, chengdu_path("service_types.yaml"))
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    yield from rolled_back(engine)


def share(mask: pd.Series | np.ndarray) -> float:
    return float(np.mean(mask))


# --------------------------------------------------------------------------- the generator


def test_the_same_seed_gives_the_same_frames(points: pd.DataFrame) -> None:
    """Same seed, same frames; another seed, other requests."""
    first = build_requests_demo(seed=3, n=800, year=YEAR, address_points=points)
    again = build_requests_demo(seed=3, n=800, year=YEAR, address_points=points)
    other = build_requests_demo(seed=4, n=800, year=YEAR, address_points=points)
    pd.testing.assert_frame_equal(first.requests, again.requests)
    pd.testing.assert_frame_equal(first.events, again.events)
    assert not first.requests["description"].equals(other.requests["description"])


def test_volumes_kinds_and_channels_are_realistic(demo: RequestsDemo) -> None:
    """City-management types lead, hazards are rare, the hotline carries most, 咨询 is a large share."""
    requests = demo.requests
    assert len(requests) == 12_000
    assert requests["simulated"].all()
    types = requests["type_code"].value_counts(normalize=True)
    assert set(types.index) == set(demo_types_from_file())
    for code in ("sanitation", "property", "noise", "traffic", "road_facility"):
        assert types[code] > 0.07, code
    assert types["safety_hazard"] < 0.02
    assert types.index[0] in ("sanitation", "property")
    channels = requests["channel"].value_counts(normalize=True)
    assert 0.85 <= channels["hotline"] <= 0.90
    assert set(channels.index) == {"hotline", "web", "wechat", "open311"}
    kinds = requests["kind"].value_counts(normalize=True)
    assert kinds.index[0] == "complaint"
    assert 0.15 <= kinds["consultation"] <= 0.35
    assert 0.005 <= kinds["praise"] <= 0.03
    # 咨询 dominates the information types, 投诉 the nuisance types
    by_type = pd.crosstab(requests["type_code"], requests["kind"], normalize="index")
    assert by_type.loc["employment", "consultation"] > 0.5
    assert by_type.loc["noise", "complaint"] > 0.6


def test_seasons_weekdays_and_hours(demo: RequestsDemo) -> None:
    """Water and power peak in summer, noise in the evening, daytime types on weekdays."""
    requests = demo.requests
    local = requests["requested_at"].dt.tz_convert(CHINA)
    assert (local.dt.year == YEAR).all()
    month, hour, weekday = local.dt.month, local.dt.hour, local.dt.day_of_week
    for code in ("water_supply", "power_gas"):
        of = requests["type_code"] == code
        assert (of & month.isin([7, 8])).sum() > 1.4 * (of & month.isin([3, 4])).sum(), code
    noise = requests["type_code"] == "noise"
    daytime = requests["type_code"].isin(["employment", "education", "consumer"])
    assert share(hour[noise] >= 20) > 2 * share(hour[daytime] >= 20)
    assert share(weekday[daytime] >= 5) < 2 / 7 - 0.02
    assert share(hour[daytime].between(9, 17)) > 0.6


def test_rates_match_the_published_12345_figures(demo: RequestsDemo) -> None:
    """响应率, 按时办结率, 退单率, 重办率, 解决率, 满意率 within the ranges of the reference."""
    r = demo.requests
    dispatched = r[r["dispatched_at"].notna()]
    responded = (dispatched["accepted_at"] <= dispatched["response_due_at"]) & (
        dispatched["contacted_at"] <= dispatched["response_due_at"]
    )
    assert 0.97 <= share(responded) <= 0.99
    replied = dispatched[dispatched["replied_at"].notna()]
    overdue = share(replied["replied_at"] > replied["expected_at"])
    assert 0.03 <= overdue <= 0.08
    assert 0.02 <= share(r["returned_count"] > 0) <= 0.04
    assert 0.01 <= share(r["reopened_count"] > 0) <= 0.025
    assert 0.002 <= share(r["close_reason"] == "duplicate") <= 0.01
    assert 0.03 <= share(r["state"] != "closed") <= 0.06
    called = r[r["resolved"].notna()]
    assert 0.8 <= len(called) / (r["state"] == "closed").sum() <= 0.95
    assert 0.90 <= share(called["resolved"].astype(bool)) <= 0.95
    satisfied = called["satisfaction"].value_counts(normalize=True)
    assert 0.94 <= satisfied["satisfied"] + satisfied["basically"] <= 0.97
    assert satisfied["unsatisfied"] > 0.02
    # 直办 consultations are answered on the call: never dispatched, closed within minutes
    direct = r[r["dispatched_at"].isna() & (r["close_reason"] == "resolved")]
    assert (direct["kind"] == "consultation").all()
    assert (direct["channel"] == "hotline").all()
    assert ((direct["closed_at"] - direct["requested_at"]) < pd.Timedelta(minutes=16)).all()


def test_some_units_do_worse(demo: RequestsDemo) -> None:
    """The dashboard has something to show: the housing bureau is late more often and less liked
    than the power company; 龙泉驿区 is late more often than 锦江区."""
    r = demo.requests
    replied = r[r["replied_at"].notna() & r["dispatched_at"].notna()]
    late = (replied["replied_at"] > replied["expected_at"]).groupby(replied["department_code"]).mean()
    assert late["CDZJJ"] > 2 * late["SGCC-CD"]
    by_district = (replied["replied_at"] > replied["expected_at"]).groupby(replied["district_code"]).mean()
    assert by_district["510112"] > by_district["510104"]
    called = r[r["satisfaction"].notna()]
    satisfied = (called["satisfaction"] == "satisfied").groupby(called["department_code"]).mean()
    assert satisfied["CDZJJ"] < satisfied["SGCC-CD"] - 0.05


def assert_timelines_valid(demo: RequestsDemo, end: pd.Timestamp | datetime) -> None:
    """Steps in time order, each allowed from the state before it (service.TRANSITIONS), nothing
    after ``end``, and the request's fields read off its timeline."""
    events, requests = demo.events, demo.requests
    assert (events["actor"] == ACTOR).all()
    assert (events["at"] <= end).all()
    first = events["request"].ne(events["request"].shift())
    assert first.sum() == len(requests)
    assert (events.loc[first, "action"] == "received").all()
    assert events.loc[first, "from_state"].isna().all()
    later = events[~first]
    assert (later["from_state"] == events["to_state"].shift()[~first]).all()
    assert (later["at"].to_numpy() >= events["at"].shift()[~first].to_numpy()).all()
    for (action, before, after), _ in later.groupby(["action", "from_state", "to_state"]):
        sources, target = TRANSITIONS[RequestAction(action)]
        assert RequestState(before) in sources, (action, before)
        assert after == (target.value if target is not None else before), (action, before, after)
    last = events.groupby("request").tail(1).set_index("request")
    assert (last["to_state"].to_numpy() == requests["state"].to_numpy()).all()
    assert (last["at"].to_numpy() == requests["updated_at"].to_numpy()).all()
    for action, column in (
        ("dispatched", "dispatched_at"),
        ("accepted", "accepted_at"),
        ("contacted", "contacted_at"),
    ):
        firsts = events[events["action"] == action].groupby("request")["at"].first()
        assert (requests.loc[firsts.index, column] == firsts).all(), column
        assert requests[column].notna().sum() == len(firsts), column
    assert (
        requests["contacted_at"].dropna() >= requests["accepted_at"][requests["contacted_at"].notna()]
    ).all()
    closed = requests["state"] == "closed"
    assert requests.loc[closed, "closed_at"].notna().all()
    assert requests.loc[~closed, "closed_at"].isna().all()
    assert requests.loc[closed, "close_reason"].isin(["resolved", "duplicate"]).all()
    assert requests.loc[~closed, "close_reason"].isna().all()
    for action, column in (("returned", "returned_count"), ("reopened", "reopened_count")):
        counts = events[events["action"] == action].groupby("request").size()
        assert (requests[column] == counts.reindex(requests.index, fill_value=0)).all(), column
    # a returned ticket leaves the unit that returned it; the centre re-dispatches it elsewhere
    back = events[events["action"] == "returned"]
    held = requests.loc[back["request"], "department_code"].to_numpy()
    assert (back["department_code"].to_numpy() != held).all()
    assert requests.loc[requests["dispatched_at"].isna(), "department_code"].isna().all()
    types = demo_types_from_file()
    hours = requests["type_code"].map(lambda code: types[code].deadline_hours)
    assert (requests["expected_at"] - requests["requested_at"] == pd.to_timedelta(hours, unit="h")).all()


def test_every_timeline_follows_the_workflow(demo: RequestsDemo) -> None:
    """Every timeline of the year is valid; duplicates point at an earlier request nearby."""
    assert_timelines_valid(demo, pd.Timestamp(f"{YEAR + 1}-01-01", tz=CHINA))
    requests = demo.requests
    duplicates = requests[requests["duplicate_of"] >= 0]
    assert len(duplicates) > 0
    originals = requests.loc[duplicates["duplicate_of"]]
    assert (originals["type_code"].to_numpy() == duplicates["type_code"].to_numpy()).all()
    assert (originals["division_code"].to_numpy() == duplicates["division_code"].to_numpy()).all()
    assert (originals["requested_at"].to_numpy() <= duplicates["requested_at"].to_numpy()).all()


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), month=st.integers(1, 12))
def test_any_seed_and_cut_off_gives_valid_timelines(points: pd.DataFrame, seed: int, month: int) -> None:
    """Whatever the seed and wherever the year is cut off, every timeline is valid."""
    until = datetime(YEAR, month, 15, tzinfo=UTC)
    demo = build_requests_demo(seed=seed, n=300, year=YEAR, address_points=points, until=until)
    assert_timelines_valid(demo, until)


def test_requests_are_placed_in_real_communities(demo: RequestsDemo, divisions: pd.DataFrame) -> None:
    """Every request lies in a real community (and its real street and district), near a point."""
    r = demo.requests
    communities = divisions[divisions["level"] == "community"].set_index("code")
    assert r["division_code"].isin(communities.index).all()
    assert (
        communities.loc[r["division_code"], "parent_code"].to_numpy() == r["street_code"].to_numpy()
    ).all()
    assert (r["street_code"].str[:6] == r["district_code"]).all()
    assert r["lat"].between(30.0, 31.5).all()
    assert r["lon"].between(102.9, 105.0).all()
    assert r["address"].str.contains("模拟地址").all()
    hotline = r["channel"] == "hotline"
    assert r.loc[hotline, "address_id"].str.startswith("SIM-").all()
    assert r["district_code"].nunique() == 20


def test_requests_follow_the_population(demo: RequestsDemo, points: pd.DataFrame) -> None:
    """Requests per district follow its population; city dwellers call a bit more often."""
    people = points.groupby("district_code")["population"].sum()
    per_person = demo.requests["district_code"].value_counts() / people
    central = per_person[["510104", "510105", "510106", "510107", "510108"]].mean()
    assert central > per_person.drop(["510104", "510105", "510106", "510107", "510108"]).mean()
    assert per_person.max() < 3 * per_person.min()


def test_address_points_use_the_real_division_names(points: pd.DataFrame) -> None:
    """SIM-<id> codes, addresses such as 成都市锦江区锦官驿街道水井坊社区 模拟地址 1 号."""
    assert points["code"].str.match(r"^SIM-o\d{6}$").all()
    assert points["code"].is_unique
    first = points.iloc[0]
    assert first["address"].startswith(
        f"成都市{first['district_name']}{first['street_name']}{first['community_name']}"
    )
    assert points["address"].str.endswith(" 号").all()
    assert points["address"].is_unique
    assert points["rural"].any()
    assert not points["rural"].all()


def test_texts_vary_and_sometimes_carry_a_phone(demo: RequestsDemo) -> None:
    """Non-empty Chinese texts, mostly distinct, ~5 % with the caller's number (masked on display)."""
    texts = demo.requests["description"]
    assert texts.str.len().min() >= 3
    assert texts.nunique() > 0.8 * len(texts)
    assert texts.str.contains(r"[\u4e00-\u9fff]").all()
    with_phone = texts[texts.map(lambda text: PHONE.search(text) is not None)]
    assert 0.03 <= len(with_phone) / len(texts) <= 0.07
    assert not with_phone.map(mask_text).map(lambda text: PHONE.search(text) is not None).any()
    assert not texts.str.contains(r"\{|\}").any()


def test_texts_are_a_realistic_not_trivial_classification_task(demo: RequestsDemo) -> None:
    """A character n-gram model learns the types well but not perfectly (borderline and vague texts)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    train, test = demo.requests.iloc[:6000], demo.requests.iloc[6000:8000]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LinearSVC().fit(vectorizer.fit_transform(train["description"]), train["type_code"])
    accuracy = share(model.predict(vectorizer.transform(test["description"])) == test["type_code"])
    assert 0.75 <= accuracy <= 0.95


def test_until_leaves_the_future_out(points: pd.DataFrame) -> None:
    """With ``until`` inside the year nothing happens after it."""
    until = pd.Timestamp(f"{YEAR}-07-01", tz=CHINA).to_pydatetime()
    demo = build_requests_demo(seed=5, n=2000, year=YEAR, address_points=points, until=until)
    assert (demo.requests["requested_at"] <= until).all()
    assert (demo.events["at"] <= until).all()
    assert 800 < len(demo.requests) < 1200


def test_the_template_file_covers_every_type_and_is_checked(tmp_path: Path) -> None:
    """Every request type has templates; an unknown slot or neighbour is refused by name."""
    templates = read_request_templates()
    assert set(templates.types) == set(demo_types_from_file())
    raw = yaml.safe_load(chengdu_path("request_templates.yaml").read_text(encoding="utf-8"))
    raw["types"]["noise"]["templates"].append("{place}{colour}太吵了")
    raw["types"]["noise"]["neighbours"].append("heating")
    path = tmp_path / "templates.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"(?s)colour.*heating|heating.*colour"):
        read_request_templates(path)


# --------------------------------------------------------------------------- the database


def test_routing_from_the_file_matches_the_router(session: Session, points: pd.DataFrame) -> None:
    """The pure default routing agrees with the database's Router (属地兜底 included)."""
    route = route_from_file(points)
    router = Router.from_session(session)
    types = {code: id_ for id_, code in session.execute(select(ServiceType.id, ServiceType.code))}
    departments = dict(session.execute(select(Department.id, Department.code)).all())
    divisions = {code: id_ for id_, code in session.execute(select(Division.id, Division.code))}
    sample = points.groupby("district_code").head(3)["division_code"]
    for type_code, type_id in types.items():
        for community in sample:
            expected = departments[router.department_for(type_id, divisions[community])]
            assert route(type_code, community) == expected, (type_code, community)
    assert (
        route("sanitation", points.loc[points["district_code"] == "510121", "division_code"].iloc[0])
        == "GOV-510121"
    )
    assert route("other", sample.iloc[0]) == f"GOV-{sample.iloc[0][:6]}"
    assert route("community_life", sample.iloc[0]) == f"GOV-{sample.iloc[0][:9]}"


def test_install_writes_everything_labelled_simulated_and_is_idempotent(
    session: Session, coverage_dir: Path, engine: Engine
) -> None:
    """Address points, requests and events in bulk; a second run writes nothing; replace redoes it."""
    settings = settings_for(engine.url.render_as_string(hide_password=False))
    started = time.perf_counter()
    report = install_requests_demo(session, coverage_dir=coverage_dir, year=YEAR, n=2000, settings=settings)
    assert time.perf_counter() - started < 8
    assert report.requests == 2000
    assert not report.skipped
    points = session.scalar(
        select(func.count()).select_from(AddressPoint).where(AddressPoint.simulated.is_(True))
    )
    assert report.address_points_created == points > 3000
    count = session.scalar(
        select(func.count()).select_from(ServiceRequest).where(ServiceRequest.simulated.is_(True))
    )
    assert count == 2000
    events = session.scalar(select(func.count()).select_from(RequestEvent))
    assert events == report.events > 6 * 2000
    assert (
        session.scalar(select(func.count()).select_from(RequestEvent).where(RequestEvent.actor != ACTOR)) == 0
    )

    # the rows read back through the ORM as they were generated
    request = session.scalars(
        select(ServiceRequest).where(
            ServiceRequest.reopened_count == 1, ServiceRequest.state == RequestState.closed
        )
    ).first()
    assert request is not None
    assert request.closed_at is not None
    assert request.replied_at is not None
    assert request.requested_at < request.dispatched_at <= request.accepted_at <= request.closed_at
    steps = session.scalars(
        select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.id)
    ).all()
    assert steps[0].action is RequestAction.received
    assert steps[-1].action is RequestAction.callback
    assert RequestAction.reopened in [s.action for s in steps]
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert request.department_id is not None
    assert request.division.level.value == "community"
    assert request.street_id == request.division.parent_id
    road = session.scalars(
        select(ServiceRequest)
        .join(ServiceType, ServiceType.id == ServiceRequest.service_type_id)
        .where(ServiceType.code == "road_facility")
    ).first()
    assert road is not None
    assert road.attributes["hazard"] in ("yes", "no")
    duplicate = session.scalars(
        select(ServiceRequest).where(ServiceRequest.duplicate_of_id.is_not(None))
    ).first()
    if duplicate is not None:
        assert duplicate.close_reason == "duplicate"
    named = session.scalars(select(ServiceRequest).where(ServiceRequest.phone.is_not(None))).all()
    assert 0 < len(named) < 0.06 * 2000
    assert all(decrypt(settings, r.phone).startswith("13800") for r in named)
    assert all(re.fullmatch(r"[先生女士]{2}", decrypt(settings, r.first_name) or "") for r in named)
    assert "13800" not in (named[0].phone or "")  # stored encrypted

    again = install_requests_demo(session, coverage_dir=coverage_dir, year=YEAR, n=2000, settings=settings)
    assert again.skipped
    assert again.requests == 0
    assert again.address_points_created == 0
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 2000

    redone = install_requests_demo(
        session, coverage_dir=coverage_dir, year=YEAR, n=1000, seed=2, settings=settings, replace=True
    )
    assert redone.removed == 2000
    assert redone.requests == 1000
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 1000
    assert session.scalar(select(func.count()).select_from(RequestEvent)) == redone.events


def test_install_needs_the_coverage_demo_and_the_types(
    session: Session, tmp_path: Path, engine: Engine
) -> None:
    """No origins.csv: a NotFoundError that says to build the coverage demo."""
    with pytest.raises(NotFoundError, match="coverage demo"):
        install_requests_demo(
            session,
            coverage_dir=tmp_path,
            year=YEAR,
            n=10,
            settings=settings_for(engine.url.render_as_string(hide_password=False)),
        )
