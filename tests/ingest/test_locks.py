"""Entry deadlines, lock exceptions [LCK-1] and bottom-up approval [LCK-2], on both backends:
closed cells refuse writes on every path (write_values, file import, the API) and say why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.accounts.principal import Principal
from planwatch.config import Settings
from planwatch.errors import ConflictError, LockedError, OutOfScopeError
from planwatch.evaluation.service import PUBLIC, breakdown
from planwatch.ingest import approval, lock_exceptions
from planwatch.ingest.service import ImportReport, import_file, write_items
from planwatch.ingest.writer import CellsLockedError
from planwatch.models import DataValue, DataValueAudit, Department, Division, Indicator, Target
from planwatch.models.enums import ApprovalState, ApprovalUnitKind, Channel, Role, ValueStatus
from tests.conftest import LiveServer, make_user, run_live_server, settings_for
from tests.ingest.factories import (
    CHINA,
    CITY,
    EXPIRY_2025,
    JINJIANG,
    OPEN_2025,
    QINGYANG,
    STREET,
    Clock,
    collection_database,
    csv_bytes,
    principal,
)

BEDS = "inclusive_elderly_beds"
QINGYANG_STREET = "510105002"
SECOND = timedelta(seconds=1)


def write(
    db: Session,
    settings: Settings,
    now: datetime,
    *,
    division: str = JINJIANG,
    period: str = "2025",
    value: float = 7,
    who: Principal | None = None,
) -> ImportReport:
    item = {"indicator": BEDS, "division": division, "period": period, "value": value}
    return write_items(
        db, [item], principal=who or principal(db), channel=Channel.api, settings=settings, now=now
    )


def last_audit(db: Session) -> DataValueAudit:
    audit = db.scalar(select(DataValueAudit).order_by(DataValueAudit.id.desc()).limit(1))
    assert audit is not None
    return audit


def reopen(db: Session, *, division: str = JINJIANG, period: str = "2025", now: datetime = OPEN_2025) -> int:
    exception = lock_exceptions.grant(
        db, BEDS, division, period, reason="统计局更正", principal=principal(db), now=now, days=365
    )
    return exception.id


# —— LCK-1: the entry deadline ——————————————————————————————————————————————————————————


@pytest.mark.parametrize(
    ("offset", "exception", "open_", "forced"),
    [
        (-SECOND, False, True, False),
        (-SECOND, True, True, False),
        (timedelta(0), False, False, False),
        (timedelta(0), True, True, True),
        (SECOND, False, False, False),
        (SECOND, True, True, True),
    ],
    ids=[
        "expiry-1s",
        "expiry-1s+exception",
        "expiry",
        "expiry+exception",
        "expiry+1s",
        "expiry+1s+exception",
    ],
)
def test_entry_deadline(
    db: Session, settings: Settings, offset: timedelta, exception: bool, open_: bool, forced: bool
) -> None:
    assert settings.entry_expiry_days == 90
    if exception:
        reopen(db)
    now = EXPIRY_2025 + offset
    if open_:
        report = write(db, settings, now)
        assert report.ok
        assert report.inserted == 1
        assert report.forced == int(forced)
        assert last_audit(db).forced is forced
    else:
        with pytest.raises(LockedError) as caught:
            write(db, settings, now)
        assert caught.value.code == "PERIOD_EXPIRED"
        assert "closed after 2026-03-31 (90 days after the period ended)" in caught.value.message
        assert "lock exception" in caught.value.message
        assert db.scalar(select(func.count()).select_from(DataValue)) == 0


def test_exception_reopens_exactly_one_cell(db: Session, settings: Settings) -> None:
    reopen(db)
    late = EXPIRY_2025 + timedelta(days=3)
    assert write(db, settings, late).ok
    for division, period in ((QINGYANG, "2025"), (JINJIANG, "2024")):
        with pytest.raises(LockedError) as caught:
            write(db, settings, late, division=division, period=period)
        assert caught.value.code == "PERIOD_EXPIRED"


def test_revoked_or_expired_exception_closes_the_cell_again(db: Session, settings: Settings) -> None:
    late = EXPIRY_2025 + timedelta(days=3)
    exception_id = reopen(db)
    assert write(db, settings, late, value=1).ok
    lock_exceptions.revoke(db, exception_id, principal=principal(db), now=late)
    with pytest.raises(LockedError):
        write(db, settings, late, value=2)
    lock_exceptions.grant(
        db, BEDS, JINJIANG, "2025", reason="再补录", principal=principal(db), now=late, days=1
    )
    assert write(db, settings, late + timedelta(hours=23), value=3).ok
    with pytest.raises(LockedError):
        write(db, settings, late + timedelta(days=1, seconds=1), value=4)


def test_only_an_approver_of_the_division_grants_exceptions(db: Session) -> None:
    from planwatch.errors import ForbiddenError, InvalidValueError, NotFoundError

    reporter = principal(db, role=Role.district_reporter, capture=[JINJIANG])
    with pytest.raises(ForbiddenError):
        lock_exceptions.grant(db, BEDS, JINJIANG, "2025", reason="x", principal=reporter, now=OPEN_2025)
    district_planner = principal(db, capture=[QINGYANG])
    with pytest.raises(NotFoundError):
        lock_exceptions.grant(
            db, BEDS, JINJIANG, "2025", reason="x", principal=district_planner, now=OPEN_2025
        )
    with pytest.raises(InvalidValueError, match="reason"):
        lock_exceptions.grant(db, BEDS, JINJIANG, "2025", reason="  ", principal=principal(db), now=OPEN_2025)


def test_department_expiry_days_override_the_setting(db: Session, settings: Settings) -> None:
    department = db.scalar(select(Department).where(Department.code == "CDMZJ"))
    assert department is not None
    department.expiry_days = 10
    db.flush()
    closes = datetime(2026, 1, 11, tzinfo=CHINA)
    assert write(db, settings, closes - SECOND).ok
    with pytest.raises(LockedError, match="closed after 2026-01-10"):
        write(db, settings, closes, value=8)


def test_future_periods_are_refused(db: Session, settings: Settings) -> None:
    with pytest.raises(LockedError) as caught:
        write(db, settings, OPEN_2025, period="2027")
    assert caught.value.code == "PERIOD_NOT_STARTED"
    new_year = datetime(2026, 1, 1, tzinfo=CHINA)
    with pytest.raises(LockedError):
        write(db, settings, new_year - SECOND, period="2026")
    assert write(db, settings, new_year, period="2026").ok


def test_file_import_into_a_closed_period_is_a_row_level_problem(db: Session, settings: Settings) -> None:
    rows = [(BEDS, QINGYANG, "2025", 3, "", "", ""), (BEDS, JINJIANG, "2024", 4, "", "", "")]
    report = import_file(
        db,
        csv_bytes(rows),
        "late.csv",
        principal=principal(db),
        channel=Channel.file,
        settings=settings,
        now=OPEN_2025,
    )
    assert not report.ok
    assert db.scalar(select(func.count()).select_from(DataValue)) == 0
    [problem] = report.to_json()["errors"]
    assert (problem["row"], problem["column"], problem["value"]) == (3, "期间", "2024")
    assert "closed after 2025-03-31" in problem["message"]


def test_settings_expiry_days_apply(db: Session, collection_url: str) -> None:
    generous = settings_for(collection_url, entry_expiry_days=3660)
    assert write(db, generous, datetime(2035, 12, 31, 12, tzinfo=CHINA), period="2025").ok


# —— LCK-2: approval ————————————————————————————————————————————————————————————————————


def unit(db: Session, code: str, kind: ApprovalUnitKind = ApprovalUnitKind.division) -> approval.Unit:
    return approval.find_unit(db, kind, code)


def act(
    db: Session, who: Principal, code: str, action: str, *, kind: ApprovalUnitKind = ApprovalUnitKind.division
) -> ApprovalState:
    return approval.transition(db, unit(db, code, kind), 2025, action, principal=who, now=OPEN_2025).state


def approve_everything_below_the_city(db: Session, planner: Principal) -> None:
    city = unit(db, CITY)
    for child in approval._children(db, city):
        if approval.unit_status(db, child, 2025).state is ApprovalState.draft:
            approval.transition(db, child, 2025, "submit", principal=planner, now=OPEN_2025)
        if approval.unit_status(db, child, 2025).state is ApprovalState.submitted:
            approval.transition(db, child, 2025, "approve", principal=planner, now=OPEN_2025)


def test_submit_withdraw_approve_state_machine(db: Session, settings: Settings) -> None:
    reporter = principal(db, role=Role.district_reporter, capture=[JINJIANG], username="jinjiang")
    planner = principal(db, username="planner")
    assert write(db, settings, OPEN_2025, who=reporter).ok
    assert act(db, reporter, JINJIANG, "submit") is ApprovalState.submitted
    with pytest.raises(ConflictError, match="submit needs it to be draft"):
        act(db, reporter, JINJIANG, "submit")
    with pytest.raises(LockedError) as caught:
        write(db, settings, OPEN_2025, who=reporter, value=8)
    assert caught.value.code == "SUBMITTED"
    with pytest.raises(OutOfScopeError):
        act(db, reporter, JINJIANG, "approve")  # a reporter does not approve its own data
    with pytest.raises(OutOfScopeError):
        act(db, reporter, QINGYANG, "submit")
    assert act(db, reporter, JINJIANG, "withdraw") is ApprovalState.draft
    assert write(db, settings, OPEN_2025, who=reporter, value=8).ok
    act(db, reporter, JINJIANG, "submit")
    assert act(db, planner, JINJIANG, "approve") is ApprovalState.approved
    with pytest.raises(ConflictError):
        act(db, reporter, JINJIANG, "withdraw")  # approved: only un-approving reopens it
    assert write(db, settings, OPEN_2025, division=QINGYANG).ok  # the sibling is still open


def test_city_approves_last_and_districts_stay_locked_until_it_unapproves(db: Session) -> None:
    planner = principal(db, username="planner")
    with pytest.raises(ConflictError, match="waiting for"):
        act(db, planner, CITY, "approve")
    act(db, planner, JINJIANG, "submit")
    act(db, planner, JINJIANG, "approve")
    with pytest.raises(ConflictError, match="waiting for"):
        act(db, planner, CITY, "approve")
    approve_everything_below_the_city(db, planner)
    assert act(db, planner, CITY, "approve") is ApprovalState.approved
    with pytest.raises(ConflictError, match="must un-approve first"):
        act(db, planner, JINJIANG, "unapprove")
    with pytest.raises(ConflictError, match="must un-approve first"):
        act(db, planner, "CDMZJ", "unapprove", kind=ApprovalUnitKind.department)
    district_planner = principal(db, capture=[JINJIANG])
    with pytest.raises(OutOfScopeError):
        act(db, district_planner, CITY, "unapprove")
    assert act(db, planner, CITY, "unapprove") is ApprovalState.draft
    assert act(db, planner, JINJIANG, "unapprove") is ApprovalState.draft


def test_approved_data_refuses_writes_via_write_values_and_file_import(
    db: Session, settings: Settings
) -> None:
    planner = principal(db)
    assert write(db, settings, OPEN_2025).ok
    act(db, planner, JINJIANG, "submit")
    act(db, planner, JINJIANG, "approve")
    with pytest.raises(CellsLockedError) as caught:
        write(db, settings, OPEN_2025, value=9)
    assert caught.value.code == "APPROVED"
    assert "锦江区 (510104) is approved" in caught.value.message
    rows = [(BEDS, QINGYANG, "2025", 3, "", "", ""), (BEDS, JINJIANG, "2025", 9, "", "", "")]
    report = import_file(
        db,
        csv_bytes(rows),
        "after.csv",
        principal=planner,
        channel=Channel.file,
        settings=settings,
        now=OPEN_2025,
    )
    assert not report.ok
    [problem] = report.to_json()["errors"]
    assert (problem["row"], problem["column"]) == (3, "期间")
    assert "approved" in problem["message"]
    assert db.scalar(select(func.count()).select_from(DataValue)) == 1  # QINGYANG's row was not written
    unchanged = [(BEDS, JINJIANG, "2025", 7, "", "", "")]  # re-sending the approved value is no write
    again = import_file(
        db,
        csv_bytes(unchanged),
        "same.csv",
        principal=planner,
        channel=Channel.file,
        settings=settings,
        now=OPEN_2025,
    )
    assert again.ok
    assert again.unchanged == 1


def test_a_submitted_department_locks_its_indicators_everywhere(db: Session, settings: Settings) -> None:
    mzj = principal(db, role=Role.department_reporter, capture=[CITY], departments=["CDMZJ"])
    assert write(db, settings, OPEN_2025, who=mzj).ok
    assert act(db, mzj, "CDMZJ", "submit", kind=ApprovalUnitKind.department) is ApprovalState.submitted
    for division in (JINJIANG, QINGYANG):
        with pytest.raises(LockedError, match="department CDMZJ has submitted"):
            write(db, settings, OPEN_2025, who=mzj, division=division, value=11)
    with pytest.raises(OutOfScopeError):
        act(db, mzj, JINJIANG, "submit")  # a department reporter does not submit a district


def test_value_status_follows_approval_and_the_public_sees_approved_values_only(
    db: Session, settings: Settings
) -> None:
    planner = principal(db)
    assert write(db, settings, OPEN_2025).ok
    target = db.scalar(select(Target).join(Target.indicator).where(Indicator.code == BEDS))
    assert target is not None

    def state() -> tuple[ValueStatus, float | None]:
        db.expire_all()
        status = db.scalar(select(DataValue.status).join(Division).where(Division.code == JINJIANG))
        _, _, units = breakdown(db, target, 2025, audience=PUBLIC)
        assert status is not None
        return status, next(u.value for u in units if u.code == JINJIANG)

    assert state() == (ValueStatus.draft, None)
    act(db, planner, JINJIANG, "submit")
    assert state() == (ValueStatus.submitted, None)
    act(db, planner, JINJIANG, "approve")
    assert state() == (ValueStatus.approved, 7.0)
    act(db, planner, JINJIANG, "unapprove")
    assert state() == (ValueStatus.draft, None)


# —— the API answers 409 APPROVED ——————————————————————————————————————————————————————


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    url = collection_database(backend, tmp_path_factory, "locks_api")
    yield from ((s, url) for s in run_live_server(settings_for(url), clock=Clock(OPEN_2025)))


@contextmanager
def signed_in(server: LiveServer, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        response = http.post("/api/session", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield http


def test_api_refuses_writes_into_approved_data_with_409(server: tuple[LiveServer, str]) -> None:
    live, url = server
    reporter = make_user(url, "jinjiang_locks", [Role.district_reporter], capture=[JINJIANG])
    planner = make_user(url, "planner_locks", [Role.planner], capture=[CITY])
    path = f"/api/data-values/{BEDS}/{JINJIANG}/2025"
    with (
        signed_in(live, "jinjiang_locks", reporter) as rep,
        signed_in(live, "planner_locks", planner) as plan,
    ):
        assert rep.put(path, json={"value": 5}).status_code == 200
        submitted = rep.post(f"/api/approvals/division/{JINJIANG}/2025/submit")
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["state"] == "submitted"
        refused = rep.put(path, json={"value": 6})
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "SUBMITTED"
        assert rep.post(f"/api/approvals/division/{JINJIANG}/2025/approve").status_code == 404
        approved = plan.post(f"/api/approvals/division/{JINJIANG}/2025/approve")
        assert approved.json()["state"] == "approved"
        for client in (rep, plan):
            refused = client.put(path, json={"value": 6})
            assert refused.status_code == 409, refused.text
            error: dict[str, Any] = refused.json()["error"]
            assert error["code"] == "APPROVED"
            assert "un-approves" in error["message"]
        assert rep.delete(path).status_code == 409
        batch = plan.post(
            "/api/data-values",
            json={
                "values": [
                    {"indicator": BEDS, "division": QINGYANG, "period": "2025", "value": 1},
                    {"indicator": BEDS, "division": JINJIANG, "period": "2025", "value": 2},
                ]
            },
        )
        assert batch.status_code == 409
        assert batch.json()["error"]["code"] == "APPROVED"
        assert plan.get(f"/api/data-values/{BEDS}/{QINGYANG}/2025").status_code == 404  # all or none
        assert rep.get(path).json()["status"] == "approved"
        assert plan.post(f"/api/approvals/division/{JINJIANG}/2025/unapprove").json()["state"] == "draft"
        assert rep.put(path, json={"value": 6}).json()["value"] == 6


def test_an_approved_district_locks_the_values_of_its_streets(db: Session, settings: Settings) -> None:
    def street_item(code: str) -> dict[str, object]:
        return {
            "indicator": "child_5min_activity_coverage",
            "division": code,
            "period": "2025",
            "numerator": 3,
            "denominator": 4,
        }

    planner = principal(db)
    report = write_items(
        db, [street_item(STREET)], principal=planner, channel=Channel.api, settings=settings, now=OPEN_2025
    )
    assert report.ok, report.to_json()
    act(db, planner, JINJIANG, "submit")
    act(db, planner, JINJIANG, "approve")
    assert (
        db.scalar(select(DataValue.status).join(Division).where(Division.code == STREET))
        is ValueStatus.approved
    )
    with pytest.raises(LockedError, match="锦江区"):
        write_items(
            db,
            [{**street_item(STREET), "numerator": 2}],
            principal=planner,
            channel=Channel.api,
            settings=settings,
            now=OPEN_2025,
        )
    other = write_items(
        db,
        [street_item(QINGYANG_STREET)],
        principal=planner,
        channel=Channel.api,
        settings=settings,
        now=OPEN_2025,
    )
    assert other.ok


def test_api_lock_exception_reopens_a_closed_cell_and_the_write_is_forced(
    server: tuple[LiveServer, str],
) -> None:
    live, url = server
    reporter = make_user(url, "qingyang_locks", [Role.district_reporter], capture=[QINGYANG])
    planner = make_user(url, "planner_locks2", [Role.planner], capture=[CITY])
    path = f"/api/data-values/{BEDS}/{QINGYANG}/2024"
    with (
        signed_in(live, "qingyang_locks", reporter) as rep,
        signed_in(live, "planner_locks2", planner) as plan,
    ):
        closed = rep.put(path, json={"value": 5})
        assert closed.status_code == 409
        assert closed.json()["error"]["code"] == "PERIOD_EXPIRED"
        body = {"indicator": BEDS, "division": QINGYANG, "period": "2024", "reason": "迟报"}
        assert rep.post("/api/lock-exceptions", json=body).status_code == 403
        granted = plan.post("/api/lock-exceptions", json=body)
        assert granted.status_code == 201, granted.text
        assert rep.put(path, json={"value": 5}).status_code == 200
        [entry] = rep.get(f"{path}/history").json()
        assert entry["forced"] is True
        assert plan.delete(f"/api/lock-exceptions/{granted.json()['id']}").status_code == 204
        assert rep.put(path, json={"value": 6}).status_code == 409
