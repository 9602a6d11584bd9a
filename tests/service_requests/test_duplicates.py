"""Duplicate suggestions: same type, within the type's radius and time window, nearest first."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import Division, ServiceRequest, ServiceType
from planwatch.models.enums import RequestChannel, RequestKind, RequestState
from planwatch.service_requests.duplicates import (
    DuplicateQuery,
    bounding_box,
    duplicate_candidates,
    haversine_m,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HERE = (30.6471, 104.0821)  # 水井坊社区, 锦江区
_tokens = itertools.count()


def _north(metres: float) -> tuple[float, float]:
    """A point ``metres`` due north of HERE."""
    return HERE[0] + math.degrees(metres / 6_371_008.8), HERE[1]


def _type(db: Session, code: str) -> ServiceType:
    service_type = db.scalar(select(ServiceType).where(ServiceType.code == code))
    assert service_type is not None
    return service_type


def _add(
    db: Session,
    code: str,
    point: tuple[float, float] | None,
    at: datetime,
    *,
    close_reason: str | None = None,
) -> ServiceRequest:
    community = db.execute(select(Division.id).where(Division.code == "510104017001")).scalar_one()
    request = ServiceRequest(
        token=f"dup-{next(_tokens)}", service_type_id=_type(db, code).id, kind=RequestKind.complaint,
        state=RequestState.closed if close_reason else RequestState.dispatched, channel=RequestChannel.web,
        description="井盖缺失", attributes={}, division_id=community,
        lat=point[0] if point else None, lon=point[1] if point else None,
        requested_at=at, updated_at=at, response_due_at=at, expected_at=at, close_reason=close_reason,
    )  # fmt: skip
    db.add(request)
    db.flush()
    return request


def test_haversine_matches_a_known_distance() -> None:
    """One degree of latitude is about 111.2 km; the point itself is 0 m away."""
    distances = haversine_m(30.0, 104.0, [31.0, 30.0], [104.0, 104.0])
    assert distances[0] == pytest.approx(111_195, rel=1e-3)
    assert distances[1] == 0.0


@given(
    lat=st.floats(-89.0, 89.0),
    lon=st.floats(-179.0, 179.0),
    radius=st.floats(1.0, 10_000.0),
    bearing=st.floats(0.0, 2 * math.pi),
    share=st.floats(0.0, 0.999),
)
def test_the_bounding_box_holds_every_point_within_the_radius(
    lat: float, lon: float, radius: float, bearing: float, share: float
) -> None:
    """A point closer than the radius (any direction) lies inside the SQL prefilter's box."""
    d = radius * share / 6_371_008.8
    phi1, lambda1 = math.radians(lat), math.radians(lon)
    phi2 = math.asin(math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(bearing))
    lambda2 = lambda1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(phi1), math.cos(d) - math.sin(phi1) * math.sin(phi2)
    )
    lat2, lon2 = math.degrees(phi2), math.degrees(lambda2)
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
    assert haversine_m(lat, lon, [lat2], [lon2])[0] <= radius + 1e-6
    assert min_lat <= lat2 <= max_lat
    assert min_lon <= lon2 <= max_lon


def test_nearby_requests_of_the_same_type_are_suggested_nearest_first(rdb: Session) -> None:
    """Within road_facility's 100 m and 14 days: nearest first, with distance and age."""
    far = _add(rdb, "road_facility", _north(80), NOW - timedelta(days=2))
    near = _add(rdb, "road_facility", _north(20), NOW - timedelta(days=5))
    _add(rdb, "road_facility", _north(150), NOW - timedelta(days=1))  # outside the radius
    _add(rdb, "road_facility", _north(10), NOW - timedelta(days=20))  # outside the window
    _add(rdb, "sanitation", _north(5), NOW - timedelta(days=1))  # another type
    _add(rdb, "road_facility", _north(5), NOW - timedelta(days=1), close_reason="duplicate")
    _add(rdb, "road_facility", None, NOW - timedelta(days=1))  # no position
    query = DuplicateQuery(_type(rdb, "road_facility").id, *HERE, at=NOW)
    found = duplicate_candidates(rdb, query)
    assert [c.request_id for c in found] == [near.id, far.id]
    assert found[0].distance_m == pytest.approx(20, abs=0.5)
    assert found[0].age == timedelta(days=5)
    assert found[0].state is RequestState.dispatched


