"""``planwatch coverage``: life circles on the street network (生活圈).

``network`` builds a network file from GeoJSON / GeoPackage / Shapefile / OSM PBF / GraphML;
``standards`` lists the circles; ``compute`` measures every resident's travel to the nearest
facility of each type and writes the circles' indicator values; ``runs`` and ``show`` read stored
runs; ``site`` says where new facilities would bring the most residents within reach.

The coverage library (scipy, shapely, pyproj, pyogrio, HiGHS) is imported when a coverage command
runs, not when the module is: every other ``planwatch`` command starts without it (about 0.5 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast, get_args

import typer
from rich.table import Table

from planwatch.cli.accounts import operator
from planwatch.cli.context import JsonOption, console, print_json, progress_bar, reports_errors, unit_of_work
from planwatch.config import Settings
from planwatch.errors import InvalidValueError
from planwatch.models.enums import DivisionLevel

if TYPE_CHECKING:
    from planwatch.coverage.compute import Pass
    from planwatch.coverage.views import RunOut

coverage_app = typer.Typer(
    help=("Life circles on the street network (生活圈): network, standards, compute, runs, show, site."),
    no_args_is_help=True,
)

StandardsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--standards",
        help="A standards YAML file of your own (repeatable); replaces a built-in one with the same code.",
    ),
]


@coverage_app.command("network")
@reports_errors
def network_command(
    source: Annotated[
        Path, typer.Argument(help="Street lines: .geojson, .gpkg, .shp, .osm.pbf or .graphml.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Network file to write (.npz).")],
    layer: Annotated[str | None, typer.Option(help="Layer of a GeoPackage.")] = None,
    snap_tolerance: Annotated[
        float, typer.Option(help="Line ends closer than this (metres) are joined.")
    ] = 1.0,
    crs: Annotated[str | None, typer.Option(help="CRS of a file that has none, e.g. EPSG:4326.")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the network.")] = None,
) -> None:
    """Build a network file: topology by snapping line ends, projected to metres (local UTM)."""
    from planwatch.coverage.service import build_network

    with console.status(f"reading {source.name}"):
        network, report = build_network(
            source, out, layer=layer, snap_tolerance=snap_tolerance, crs=crs, name=name
        )
    for line in report.messages():
        console.print(line)
    console.print(f"wrote {out} ({network.node_count:,} nodes, {network.edge_count:,} edges, {network.crs})")


@coverage_app.command("standards")
@reports_errors
def standards_command(standards: StandardsOption = None, as_json: JsonOption = False) -> None:
    """List every circle of the standards: mode, threshold, group, rule, indicator, clause, verified."""
    from planwatch.coverage.standards import load_standards

    loaded = load_standards(standards or None)
    if as_json:
        print_json(
            json.dumps(
                [c.model_dump(mode="json") for c in loaded.circles.values()], ensure_ascii=False, indent=1
            )
        )
        return
    table = Table(title="生活圈标准 / life-circle standards")
    for column in (
        "circle",
        "standard",
        "mode",
        "threshold",
        "group",
        "rule",
        "facilities",
        "indicator",
        "verified",
    ):
        table.add_column(column)
    for circle in loaded.circles.values():
        table.add_row(
            f"{circle.code}\n{circle.name}",
            f"{loaded.standard_of(circle.code).code} {circle.clause}",
            circle.mode,
            f"{circle.threshold_value:g} {circle.unit}",
            circle.group,
            circle.rule + (" (area)" if circle.measure == "area_per_resident" else ""),
            ", ".join(circle.facility_codes),
            circle.indicator or "",
            circle.verified,
        )
    console.print(table)


@coverage_app.command("compute")
@reports_errors
def compute_command(
    network: Annotated[
        Path, typer.Option("--network", help="Network file from `planwatch coverage network`.")
    ],
    origins: Annotated[Path, typer.Option("--origins", help="Residential points (CSV or point layer).")],
    facilities: Annotated[Path, typer.Option("--facilities", help="Facilities (CSV or point layer).")],
    year: Annotated[int, typer.Option("--year", help="Data year the indicator values are written to.")],
    standards: StandardsOption = None,
    circle: Annotated[
        list[str] | None, typer.Option("--circle", help="Only this circle (repeatable).")
    ] = None,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Write the circles' indicator values.")
    ] = True,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="Dask scheduler address (tcp://host:8786): run the searches there."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Travel to the nearest facility of every type for every resident; coverage per division."""
    from planwatch.coverage.service import CoverageInputs, compute_coverage
    from planwatch.coverage.views import run_out

    settings = Settings()
    inputs = CoverageInputs(network, origins, facilities, standards or (), circle or ())
    client = None
    if cluster:
        from distributed import Client  # only a cluster run needs it (imports take a second)

        try:
            client = Client(cluster, timeout="30s")
        except (OSError, ValueError, TimeoutError) as exc:
            raise InvalidValueError(
                f"--cluster {cluster}: cannot reach the Dask scheduler ({exc}); give its address as tcp://host:8786"
            ) from exc
    try:
        with progress_bar(28) as progress, unit_of_work(settings) as session:
            task = progress.add_task("searches 最近设施搜索", total=None)

            def planned(passes: list[Pass]) -> None:
                progress.update(task, total=len(passes))

            run = compute_coverage(
                session,
                inputs,
                year=year,
                actor=operator().name,
                entry_expiry_days=settings.entry_expiry_days,
                write=write,
                client=client,
                progress=lambda label: progress.advance(task),
                passes=planned,
            )
            view = run_out(run)
    finally:
        if client is not None:
            client.close()
    if as_json:
        print_json(view.model_dump_json(indent=1))
        return
    _print_run(view)


