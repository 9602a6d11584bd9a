"""``planwatch``: init, demo, targets, plans, simulate, serve; the other command groups register here."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from planwatch.accounts.bootstrap import ADMINISTRATORS, DEMO_ACCOUNTS, Credential, bootstrap_accounts
from planwatch.audit.security_log import record
from planwatch.cli._render import plan_target_views, print_legend, targets_table
from planwatch.cli.accounts import audit_app, generate_password, operator, tokens_app, users_app
from planwatch.cli.context import (
    JsonOption,
    PlanOption,
    YearOption,
    console,
    engine_for,
    print_json,
    progress_bar,
    reports_errors,
    unit_of_work,
)
from planwatch.cli.coverage import coverage_app
from planwatch.cli.evaluate import evaluate_app
from planwatch.cli.ingest import ingest_app
from planwatch.cli.requests import requests_app
from planwatch.cli.surveys import supply_app, surveys_app
from planwatch.clock import system_clock
from planwatch.config import Settings
from planwatch.crypto import ensure_key_file
from planwatch.datasets import CHENGDU_PLAN_CODE, chengdu_path
from planwatch.datasets.simulate import read_simulation_file, simulate
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import load_divisions
from planwatch.errors import InvalidValueError
from planwatch.evaluation.service import get_plan, latest_data_year
from planwatch.plans.loader import LoadReport
from planwatch.plans.service import fill_target, find_target, load_plan_file
from planwatch.plans.views import list_target_views
from planwatch.service_requests.catalogue import load_service_types

app = typer.Typer(
    help="planwatch: carry out a city's five-year plan (规划纲要实施监测评估).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
plans_app = typer.Typer(help="Plan catalogues: load a plan file.", no_args_is_help=True)
targets_app = typer.Typer(help="List targets, or fill in a number the source lost.")
app.add_typer(plans_app, name="plans")
app.add_typer(targets_app, name="targets")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.add_typer(ingest_app, name="ingest")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(coverage_app, name="coverage")
app.add_typer(requests_app, name="requests")
app.add_typer(surveys_app, name="surveys")
app.add_typer(supply_app, name="supply")


def _print_load_report(report: LoadReport, path: Path) -> None:
    parts = []
    for kind, counts in report.counts.items():
        detail = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
        parts.append(f"{kind}: {detail}")
    verdict = "loaded" if report.changed else "already up to date, nothing changed"
    console.print(f"[bold]{report.plan_code}[/] v{report.plan_version} from {path}: {verdict}")
    for part in parts:
        console.print(f"  {part}")
    for edit in report.kept_edits:
        console.print(f"  [yellow]kept an administrator's edit of {edit}[/]")


def _init(settings: Settings) -> None:
    if settings.data_key is None and ensure_key_file(settings.key_file):
        console.print(
            f"created the data key {settings.key_file} (keep it apart from database backups; 数据密钥)"
        )
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        with progress_bar() as progress, transaction(session_factory(engine)) as session:
            divisions = load_divisions(
                session,
                chengdu_path("divisions.csv"),
                boundaries=chengdu_path("districts.geojson"),
                population_csv=chengdu_path("population.csv"),
                progress=progress,
            )
            report = load_plan_file(session, chengdu_path("plan.yaml"))
            types = load_service_types(session, chengdu_path("service_types.yaml"))
            specs = DEMO_ACCOUNTS if settings.demo else ADMINISTRATORS
            credentials = bootstrap_accounts(
                session,
                settings,
                now=system_clock(),
                passwords={s.username: generate_password(settings, s.username) for s in specs},
            )
        console.print(
            f"divisions: {divisions.created} created, {divisions.updated} updated, "
            f"{divisions.unchanged} unchanged; {divisions.boundaries} boundaries; "
            f"{divisions.population_rows} population rows"
        )
        _print_load_report(report, chengdu_path("plan.yaml"))
        console.print(
            f"request types (诉求类型): {types.types_created} created, {types.types_updated} updated"
        )
        _print_credentials(credentials, demo=settings.demo)
    finally:
        engine.dispose()


def _print_credentials(credentials: list[Credential], *, demo: bool) -> None:
    if not credentials:
        return
    table = Table(
        title="accounts created — passwords shown once (账户已创建,密码仅显示一次)", header_style="bold"
    )
    for column in ("user", "role", "password"):
        table.add_column(column, no_wrap=True)
    for c in credentials:
        table.add_row(c.username, f"{c.role.zh} {c.role.value}", Text(c.password))
    console.print(table)
    if not demo:
        console.print("Each administrator must choose a new password at first sign-in (首次登录须修改密码).")


@app.command()
@reports_errors
def init() -> None:
    """Create or upgrade the database and load the Chengdu divisions and plan catalogue."""
    settings = Settings()
    _init(settings)
    console.print(
        f"database ready: {make_engine(settings.database_url).url.render_as_string(hide_password=True)}"
    )


@app.command("simulate")
@reports_errors
def simulate_command(
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the file's).")] = None,
    params: Annotated[Path | None, typer.Option(help="Simulation parameters (YAML).")] = None,
    plan_code: PlanOption = None,
) -> None:
    """Write simulated monitoring data 2020–2025 (labelled 模拟数据 / simulated)."""
    settings = Settings()
    _simulate(settings, seed=seed, params=params, plan_code=plan_code)


def _simulate(settings: Settings, *, seed: int | None, params: Path | None, plan_code: str | None) -> None:
    path = params or chengdu_path("simulation.yaml")
    parsed = read_simulation_file(path)
    with unit_of_work(settings) as session, progress_bar() as progress:
        plan = get_plan(session, plan_code or parsed.plan)
        report = simulate(session, plan, parsed, name=str(path), seed=seed, progress=progress)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items()))
    console.print(
        f"simulated data (模拟数据) for {report.indicators} indicators, seed {report.seed}: {counts}"
    )


@targets_app.callback(invoke_without_command=True)
@reports_errors
def targets(
    ctx: typer.Context,
    as_json: JsonOption = False,
    year: YearOption = None,
    plan_code: PlanOption = None,
) -> None:
    """Every target with indicator, comparator, value, unit, year, kind, scope, status, source."""
    if ctx.invoked_subcommand is not None:
        return
    plan, year, views = plan_target_views(plan_code, year)
    if as_json:
        print_json(json.dumps([v.model_dump(mode="json") for v in views], ensure_ascii=False, indent=1))
        return
    console.print(targets_table(views, title=f"{plan.title_zh} — targets, status in {year}", sentences=True))
    print_legend(views)


@targets_app.command("set")
@reports_errors
def set_target(
    ref: Annotated[str, typer.Argument(help="Target id or code, e.g. CD14-T05.")],
    value: Annotated[float | None, typer.Option(help="The target's number.")] = None,
    low: Annotated[float | None, typer.Option(help="Lower bound of a range target.")] = None,
    high: Annotated[float | None, typer.Option(help="Upper bound of a range target.")] = None,
    deadline: Annotated[int | None, typer.Option(help="Deadline year.")] = None,
    by: Annotated[str, typer.Option(help="Who makes the change (kept in the change log).")] = "admin (CLI)",
    note: Annotated[str | None, typer.Option(help="Why, e.g. the document the number comes from.")] = None,
    plan_code: PlanOption = None,
) -> None:
    """Fill in a number the source lost (an incomplete target), with who and why."""
    if (low is None) != (high is None):
        raise typer.BadParameter("give both --low and --high for a range")
    settings = Settings()
    with unit_of_work(settings) as session:
        target = find_target(session, ref, plan_code=plan_code)
        changes = fill_target(
            session,
            target,
            value=value,
            range_=(low, high) if low is not None and high is not None else None,
            deadline=deadline,
            actor=by,
            channel="cli",
            note=note,
            logged_as=operator(),
        )
        code = target.code
    if not changes:
        console.print(f"{code}: nothing changed")
        return
    for key, (old, new) in changes.items():
        console.print(f"{code}.{key}: {old!r} → {new!r}")


@plans_app.command("load")
@reports_errors
def plans_load(file: Annotated[Path, typer.Argument(help="Plan catalogue (YAML or JSON).")]) -> None:
    """Validate a plan catalogue completely, then load it in one transaction (or not at all)."""
    settings = Settings()
    with unit_of_work(settings) as session:
        report = load_plan_file(session, file)
        if report.changed:
            record(session, operator(), "catalogue.load", now=system_clock(), object_type="plan",
                   object_id=f"{report.plan_code} v{report.plan_version}", detail={"file": str(file)})  # fmt: skip
    _print_load_report(report, file)


@app.command()
@reports_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.", min=1, max=65535)] = None,
) -> None:
    """Serve the web app on an existing database."""
    settings = Settings()
    engine_for(settings).dispose()  # refuse early, with a clear message, if the schema is wrong
    _serve(settings, host or settings.host, port if port is not None else settings.port)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            msg = f"cannot listen on {host}:{port} ({exc.strerror}); stop the other server or choose another port with --port"
            raise InvalidValueError(msg) from None


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from planwatch.web.app import create_app

    _check_port_free(host, port)
    console.print(f"planwatch is serving on [bold]http://{host}:{port}/[/]  (Ctrl+C stops it)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _coverage_demo(settings: Settings) -> None:
    """The life-circle part of the demo: synthetic network, population and facilities (模拟数据) in
    ./coverage-demo, coverage computed for the latest data year, two siting examples."""
    from planwatch.coverage.service import install_coverage_demo  # see cli/coverage.py: start-up

    directory = Path.cwd() / "coverage-demo"
    with progress_bar() as progress, unit_of_work(settings) as session:
        year = latest_data_year(session, get_plan(session, CHENGDU_PLAN_CODE))
        task = progress.add_task("生活圈 coverage", total=None)
        run = install_coverage_demo(
            session,
            directory,
            year=year,
            entry_expiry_days=settings.entry_expiry_days,
            progress=lambda _label: progress.advance(task),
        )
        console.print(
            f"life circles (生活圈): coverage run {run.id} for {year} on the synthetic network in {directory}"
            f" ({len(run.circles)} circles; 模拟数据 / simulated)"
        )


def _citizens_demo(settings: Settings) -> None:
    """Citizens' requests and demand (市民诉求, 需求调查): a simulated year of 12345 requests on the
    coverage demo's address points, their monthly metrics, a demand survey and the supply."""
    from planwatch.datasets.citizens_demo import install_citizens_demo  # pandas, scikit-learn: on use

    with progress_bar() as progress, unit_of_work(settings) as session:
        year = latest_data_year(session, get_plan(session, CHENGDU_PLAN_CODE))
        progress.add_task("市民诉求 requests", total=None)
        report = install_citizens_demo(session, coverage_dir=Path.cwd() / "coverage-demo", year=year,
                                       settings=settings)  # fmt: skip
    history = report.requests
    written = (
        "already there" if history.skipped else f"{history.requests:,} requests, {history.events:,} steps"
    )
    console.print(
        f"citizens' requests (市民诉求) {year}: {written}; metrics {report.metrics['created']} values written, "
        f"survey {report.surveys.survey}: {report.surveys.responses} answers (模拟数据 / simulated)"
    )


@app.command()
@reports_errors
def demo(
    serve_app: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web app after setting up.")
    ] = True,
    year: YearOption = None,
) -> None:
    """Set up the Chengdu example (init + simulate + evaluate) and serve it on 127.0.0.1:8000."""
    started = time.perf_counter()
    settings = Settings(demo=True)
    if serve_app:  # fail before the set-up work, not after it
        _check_port_free(settings.host, settings.port)
    _init(settings)
    _simulate(settings, seed=None, params=None, plan_code=None)
    _coverage_demo(settings)
    _citizens_demo(settings)
    with unit_of_work(settings) as session:
        plan = get_plan(session, CHENGDU_PLAN_CODE)
        year = year if year is not None else latest_data_year(session, plan)
        views = list_target_views(session, plan, year, thresholds=settings.thresholds)
    console.print(targets_table(views, title=f"{plan.title_zh} — {year}", sentences=False))
    print_legend(views)
    console.print(f"demo ready in {time.perf_counter() - started:.1f} s")
    if serve_app:
        _serve(settings, settings.host, settings.port)
