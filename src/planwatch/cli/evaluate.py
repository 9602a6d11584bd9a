"""``planwatch evaluate``: evaluate every target for a year; publish evaluation rounds (年度监测,
中期评估, 总结评估), list, show and compare them; record qualitative assessments (定性评估).

``planwatch evaluate [--year Y] [--json] [--plan P]`` evaluates without storing anything; the
subcommands work on stored rounds. Writes are recorded as ``cli:<OS user>``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from planwatch.cli._render import (
    STATUS_STYLE,
    num,
    plan_target_views,
    print_legend,
    status_counts,
    targets_table,
)
from planwatch.cli.accounts import operator
from planwatch.cli.context import (
    JsonOption,
    PlanOption,
    YearOption,
    console,
    print_json,
    reports_errors,
    unit_of_work,
)
from planwatch.config import Settings
from planwatch.evaluation.assessments import ASSESSABLE, local_today, record_assessment
from planwatch.evaluation.backtest import backtest
from planwatch.evaluation.early_warning import WarningLevel
from planwatch.evaluation.progress import Status
from planwatch.evaluation.round_views import (
    RoundDiffOut,
    RoundOut,
    RoundSummaryOut,
    assessment_out,
    list_round_views,
    round_diff_view,
    round_view,
)
from planwatch.evaluation.rounds import publish_round
from planwatch.evaluation.service import get_plan, latest_data_year
from planwatch.evaluation.warning_views import warnings_view
from planwatch.models.enums import RoundKind
from planwatch.plans.service import find_target

evaluate_app = typer.Typer(
    help=(
        "Evaluate every target (`planwatch evaluate --year 2023`), or work on stored evaluation rounds: "
        "round (publish), rounds, show, diff; assess records a qualitative target's assessment; "
        "warnings lists the early warnings (预警); backtest replays the plan's history."
    ),
)

RoundId = Annotated[int, typer.Argument(help="Round id (see `planwatch evaluate rounds`).", min=1)]
SIMULATED_NOTE = "[bold yellow]模拟数据 / simulated:[/] values behind this round come from the simulator, not from reports."


@evaluate_app.callback(invoke_without_command=True)
@reports_errors
def evaluate(
    ctx: typer.Context,
    year: YearOption = None,
    as_json: JsonOption = False,
    plan_code: PlanOption = None,
) -> None:
    """Evaluate every target with the data up to YEAR (default: the latest year with data); nothing is stored."""
    if ctx.invoked_subcommand is not None:
        return
    plan, year, views = plan_target_views(plan_code, year)
    if as_json:
        payload = {
            "plan": plan.code,
            "year": year,
            "counts": status_counts(views),
            "simulated": any(v.evaluation and v.evaluation.simulated for v in views),
            "targets": [
                {"id": v.id, "code": v.code, **(v.evaluation.model_dump(mode="json") if v.evaluation else {})}
                for v in views
            ],
        }
        print_json(json.dumps(payload, ensure_ascii=False, indent=1))
        return
    console.print(targets_table(views, title=f"{plan.title_zh} — evaluation {year}", sentences=False))
    print_legend(views)


@evaluate_app.command("round")
@reports_errors
def publish(
    kind: Annotated[
        RoundKind,
        typer.Option(
            "--kind", help="annual 年度监测 | midterm 中期评估 | final 总结评估.", case_sensitive=False
        ),
    ],
    year: Annotated[
        int | None,
        typer.Option(
            "--year",
            help="Evaluation year (default: annual, the latest with data; midterm, the plan's middle year; "
            "final, its last year).",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the round.")] = None,
    supersede: Annotated[
        bool,
        typer.Option(
            "--supersede", help="Publish a correction of the round of this kind and year (a new revision)."
        ),
    ] = False,
    as_json: JsonOption = False,
    plan_code: PlanOption = None,
) -> None:
    """Publish an evaluation round: evaluate every target on approved values and store the result for good."""
    settings = Settings()
    with unit_of_work(settings) as session:
        plan = get_plan(session, plan_code)
        published = publish_round(
            session,
            plan,
            kind=kind,
            year=year,
            actor=operator(),
            note=note,
            supersede=supersede,
            thresholds=settings.thresholds,
        )
        view = round_view(session, published.id)
    if as_json:
        print_json(view.model_dump_json(indent=1))
        return
    replaces = f", superseding round {view.supersedes}" if view.supersedes else ""
    console.print(
        f"已发布 published: round [bold]{view.id}[/] — {view.kind_zh} {view.kind_en} {view.year} "
        f"(revision {view.revision}{replaces}), {len(view.targets)} targets",
        highlight=False,
    )
    console.print(_counts_line(view.counts), highlight=False)
    console.print(f"data fingerprint {view.data_fingerprint}", highlight=False)
    if view.simulated:
        console.print(SIMULATED_NOTE)


@evaluate_app.command("rounds")
@reports_errors
def rounds(as_json: JsonOption = False, plan_code: PlanOption = None) -> None:
    """List the published evaluation rounds, newest first."""
    settings = Settings()
    with unit_of_work(settings) as session:
        plan = get_plan(session, plan_code) if plan_code else None
        views = list_round_views(session, plan=plan)
    if as_json:
        print_json(json.dumps([v.model_dump(mode="json") for v in views], ensure_ascii=False, indent=1))
        return
    if not views:
        console.print(
            "no evaluation round is published yet; publish one with `planwatch evaluate round --kind annual`"
        )
        return
    table = Table(title="evaluation rounds (评估轮次)", header_style="bold", show_lines=True)
    for column in ("id", "plan", "kind", "year", "rev.", "published (UTC)", "by", "status counts"):
        table.add_column(column, overflow="fold")
    for view in views:
        kind = Text(f"{view.kind_zh}\n{view.kind_en}")
        if view.superseded_by:
            kind.append(f"\nsuperseded by {view.superseded_by}", style="dim")
        if view.simulated:
            kind.append("\n模拟 simulated", style="yellow")
        table.add_row(
            str(view.id),
            view.plan,
            kind,
            str(view.year),
            str(view.revision),
            view.published_at.strftime("%Y-%m-%d %H:%M"),
            view.published_by or "",
            _counts_line(view.counts, compact=True),
        )
    console.print(table)


@evaluate_app.command("show")
@reports_errors
def show(round_id: RoundId, as_json: JsonOption = False) -> None:
    """One round: every target's status as published, with the note on how it was judged."""
    settings = Settings()
    with unit_of_work(settings) as session:
        view = round_view(session, round_id)
    if as_json:
        print_json(view.model_dump_json(indent=1))
        return
    table = Table(title=_title(view), header_style="bold", show_lines=True)
    table.add_column("code", no_wrap=True)
    table.add_column("indicator", ratio=3, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("actual", justify="right", no_wrap=True)
    table.add_column("note", ratio=3, overflow="fold")
    for target in view.targets:
        status = _known(target.status)
        cell = Text(status.zh, style=STATUS_STYLE[status])
        if target.simulated and target.actual is not None:
            cell.append(" 模拟", style="yellow")
        reason = "\n".join(r for r in (target.reason_zh, target.reason_en) if r)
        table.add_row(target.code, target.indicator_zh, cell, num(target.actual), reason)
    console.print(table)
    console.print(_counts_line(view.counts), highlight=False)
    if view.note:
        console.print(f"note: {view.note}", highlight=False)
    console.print(f"data fingerprint {view.data_fingerprint}", highlight=False)
    if view.simulated:
        console.print(SIMULATED_NOTE)


@evaluate_app.command("diff")
@reports_errors
def diff(
    before: Annotated[int, typer.Argument(help="The earlier round's id.", min=1)],
    after: Annotated[int, typer.Argument(help="The later round's id.", min=1)],
    as_json: JsonOption = False,
) -> None:
    """What changed between two rounds: targets whose status, figures or data differ."""
    settings = Settings()
    with unit_of_work(settings) as session:
        view = round_diff_view(session, before, after)
    if as_json:
        print_json(view.model_dump_json(indent=1))
        return
    _print_diff(view)


def _print_diff(view: RoundDiffOut) -> None:
    console.print(f"[bold]{_title(view.before)}[/]  →  [bold]{_title(view.after)}[/]", highlight=False)
    for status in Status:
        old, new = view.before.counts.get(status.value, 0), view.after.counts.get(status.value, 0)
        if old or new:
            marker = "" if old == new else f"  ({new - old:+d})"
            console.print(f"  {status.zh} {status.value}: {old} → {new}{marker}", highlight=False)
    if view.changed:
        table = Table(title=f"{len(view.changed)} targets changed", header_style="bold", show_lines=True)
        for column in ("code", "status", "actual", "what changed"):
            table.add_column(column, overflow="fold")
        for change in view.changed:
            table.add_row(
                change.code,
                _arrow(_label(change.status_before), _label(change.status_after)),
                _arrow(num(change.actual_before), num(change.actual_after)),
                ", ".join(change.fields),
            )
        console.print(table)
    for title, items in (("added", view.added), ("removed", view.removed)):
        for change in items:
            shown = change.status_after if title == "added" else change.status_before
            console.print(f"  {title}: {change.code} ({_label(shown)})", highlight=False)
    console.print(
        f"{view.unchanged} targets unchanged; {view.status_changes} changed status", highlight=False
    )


@evaluate_app.command("assess")
@reports_errors
def assess(
    ref: Annotated[str, typer.Argument(help="Target id or code of a qualitative target, e.g. CD14-T27.")],
    year: Annotated[int, typer.Option("--year", help="The year the assessment is about.")],
    status: Annotated[
        str, typer.Option("--status", help=" | ".join(f"{s.value} {s.zh}" for s in ASSESSABLE) + ".")
    ],
    evidence: Annotated[str, typer.Option("--evidence", help="What the judgement rests on (documents …).")],
    assessor: Annotated[str, typer.Option("--assessor", help="Who made the judgement (person or body).")],
    on: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Date of the judgement (default: today)."),
    ] = None,
    as_json: JsonOption = False,
    plan_code: PlanOption = None,
) -> None:
    """Record a qualitative target's assessment for a year (the history is kept; the latest counts)."""
    settings = Settings()
    with unit_of_work(settings) as session:
        target = find_target(session, ref, plan_code=plan_code)
        row = record_assessment(
            session,
            target,
            year=year,
            status=status,
            evidence=evidence,
            assessor=assessor,
            assessed_on=on.date() if on is not None else local_today(),
            actor=operator(),
            channel="cli",
        )
        view = assessment_out(row, internal=True)
    if as_json:
        print_json(view.model_dump_json(indent=1))
        return
    console.print(
        f"已记录 recorded: assessment {view.id} of {view.target} for {view.year}: "
        f"{view.status_zh} {view.status} — {view.assessor}, {view.assessed_on.isoformat()}",
        highlight=False,
    )