def _print_run(view: RunOut) -> None:
    label = "（模拟数据 / simulated）" if view.simulated else ""
    table = Table(title=f"生活圈覆盖 / coverage run {view.id}, {view.year}{label}")
    for column in ("circle", "mode", "threshold", "group", "covered", "share", "indicator"):
        table.add_column(column)
    for c in view.circles:
        share = "—" if c.share is None else f"{c.share:.1f} %"
        if c.area_per_resident is not None:
            share += f"\n{c.area_per_resident:.2f} m²/人"
        table.add_row(
            f"{c.code}\n{c.name}",
            c.mode,
            f"{c.threshold:g} {c.unit}",
            c.group,
            f"{c.covered:,.0f} / {c.population:,.0f}",
            share,
            c.indicator or "",
        )
    console.print(table)
    for warning in view.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if view.written:
        console.print("indicator values: " + ", ".join(f"{k} {v}" for k, v in view.written.items()))
    console.print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in view.seconds.items()))


@coverage_app.command("runs")
@reports_errors
def runs_command(as_json: JsonOption = False) -> None:
    """List the stored coverage runs, newest first."""
    from planwatch.coverage.service import list_runs
    from planwatch.coverage.views import run_out

    with unit_of_work(Settings()) as session:
        views = [run_out(r) for r in list_runs(session)]
    if as_json:
        print_json(json.dumps([v.model_dump(mode="json") for v in views], ensure_ascii=False, indent=1))
        return
    table = Table(title="coverage runs")
    for column in ("run", "computed", "by", "year", "network", "circles", "simulated"):
        table.add_column(column)
    for v in views:
        table.add_row(
            str(v.id),
            f"{v.computed_at:%Y-%m-%d %H:%M}",
            v.computed_by,
            str(v.year),
            v.network,
            str(len(v.circles)),
            "模拟" if v.simulated else "",
        )
    console.print(table)


