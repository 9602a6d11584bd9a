"""Citizens' request metrics (诉求考核指标) and demand hot spots (诉求热点) as JSON; the metrics
are the twin of the /requests/metrics dashboard.

Both are aggregated counts and rates per district, street, community, department or the whole
city, with no personal data in them; like published indicator values they are public
(accountability to the citizens who filed the requests), the rates per department included.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import Division, ServiceType
from planwatch.models.enums import DivisionLevel
from planwatch.service_requests.hotspots import (
    BASELINE_PERIODS,
    MIN_COUNT,
    Z_MIN,
    HotSpotReport,
    Period,
    hotspots,
)
from planwatch.service_requests.metrics import MetricsOut, UnitLevel, metrics_view, requested_window
from planwatch.service_requests.service import requests_version
from planwatch.web.deps import NowDep, SessionDep, SettingsDep, cached

router = APIRouter(prefix="/api/requests", tags=["requests"])

MonthParam = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="A month on Beijing time, `YYYY-MM`",
        examples=["2025-05"],
    ),
]


@router.get(
    "/metrics",
    response_model=MetricsOut,
    summary="Request metrics (诉求考核指标) per unit: rates with their N, ranks among units with enough cases",
)
def api_requests_metrics(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    level: Annotated[
        UnitLevel, Query(description="Units: `department` (承办单位), `district`, `street` or the `city`")
    ] = "district",
    month: MonthParam = None,
    start: MonthParam = None,
    end: MonthParam = None,
    by_month: Annotated[
        bool, Query(description="One row per unit and month of start–end instead of one per unit")
    ] = False,
) -> MetricsOut:
    first, last = requested_window(session, now=now, month=month, start=start, end=end)
    minute = now.replace(second=0, microsecond=0)
    key = ("metrics", level, first, last, by_month, settings.request_min_n, minute, requests_version(session))
    return cached(
        request,
        key,
        lambda: metrics_view(
            session,
            level=level,
            start=first,
            end=last,
            now=now,
            min_n=settings.request_min_n,
            by_month=by_month,
        ),
    )


def _filter_ids(
    session: Session, service_code: str | None, district: str | None
) -> tuple[int | None, int | None]:
    """The ids a hot-spot query's codes name (``NotFoundError`` for an unknown one)."""
    type_id = district_id = None
    if service_code is not None:
        type_id = session.scalar(select(ServiceType.id).where(ServiceType.code == service_code))
        if type_id is None:
            raise NotFoundError(f"service_code {service_code!r} is not a request type / 诉求类型不存在")
    if district is not None:
        district_id = session.scalar(
            select(Division.id).where(
                Division.code == district,
                Division.level == DivisionLevel.district,
                Division.valid_to.is_(None),
            )
        )
        if district_id is None:
            raise NotFoundError(f"district {district!r} is not a district code / 区(市)县代码不存在")
    return type_id, district_id


@router.get(
    "/hotspots",
    response_model=HotSpotReport,
    summary="Demand hot spots (诉求热点): (division, request type) cells far above their trailing baseline",
)
def api_requests_hotspots(
    request: Request,
    session: SessionDep,
    now: NowDep,
    day: Annotated[
        date | None, Query(description="Any day of the period to score (Beijing date); default today")
    ] = None,
    period: Annotated[Period, Query(description="`week` (ISO, from Monday) or `month`")] = "week",
    baseline_periods: Annotated[
        int, Query(ge=1, le=104, description="Periods before it that form the baseline")
    ] = BASELINE_PERIODS,
    min_count: Annotated[
        int, Query(ge=1, le=10_000, description="Fewest requests of a hot cell")
    ] = MIN_COUNT,
    z_min: Annotated[float, Query(ge=0, le=100, description="Lowest Poisson z-score of a hot cell")] = Z_MIN,
    service_code: Annotated[str | None, Query(max_length=64, description="Only this request type")] = None,
    district: Annotated[
        str | None, Query(max_length=32, description="Only requests located in this district (its code)")
    ] = None,
    all_cells: Annotated[
        bool, Query(alias="all", description="Every cell with a request in the period, not just the hot ones")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> HotSpotReport:
    if day is not None and not 1949 <= day.year <= 2100:
        raise InvalidValueError(f"day {day} is out of range; give a day from 1949 to 2100 / 日期超出范围")
    type_id, district_id = _filter_ids(session, service_code, district)
    day = day or (now + timedelta(hours=8)).date()
    key = ("hotspots", day, period, baseline_periods, min_count, z_min, type_id, district_id, all_cells, limit,
           requests_version(session))  # fmt: skip
    return cached(
        request,
        key,
        lambda: hotspots(
            session,
            day=day,
            period=period,
            baseline_periods=baseline_periods,
            min_count=min_count,
            z_min=z_min,
            service_type_id=type_id,
            district_id=district_id,
            only_hot=not all_cells,
            limit=limit,
        ),
    )
