"""Life-circle coverage pages (生活圈覆盖) and siting pages (选址). The maps fetch their points from
the JSON twins under /api/coverage, so a page stays small however many residents the run has."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from planwatch.coverage.views import (
    DivisionResultOut,
    circle_in,
    circle_part,
    circle_parts,
    division_view,
    facility_type_names,
    run_view,
    runs_view,
    siting_runs_view,
    siting_view,
)
from planwatch.errors import NotFoundError
from planwatch.models.enums import DivisionLevel
from planwatch.web.deps import Id, LanguageDep, SessionDep
from planwatch.web.i18n import translator
from planwatch.web.pages.routes import render, script_json

router = APIRouter(include_in_schema=False)

LEVELS = ("district", "street", "community")
"""The levels a circle page tabulates (the city is the page's headline)."""

RunQuery = Annotated[int | None, Query(ge=1, le=2**53)]


def facility_label(lang: str) -> Callable[[str], str]:
    """A facility type's name in the page's language (the code for types outside the built-ins)."""
    names = facility_type_names()

    def label(code: str) -> str:
        if not code:
            return translator(lang)("cov_whole_circle")
        zh, en = names.get(code, (code, code))
        return en if lang == "en" else zh

    return label


def worst_first(rows: list[DivisionResultOut]) -> list[DivisionResultOut]:
    """Lowest share first (divisions without residents last), so the gaps head the table."""
    return sorted(rows, key=lambda r: (r.share is None, r.share if r.share is not None else 0.0, r.code))


def map_labels(lang: str) -> dict[str, str]:
    t = translator(lang)
    keys = (
        "cov_map_covered",
        "cov_map_gap",
        "cov_map_far",
        "cov_map_facilities",
        "cov_map_sites",
        "cov_map_uncovered",
        "cov_map_population",
        "cov_map_unreachable",
        "cov_map_failed",
        "cov_map_lon",
        "cov_map_lat",
        "cov_map_cost",
        "cov_map_iso_of",
        "cov_map_iso_band",
        "cov_map_iso_failed",
        "simulated",
    )
    return {key.removeprefix("cov_map_"): t(key) for key in keys}


@router.get("/coverage", response_class=HTMLResponse)
def coverage_page(request: Request, session: SessionDep, lang: LanguageDep, run: RunQuery = None) -> Response:
    runs = runs_view(session)
    if not runs:
        return render(request, "coverage.html", lang, runs=[], view=None, sitings=[])
    view = run_view(session, run if run is not None else runs[0].id)
    return render(
        request,
        "coverage.html",
        lang,
        runs=runs,
        view=view,
        sitings=siting_runs_view(session, coverage_run=view.id),
    )


@router.get("/coverage/circles/{code}", response_class=HTMLResponse)
def coverage_circle_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    code: str,
    run: RunQuery = None,
    part: Annotated[str, Query(max_length=64)] = "",
    level: Annotated[Literal["district", "street", "community"], Query()] = "district",
) -> Response:
    view = run_view(session, run)
    circle = circle_in(view, code)
    circle_part(circle, part)
    rows = division_view(session, view.id, code, part=part, level=DivisionLevel(level))
    config = {
        "url": f"/api/coverage/runs/{view.id}/circles/{quote(code)}/map?part={quote(part)}",
        "mode": "circle",
        # a facility's isochrones: this + its id (URL-encoded) + "/isochrones"
        "isochrones": f"/api/coverage/runs/{view.id}/circles/{quote(code)}/facilities/",
        "labels": map_labels(lang),
    }
    return render(
        request,
        "coverage_circle.html",
        lang,
        view=view,
        circle=circle,
        parts=circle_parts(circle),
        part=part,
        level=level,
        levels=LEVELS,
        rows=worst_first(rows),
        ftype=facility_label(lang),
        map_json=script_json(config),
    )


@router.get("/coverage/siting", response_class=HTMLResponse)
def siting_list_page(request: Request, session: SessionDep, lang: LanguageDep) -> Response:
    return render(
        request, "siting_list.html", lang, sitings=siting_runs_view(session), ftype=facility_label(lang)
    )


@router.get("/coverage/siting/{siting_id}", response_class=HTMLResponse)
def siting_page(request: Request, session: SessionDep, lang: LanguageDep, siting_id: Id) -> Response:
    view = siting_view(session, siting_id)
    circle: Any = None
    if view.coverage_run is not None:
        try:
            circle = circle_in(run_view(session, view.coverage_run), view.circle)
        except NotFoundError:
            circle = None  # the run was replaced; the siting result itself still stands
    config = {
        "url": f"/api/coverage/siting/{view.id}/map",
        "mode": "siting",
        "sites": [{"order": s["order"], "id": s["id"], "lon": s["lon"], "lat": s["lat"]} for s in view.sites],
        "labels": map_labels(lang),
    }
    return render(
        request,
        "siting.html",
        lang,
        view=view,
        circle=circle,
        ftype=facility_label(lang),
        map_json=script_json(config) if view.coverage_run is not None else None,
    )