@coverage_app.command("show")
@reports_errors
def show_command(
    run: Annotated[int | None, typer.Argument(help="Run id (default: the latest).")] = None,
    circle: Annotated[str | None, typer.Option("--circle", help="Show this circle per division.")] = None,
    level: Annotated[
        DivisionLevel, typer.Option("--level", help="Division level of the table.")
    ] = DivisionLevel.district,
    as_json: JsonOption = False,
) -> None:
    """A stored run; with ``--circle``, that circle per division."""
    from planwatch.coverage.views import division_view, run_view

    with unit_of_work(Settings()) as session:
        if circle is None:
            view = run_view(session, run)
            if as_json:
                print_json(view.model_dump_json(indent=1))
            else:
                _print_run(view)
            return
        rows = division_view(session, run, circle, level=level)
    if as_json:
        print_json(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False, indent=1))
        return
    label = "（模拟数据 / simulated）" if any(r.simulated for r in rows) else ""
    table = Table(title=f"{circle} by {level.value}{label}")
    for column in ("code", "name", "population", "covered", "share", "m²/resident"):
        table.add_column(column)
    for r in sorted(rows, key=lambda r: r.share if r.share is not None else -1):
        table.add_row(
            r.code,
            r.name,
            f"{r.population:,.0f}",
            f"{r.covered:,.0f}",
            "—" if r.share is None else f"{r.share:.1f} %",
            "" if r.area_per_resident is None else f"{r.area_per_resident:.2f}",
        )
    console.print(table)


@coverage_app.command("site")
@reports_errors
def site_command(
    circle: Annotated[str, typer.Option("--circle", help="The circle whose threshold and group count.")],
    candidates: Annotated[Path, typer.Option("--candidates", help="Candidate sites (CSV: id,type,lon,lat).")],
    facility_type: Annotated[
        str | None, typer.Option("--type", help="Facility type (default: the circle's first).")
    ] = None,
    p: Annotated[
        int | None, typer.Option("--p", help="Choose this many new sites (maximal covering).")
    ] = None,
    cover_all: Annotated[
        bool,
        typer.Option("--cover-all", help="The fewest sites that cover everyone reachable (set covering)."),
    ] = False,
    method: Annotated[str, typer.Option(help="auto, greedy or exact.")] = "auto",
    time_limit: Annotated[float, typer.Option(help="Seconds the exact solver may take.")] = 60.0,
    run: Annotated[
        int | None, typer.Option("--run", help="Coverage run whose inputs are used (default: latest).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Where to build next: p sites covering the most residents, or the fewest covering everyone."""
    from planwatch.coverage.service import site_facilities
    from planwatch.coverage.siting import Method
    from planwatch.coverage.views import siting_out

    if method not in get_args(Method):
        raise InvalidValueError(f"--method {method}: use one of {', '.join(get_args(Method))}")
    if (p is None) == (not cover_all):
        raise InvalidValueError("give either --p N (maximal covering) or --cover-all (set covering)")
    with unit_of_work(Settings()) as session:
        with console.status("siting 选址计算"):
            siting = site_facilities(
                session,
                circle_code=circle,
                candidates=candidates,
                run_id=run,
                facility_type=facility_type,
                p=p,
                method=cast(Method, method),
                time_limit=time_limit,
                actor=operator().name,
            )
        view = siting_out(siting)
    if as_json:
        print_json(view.model_dump_json(indent=1))
        return
    label = "（模拟数据 / simulated）" if view.simulated else ""
    table = Table(title=f"选址 / siting {view.id}: {view.facility_type} for {view.circle}{label}")
    for column in ("#", "site", "division", "lon, lat", "adds residents", "cumulative share"):
        table.add_column(column)
    for s in view.sites:
        share = "—" if s["cumulative_share"] is None else f"{s['cumulative_share']:.1f} %"
        table.add_row(
            str(s["order"]),
            s["id"],
            s["division_code"],
            f"{s['lon']:.4f}, {s['lat']:.4f}",
            f"{s['population_added']:,.0f}",
            share,
        )
    console.print(table)
    gap = "" if view.optimality_gap is None else f", gap {100 * view.optimality_gap:.2f} %"
    before = "—" if view.share_before is None else f"{view.share_before:.1f} %"
    after = "—" if view.share_after is None else f"{view.share_after:.1f} %"
    console.print(
        f"{view.problem} covering by {view.method} ({view.status}{gap}) in {view.seconds:.2f} s: {before} → {after}"
    )