def _title(view: RoundSummaryOut | RoundOut) -> str:
    return (
        f"round {view.id}: {view.plan} {view.kind_zh} {view.kind_en} {view.year} (revision {view.revision})"
    )


def _known(value: str | None) -> Status:
    try:
        return Status(value or Status.not_evaluable)
    except ValueError:
        return Status.not_evaluable


def _label(value: str | None) -> str:
    return "—" if value is None else f"{_known(value).zh} {value}"


def _arrow(old: str, new: str) -> str:
    return old if old == new else f"{old} → {new}"


def _counts_line(counts: dict[str, int], *, compact: bool = False) -> str:
    parts = [(s, counts.get(s.value, 0)) for s in Status]
    if compact:
        return "\n".join(f"{s.zh} {n}" for s, n in parts if n)
    return "  ".join(f"{s.zh} {s.value}: {n}" for s, n in parts)


@evaluate_app.command("warnings")
@reports_errors
def warnings(
    year: YearOption = None,
    level: Annotated[WarningLevel | None, typer.Option(help="Only red or only yellow warnings.")] = None,
    as_json: JsonOption = False,
    plan_code: PlanOption = None,
) -> None:
    """Early warnings (预警): red and yellow targets, the units behind them and who answers for them."""
    settings = Settings()
    with unit_of_work(settings) as session:
        plan = get_plan(session, plan_code)
        year = year if year is not None else latest_data_year(session, plan)
        view = warnings_view(session, plan, year, thresholds=settings.thresholds, level=level)
    if as_json:
        print_json(view.model_dump_json(indent=1))
        return
    table = Table(title=f"{plan.title_zh} — 预警 warnings {year}", header_style="bold")
    for column in (
        "预警",
        "code",
        "indicator 指标",
        "status 状态",
        "rules 规则",
        "responsible 责任单位",
        "units 单元",
    ):
        table.add_column(column)
    for w in view.warnings:
        style = "bold red" if w.top_level == "red" else "yellow"
        units = ", ".join(u.name_zh for u in w.units[:8]) + (
            f" … (+{len(w.units) - 8})" if len(w.units) > 8 else ""
        )
        table.add_row(
            Text(WarningLevel(w.top_level).zh, style=style),
            w.code,
            w.indicator_zh,
            Text(w.evaluation.status_zh, style=STATUS_STYLE.get(Status(w.evaluation.status), "")),
            "; ".join(r.zh for r in w.rules) or "—",
            w.department.name_zh if w.department else "—",
            f"{len(w.units)} {w.unit_level_zh or ''}: {units}" if w.units else "—",
        )
    console.print(table)
    console.print(f"红色预警 red: {view.counts['red']}  黄色预警 yellow: {view.counts['yellow']}")
    if view.simulated:
        console.print(
            "[bold yellow]模拟数据 / simulated:[/] values behind these warnings come from the simulator."
        )


