"""How targets and their status print in a terminal: one table and legend for ``planwatch
targets``, ``planwatch evaluate`` and ``planwatch demo``."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from planwatch.cli.context import console, unit_of_work
from planwatch.config import Settings
from planwatch.evaluation.progress import Status
from planwatch.evaluation.service import get_plan, latest_data_year
from planwatch.models import Plan
from planwatch.plans.views import TargetOut, list_target_views

STATUS_STYLE = {
    Status.achieved: "bold green",
    Status.ahead: "green",
    Status.on_track: "cyan",
    Status.lagging: "yellow",
    Status.seriously_lagging: "bold red",
    Status.missed: "bold magenta",
    Status.not_evaluable: "dim",
}


def num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _target_text(view: TargetOut) -> str:
    if view.range is not None:
        return f"{num(view.range[0])}–{num(view.range[1])} {view.unit}"
    if view.value is not None:
        per = f"/{view.per}" if view.per else ""
        return f"{view.comparator} {num(view.value)} {view.unit}{per}"
    if view.comparator in {"increase", "decrease"}:
        return view.comparator_zh
    if view.reference:
        return f"{view.comparator} {view.reference}"
    return "(number missing)" if view.incomplete else "—"


def _status_cell(view: TargetOut) -> Text:
    ev = view.evaluation
    status = Status(ev.status) if ev else Status.not_evaluable
    cell = Text(status.zh, style=STATUS_STYLE[status])
    if ev is not None and ev.units_total and ev.units_meeting is not None:
        cell.append(f"\n{ev.units_meeting}/{ev.units_total} units")
    elif ev is not None and ev.actual is not None:
        cell.append(f"\n{num(ev.actual)}")
    if ev is not None and ev.simulated and (ev.actual is not None or ev.units_meeting is not None):
        cell.append(" 模拟", style="yellow")
    return cell


def _note(view: TargetOut) -> str:
    if view.incomplete:
        return view.incomplete_reason or ""
    ev = view.evaluation
    if ev is None or not ev.reason_zh:
        return ""
    return f"{ev.reason_zh}\n{ev.reason_en}" if ev.reason_en else ev.reason_zh


def targets_table(views: list[TargetOut], *, title: str, sentences: bool) -> Table:
    """One row per target; every cell wraps, so the table reads at any terminal width."""
    table = Table(title=title, header_style="bold", show_lines=True)
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("code", no_wrap=True)
    table.add_column("indicator" + (" / source" if sentences else ""), ratio=3, overflow="fold")
    table.add_column("target", ratio=2, overflow="fold")
    table.add_column("status", no_wrap=True)
    for view in views:
        indicator = Text(view.indicator.name_zh)
        if sentences:
            indicator.append(f"\n“{view.source_sentence}”", style="dim")
        note = _note(view)
        if note:
            indicator.append(f"\n{note}", style="italic")
        deadline = f"{view.year}{'*' if view.deadline_inferred else ''}"
        target = Text(f"{_target_text(view)}\nby {deadline} · {view.kind}\n{view.scope.name_zh}")
        table.add_row(str(view.id), view.code, indicator, target, _status_cell(view))
    return table


def print_legend(views: list[TargetOut]) -> None:
    console.print(_summary(views), highlight=False)
    if any(v.deadline_inferred for v in views):
        console.print("* the source lost the year; the end of the plan period is assumed", highlight=False)
    if any(v.evaluation and v.evaluation.simulated for v in views):
        console.print(
            "[bold yellow]模拟数据 / simulated:[/] values marked 模拟 come from the simulator, not from reports."
        )


def _summary(views: list[TargetOut]) -> str:
    counts = dict.fromkeys(Status, 0)
    for view in views:
        counts[Status(view.status or Status.not_evaluable)] += 1
    return "  ".join(f"{s.zh} {s.value}: {n}" for s, n in counts.items())


def status_counts(views: list[TargetOut]) -> dict[str, int]:
    counts = {status.value: 0 for status in Status}
    for view in views:
        counts[view.status or Status.not_evaluable.value] += 1
    return counts


def plan_target_views(plan_code: str | None, year: int | None) -> tuple[Plan, int, list[TargetOut]]:
    """The plan, the year (default: the latest with data) and every target's view for that year."""
    settings = Settings()
    with unit_of_work(settings) as session:
        plan = get_plan(session, plan_code)
        year = year if year is not None else latest_data_year(session, plan)
        return plan, year, list_target_views(session, plan, year, thresholds=settings.thresholds)