def test_a_stored_request_is_not_its_own_duplicate_and_sees_later_reports(rdb: Session) -> None:
    """The request itself is left out; a later report within the window shows with a negative age."""
    request = _add(rdb, "road_facility", HERE, NOW - timedelta(days=3))
    later = _add(rdb, "road_facility", _north(30), NOW)
    found = duplicate_candidates(rdb, request)
    assert [c.request_id for c in found] == [later.id]
    assert found[0].age == timedelta(days=-3)


def test_a_resolved_request_stays_a_candidate(rdb: Session) -> None:
    """A report closed as resolved a day ago may be the same problem coming back."""
    resolved = _add(rdb, "road_facility", _north(10), NOW - timedelta(days=1), close_reason="resolved")
    found = duplicate_candidates(rdb, DuplicateQuery(resolved.service_type_id, *HERE, at=NOW))
    assert [(c.request_id, c.close_reason) for c in found] == [(resolved.id, "resolved")]


def test_the_limit_caps_the_candidates(rdb: Session) -> None:
    """At most ``limit`` candidates, the nearest ones."""
    for metres in (50, 40, 30, 20, 10):
        _add(rdb, "road_facility", _north(metres), NOW - timedelta(hours=metres))
    found = duplicate_candidates(rdb, DuplicateQuery(_type(rdb, "road_facility").id, *HERE, at=NOW), limit=2)
    assert [round(c.distance_m) for c in found] == [10, 20]


def test_a_request_without_a_position_has_no_candidates(rdb: Session) -> None:
    """No coordinates, no neighbours."""
    _add(rdb, "road_facility", HERE, NOW)
    assert duplicate_candidates(rdb, _add(rdb, "road_facility", None, NOW)) == []


def test_bad_arguments_are_refused(rdb: Session) -> None:
    """Unknown type: 404; a limit out of range or a position not in degrees: 422."""
    with pytest.raises(NotFoundError, match="request type"):
        duplicate_candidates(rdb, DuplicateQuery(999_999, *HERE, at=NOW))
    road = _type(rdb, "road_facility").id
    with pytest.raises(InvalidValueError, match="limit"):
        duplicate_candidates(rdb, DuplicateQuery(road, *HERE, at=NOW), limit=0)
    with pytest.raises(InvalidValueError, match="WGS 84"):
        duplicate_candidates(rdb, DuplicateQuery(road, 3_000_000.0, 500_000.0, at=NOW))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["road_facility", "sanitation"]),
            st.floats(0.0, 300.0),
            st.integers(-20 * 24, 20 * 24),
        ),
        min_size=1,
        max_size=12,
    ),
    pick=st.integers(0, 11),
)
def test_candidates_are_never_the_request_itself_nor_another_type(
    rdb: Session, rows: list[tuple[str, float, int]], pick: int
) -> None:
    """Whatever the neighbourhood: same type, within radius and window, sorted by distance."""
    nested = rdb.begin_nested()
    try:
        stored = [
            _add(rdb, code, _north(metres), NOW + timedelta(hours=hours)) for code, metres, hours in rows
        ]
        target = stored[pick % len(stored)]
        service_type = rdb.get(ServiceType, target.service_type_id)
        assert service_type is not None
        found = duplicate_candidates(rdb, target, limit=100)
        ids = {c.request_id for c in found}
        assert target.id not in ids
        assert all(c.service_type_id == target.service_type_id for c in found)
        assert all(c.distance_m <= service_type.duplicate_radius_m + 0.1 for c in found)
        assert all(abs(c.age) <= timedelta(days=service_type.duplicate_window_days) for c in found)
        assert [c.distance_m for c in found] == sorted(c.distance_m for c in found)
        expected = {
            r.id
            for r in stored
            if r is not target
            and r.service_type_id == target.service_type_id
            and haversine_m(target.lat, target.lon, [r.lat], [r.lon])[0] <= service_type.duplicate_radius_m
            and abs(r.requested_at - target.requested_at)
            <= timedelta(days=service_type.duplicate_window_days)
        }
        assert ids == expected
    finally:
        nested.rollback()
