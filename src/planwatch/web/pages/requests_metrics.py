"""The request metrics dashboard (诉求考核指标): the city's rates of a month with their N, its last
twelve months as a chart, a district map of one rate, and a table per level where units with too
few cases are shown without a rank. The JSON twin is GET /api/requests/metrics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.maps import NO_DATA, PALETTE, classes, project
from planwatch.models import Division
from planwatch.models.enums import DivisionLevel
from planwatch.service_requests.metrics import (
    RATE_CODES,
    MetricsOut,
    UnitLevel,
    UnitMetricsOut,
    dashboard_view,
    month_text,
    parse_month,
    requested_window,
)
from planwatch.service_requests.service import requests_version
from planwatch.web.deps import LanguageDep, NowDep, SessionDep, SettingsDep, cached
from planwatch.web.i18n import translator
from planwatch.web.pages.routes import render, script_json

router = APIRouter(include_in_schema=False)

TABLE_LEVELS: tuple[UnitLevel, ...] = ("district", "street", "department")
CHART_RATES = ("response", "on_time", "resolution", "satisfaction", "overdue")
MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
MapRate = Literal["response", "on_time", "overdue", "resolution", "satisfaction", "return", "reopen"]


def percent(value: float | None) -> str:
    """A 0–1 rate as a percentage for display (— without cases)."""
    return "—" if value is None else f"{100 * value:.1f}%"


def chart_data(series: MetricsOut, lang: str) -> dict[str, Any]:
    """The city's monthly rates (in %) for the plotly chart, with each month's N."""
    t = translator(lang)
    by_period = {u.period: u for u in series.units}
    months = [month_text(m) for m in range(parse_month(series.start), parse_month(series.end) + 1)]
    names = {r.code: (r.name_en if lang == "en" else r.name_zh) for r in series.rates}
    return {
        "months": months,
        "series": {
            code: [
                None
                if (u := by_period.get(m)) is None or u.rates[code].rate is None
                else round(100 * (u.rates[code].rate or 0.0), 2)
                for m in months
            ]
            for code in CHART_RATES
        },
        "n": {
            code: [(by_period[m].rates[code].denominator if m in by_period else 0) for m in months]
            for code in CHART_RATES
        },
        "names": {code: names[code] for code in CHART_RATES},
        "simulated": series.simulated,
        "labels": {"title": t("rm_chart_title"), "axis": t("rm_chart_axis"), "simulated": t("simulated")},
    }


def district_map(session: Session, view: MetricsOut, code: str) -> dict[str, Any] | None:
    """An SVG choropleth of one rate over every district with a boundary; districts without
    requests or with fewer than N_min cases in the rate are left uncoloured (no rank, no colour)."""
    rows = session.execute(
        select(Division.id, Division.code, Division.name_zh, Division.name_en, Division.geometry).where(
            Division.level == DivisionLevel.district,
            Division.valid_to.is_(None),
            Division.geometry.is_not(None),
        )
    ).all()
    if not rows:
        return None
    frame = project(tuple(sorted((r.code, r.geometry) for r in rows)))
    paths = {s.code: s for s in frame.shapes}
    by_unit = {u.unit_id: u for u in view.units}

    def shown(division_id: int) -> float | None:
        unit = by_unit.get(division_id)
        if (
            unit is None
            or unit.rates[code].denominator < view.min_n
            or (rate := unit.rates[code].rate) is None
        ):
            return None
        return 100 * rate

    values = [shown(r.id) for r in rows]
    colours, breaks = classes(values)
    used = set(colours)
    legend = [
        (colour, breaks[i], breaks[i + 1])
        for i, colour in enumerate(PALETTE)
        if breaks and colour in used and (breaks[-1] > breaks[0] or i == len(PALETTE) - 1)
    ]
    shapes = [
        {
            "code": r.code,
            "name_zh": r.name_zh,
            "name_en": r.name_en,
            "path": paths[r.code].path,
            "x": paths[r.code].label_x,
            "y": paths[r.code].label_y,
            "colour": colour,
            "value": value,
            "n": by_unit[r.id].rates[code].denominator if r.id in by_unit else 0,
        }
        for r, colour, value in zip(rows, colours, values, strict=True)
        if r.code in paths
    ]
    if not shapes:
        return None
    return {
        "width": frame.width,
        "height": frame.height,
        "shapes": shapes,
        "legend": legend,
        "no_data": NO_DATA,
    }


def low_n(unit: UnitMetricsOut, min_n: int) -> bool:
    """Every rate of the unit rests on fewer than ``min_n`` cases (the row is greyed)."""
    return all(rate.denominator < min_n for rate in unit.rates.values())


@router.get("/requests/metrics", response_class=HTMLResponse)
def requests_metrics_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    month: MonthQuery = None,
    map_rate: Annotated[MapRate, Query(alias="map")] = "satisfaction",
) -> Response:
    first, _ = requested_window(session, now=now, month=month)
    minute = now.replace(second=0, microsecond=0)
    board = cached(
        request,
        ("dashboard", first, settings.request_min_n, minute, requests_version(session)),
        lambda: dashboard_view(
            session, month=first, now=now, min_n=settings.request_min_n, levels=TABLE_LEVELS
        ),
    )
    city = board.city
    return render(
        request,
        "requests_metrics.html",
        lang,
        month=board.month,
        city=city.units[0] if city.units else None,
        definitions=city.rates,
        rate_codes=RATE_CODES,
        tables=board.levels,
        levels=TABLE_LEVELS,
        min_n=settings.request_min_n,
        count_basically=city.count_basically,
        excluded=city.excluded_close_reasons,
        as_of=city.as_of,
        simulated=board.simulated,
        map=district_map(session, board.levels["district"], map_rate),
        map_rate=map_rate,
        chart_json=script_json(chart_data(board.series, lang)),
        percent=percent,
        low_n=low_n,
    )
