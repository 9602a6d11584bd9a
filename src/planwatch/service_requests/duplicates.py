"""Duplicate suggestions (疑似重复件): earlier or later requests of the same type near the same place
within the type's time window, nearest first, for a person to link or dismiss.

A candidate has the same request type, lies within the type's ``duplicate_radius_m`` (great-circle
distance) and was received within ``duplicate_window_days`` of the request (either side: a request
looked at later also shows the reports that followed it). Requests closed as a duplicate
themselves are left out (their original is the candidate), and so is the request itself. A
request without coordinates has no candidates.

The query is one index range scan: the type and time window use the ``(service_type_id,
requested_at)`` index, a bounding box on lat/lon cuts the rows to the neighbourhood in SQL, and
the exact distances are computed in numpy. On 50,000 requests (SQLite) one call takes about a
millisecond; see ``docs/requests.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from planwatch.clock import as_utc
from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import ServiceRequest, ServiceType
from planwatch.models.enums import RequestState

__all__ = [
    "EARTH_RADIUS_M",
    "DuplicateCandidate",
    "DuplicateQuery",
    "bounding_box",
    "duplicate_candidates",
    "haversine_m",
]

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius (IUGG)."""
MAX_LIMIT: Final = 100


@dataclass(frozen=True)
class DuplicateQuery:
    """Where and when a (possibly not yet stored) request is: what its duplicates are sought for."""

    service_type_id: int
    lat: float
    lon: float
    at: datetime
    exclude_id: int | None = None
    """A stored request's own id (never its own duplicate)."""


@dataclass(frozen=True)
class DuplicateCandidate:
    """A request that may report the same problem."""

    request_id: int
    service_type_id: int
    distance_m: float
    age: timedelta
    """How long before the queried request it was received (negative: after it)."""
    requested_at: datetime
    state: RequestState
    close_reason: str | None
    simulated: bool


def haversine_m(lat: float, lon: float, lats: npt.ArrayLike, lons: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Great-circle distances in metres from one point to many (degrees WGS 84)."""
    phi1 = math.radians(lat)
    phi2 = np.radians(np.asarray(lats, dtype=np.float64))
    dphi = phi2 - phi1
    dlambda = np.radians(np.asarray(lons, dtype=np.float64) - lon)
    a = np.sin(dphi / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlambda / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """``(min_lat, max_lat, min_lon, max_lon)`` containing every point within ``radius_m``.

    Slightly generous (the exact distance decides); near the poles the box spans all longitudes.
    """
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.001
    cos_lat = math.cos(math.radians(min(abs(lat) + dlat, 90.0)))
    dlon = 180.0 if cos_lat < 1e-9 else min(dlat / cos_lat, 180.0)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def _query_for(target: ServiceRequest | DuplicateQuery) -> DuplicateQuery | None:
    if isinstance(target, DuplicateQuery):
        return target
    if target.lat is None or target.lon is None:
        return None
    return DuplicateQuery(target.service_type_id, target.lat, target.lon, target.requested_at, target.id)


def _check(query: DuplicateQuery) -> None:
    if not (-90.0 <= query.lat <= 90.0 and -180.0 <= query.lon <= 180.0):
        raise InvalidValueError(
            f"lat/long ({query.lat}, {query.lon}) is not a WGS 84 position; give degrees / 坐标不是经纬度"
        )


def duplicate_candidates(
    session: Session, target: ServiceRequest | DuplicateQuery, *, limit: int = 5
) -> list[DuplicateCandidate]:
    """Possible duplicates of a request, nearest first (then the closest in time).

    Parameters
    ----------
    target : a stored request, or where, when and of which type a new one is
    limit : at most this many candidates (1–100)

    Raises
    ------
    NotFoundError
        The request type does not exist.
    InvalidValueError
        ``limit`` out of range, or a position that is not in degrees.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValueError(f"limit must lie between 1 and {MAX_LIMIT}, got {limit}")
    query = _query_for(target)
    if query is None:
        return []
    _check(query)
    service_type = session.get(ServiceType, query.service_type_id)
    if service_type is None:
        raise NotFoundError(f"request type id {query.service_type_id} does not exist / 诉求类型不存在")
    at = as_utc(query.at).astimezone(UTC)
    window = timedelta(days=service_type.duplicate_window_days)
    radius = float(service_type.duplicate_radius_m)
    min_lat, max_lat, min_lon, max_lon = bounding_box(query.lat, query.lon, radius)
    r = ServiceRequest
    statement = select(r.id, r.lat, r.lon, r.requested_at, r.state, r.close_reason, r.simulated).where(
        r.service_type_id == query.service_type_id,
        r.requested_at >= at - window,
        r.requested_at <= at + window,
        r.lat >= min_lat,
        r.lat <= max_lat,
        r.lon >= min_lon,
        r.lon <= max_lon,
        or_(r.close_reason.is_(None), r.close_reason != "duplicate"),
    )
    if query.exclude_id is not None:
        statement = statement.where(r.id != query.exclude_id)
    rows = session.execute(statement).all()
    return _nearest(rows, query, at=at, radius_m=radius, limit=limit)


def _nearest(
    rows: Sequence[Any],
    query: DuplicateQuery,
    *,
    at: datetime,
    radius_m: float,
    limit: int,
) -> list[DuplicateCandidate]:
    if not rows:
        return []
    distances = haversine_m(query.lat, query.lon, [row[1] for row in rows], [row[2] for row in rows])
    ages = [at - as_utc(row[3]) for row in rows]
    inside = np.flatnonzero(distances <= radius_m)
    order = sorted(inside.tolist(), key=lambda i: (float(distances[i]), abs(ages[i]), rows[i][0]))
    return [
        DuplicateCandidate(
            request_id=int(rows[i][0]),
            service_type_id=query.service_type_id,
            distance_m=round(float(distances[i]), 1),
            age=ages[i],
            requested_at=as_utc(rows[i][3]),
            state=rows[i][4],
            close_reason=rows[i][5],
            simulated=bool(rows[i][6]),
        )
        for i in order[:limit]
    ]