@evaluate_app.command("backtest")
@reports_errors
def backtest_command(
    as_json: JsonOption = False,
    plan_code: PlanOption = None,
    per_division: Annotated[
        bool, typer.Option("--per-division/--scope-only", help="Also replay each child division.")
    ] = True,
) -> None:
    """Replay the plan's history: how often the status and forecast at year t predicted the outcome."""
    settings = Settings()
    with unit_of_work(settings) as session:
        plan = get_plan(session, plan_code)
        result = backtest(session, plan, thresholds=settings.thresholds, per_division=per_division)
    rows = [
        {
            "year": s.year,
            "cases": s.cases,
            "status_accuracy": _finite(s.status_accuracy),
            "forecasts": s.forecasts,
            "forecast_accuracy": _finite(s.forecast_accuracy),
            "brier": _finite(s.brier),
            "interval_coverage": _finite(s.interval_coverage),
            "simulated": s.simulated,
        }
        for s in result.years
    ]
    if as_json:
        payload = {"plan": result.plan_code, "outcomes": result.outcomes, "met": result.met, "years": rows}
        print_json(json.dumps(payload, ensure_ascii=False, indent=1))
        return
    table = Table(
        title=f"{plan.title_zh} — back-test: {result.outcomes} outcomes ({result.met} met)",
        header_style="bold",
    )
    for column in ("year t", "cases", "status right", "forecasts", "forecast right", "Brier", "inside 80 %"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            str(row["year"]),
            str(row["cases"]),
            _pct(row["status_accuracy"]),
            str(row["forecasts"]),
            _pct(row["forecast_accuracy"]),
            "—" if row["brier"] is None else f"{row['brier']:.3f}",
            _pct(row["interval_coverage"]),
        )
    console.print(table)
    if any(s.simulated for s in result.years):
        console.print(
            "[bold yellow]模拟数据 / simulated:[/] these scores describe the rules on simulated series, "
            "not their skill on real data."
        )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _pct(value: object) -> str:
    return "—" if not isinstance(value, float) else f"{value * 100:.1f} %"
