"""``planwatch ingest``: templates, file imports, data-quality checks, approval and lock exceptions,
from the server's shell (as the local operator; every write is audited under ``cli:<OS user>``)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.table import Table
from typer.core import TyperGroup

from planwatch.accounts.principal import Principal, local_operator
from planwatch.audit import security_log
from planwatch.cli.accounts import audit_app
from planwatch.cli.context import console, err_console, print_json, reports_errors, unit_of_work
from planwatch.clock import as_utc, system_clock
from planwatch.config import Settings
from planwatch.divisions.service import division_tree
from planwatch.errors import InvalidValueError
from planwatch.ingest import approval, lock_exceptions
from planwatch.ingest.duties import duties, template_file
from planwatch.ingest.quality import check_year
from planwatch.ingest.report import annotated_xlsx, problems_csv
from planwatch.ingest.service import ImportReport, history, import_file, verify_data_audit
from planwatch.models.enums import ApprovalUnitKind, Channel

SHOWN_PROBLEMS = 50


class _FileOrCommand(TyperGroup):
    """``planwatch ingest FILE`` imports a file; ``planwatch ingest template|check|…`` are commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        words = [a for a in args if not a.startswith("-")]
        if words and words[0] not in self.commands and "--help" not in args:
            args = ["file", *args]  # options may come before or after FILE
        return super().parse_args(ctx, args)


ingest_app = typer.Typer(
    cls=_FileOrCommand,
    help=(
        "Data collection. `planwatch ingest FILE [--dry-run] [--json] [--report X.xlsx]` imports a CSV or "
        "XLSX: every row is checked, then all rows are written or none. Commands: template, check, "
        "approval, reopen."
    ),
    no_args_is_help=True,
)
approval_app = typer.Typer(help="Approval of a unit's year: status, submit, withdraw, approve, unapprove.")
ingest_app.add_typer(approval_app, name="approval")


def operator_principal(session: Any) -> Principal:
    return local_operator(division_tree(session), f"cli:{getpass.getuser()}")


def _print_report(report: ImportReport) -> None:
    verdict = {
        "applied": "[green]imported[/]",
        "unchanged": "[green]nothing changed[/] (already imported)",
        "dry_run": "[cyan]dry run, nothing written[/]",
        "rejected": "[bold red]rejected, nothing was written[/]",
    }[report.status.value]
    recorded = f" (import {report.import_id})" if report.import_id is not None else ""
    console.print(f"[bold]{report.file}[/]{recorded}: {verdict}")
    console.print(
        f"  {report.rows} rows: {report.inserted} new, {report.updated} changed, {report.unchanged} unchanged, "
        f"{report.blank} blank (skipped)"
        + (f", {report.forced} under lock exceptions" if report.forced else ""),
        highlight=False,
    )
    for notice in report.notices:
        console.print(f"  note: {notice}", highlight=False)
    for title, problems, style in (("errors", report.errors, "red"), ("warnings", report.warnings, "yellow")):
        if not problems:
            continue
        table = Table(title=f"{len(problems)} {title}", title_style=style, header_style="bold")
        for column in ("row", "column", "value", "what is wrong and what to do"):
            table.add_column(column, overflow="fold")
        for problem in problems[:SHOWN_PROBLEMS]:
            shown = report.problem_json(problem)
            table.add_row(
                str(shown["row"] or "-"),
                str(shown["column"] or "-"),
                str(shown["value"]),
                str(shown["message"]),
            )
        console.print(table)
        if len(problems) > SHOWN_PROBLEMS:
            console.print(
                f"  … and {len(problems) - SHOWN_PROBLEMS} more: use --json or --report FILE.xlsx",
                highlight=False,
            )


@ingest_app.command("file", hidden=True)
@reports_errors
def ingest_file(
    file: Annotated[
        Path, typer.Argument(help="CSV (UTF-8 or GB18030) or XLSX file.", exists=True, dir_okay=False)
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything, write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write the annotated report (.xlsx, or .csv for a list).")
    ] = None,
) -> None:
    """Import FILE: every row is validated first; all rows are written, or none."""
    settings = Settings()
    data = file.read_bytes()
    err_console.print(
        f"reading and checking {file.name} ({len(data):,} bytes)…", style="dim", highlight=False
    )
    with unit_of_work(settings) as session:
        report = import_file(
            session,
            data,
            file.name,
            principal=operator_principal(session),
            channel=Channel.file,
            settings=settings,
            now=system_clock(),
            dry_run=dry_run,
            on_phase=lambda phase: err_console.print(phase, style="dim", highlight=False),
        )
    if report_path is not None:
        problems = [*report.errors, *report.warnings]
        if report_path.suffix.lower() == ".csv" or report.table is None:
            # a file that could not be read has no table to annotate: the list, named .csv
            report_path = report_path.with_suffix(".csv")
            report_path.write_bytes(problems_csv(problems, report.table))
        else:
            report_path.write_bytes(annotated_xlsx(report.table, problems, title=f"{file.name} 导入检查报告"))
    if as_json:
        print_json(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    else:
        _print_report(report)
        if report_path is not None:
            console.print(f"annotated report written to {report_path}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@ingest_app.command("template")
@reports_errors
def ingest_template(
    year: Annotated[int, typer.Option("--year", help="Reporting year.")],
    department: Annotated[
        str | None, typer.Option("--department", help="Department code, e.g. CDMZJ.")
    ] = None,
    division: Annotated[str | None, typer.Option("--division", help="District code, e.g. 510104.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: CODE-YEAR.xlsx).")
    ] = None,
) -> None:
    """Write the template a department or district fills in: one row per value it owes."""
    settings = Settings()
    with unit_of_work(settings) as session:
        duty = duties(
            session,
            year=year,
            principal=operator_principal(session),
            department=department,
            division=division,
        )
        name, data, _ = template_file(duty, fmt)
    path = output or Path(name)
    path.write_bytes(data)
    console.print(f"{duty.title}: {len(duty.rows)} rows written to {path}", highlight=False)


@ingest_app.command("check")
@reports_errors
def ingest_check(
    year: Annotated[int, typer.Option("--year", help="Year to check.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run every validation rule and the outlier check on a year's values; list the violations."""
    settings = Settings()
    with unit_of_work(settings) as session:
        found = check_year(session, year, threshold=settings.outlier_threshold)
    if as_json:
        print_json(json.dumps([v.__dict__ for v in found], ensure_ascii=False, indent=1))
        return
    if not found:
        console.print(f"{year}: no rule violations and no outliers", highlight=False)
        return
    table = Table(title=f"{year}: {len(found)} findings (warnings; nothing is blocked)", header_style="bold")
    for column in ("kind", "code", "importance", "division", "period", "message"):
        table.add_column(column, overflow="fold")
    for v in found:
        table.add_row(
            v.kind, v.code, v.importance, f"{v.division_name} {v.division_code}", v.period, v.message
        )
    console.print(table)


@approval_app.callback(invoke_without_command=True)
@reports_errors
def approval_status(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option("--year", help="Year (for the status list).")] = None,
) -> None:
    """Without a command: every unit's approval state for --year."""
    if ctx.invoked_subcommand is not None:
        return
    if year is None:
        raise InvalidValueError("give --year")
    settings = Settings()
    with unit_of_work(settings) as session:
        rows = approval.list_units(session, year, principal=operator_principal(session))
        table = Table(title=f"approval {year}", header_style="bold")
        for column in ("unit", "code", "state", "by", "at"):
            table.add_column(column)
        for s in rows:
            table.add_row(
                s.unit.name,
                s.unit.key,
                f"{s.state.zh} {s.state.value}",
                s.changed_by or "-",
                str(s.changed_at or "-")[:19],
            )
    console.print(table)


def _transition(action: str, unit: str, year: int) -> None:
    kind, _, code = unit.partition(":")
    if kind not in {"division", "department"} or not code:
        raise InvalidValueError("name the unit as division:CODE or department:CODE, e.g. division:510104")
    settings = Settings()
    with unit_of_work(settings) as session:
        target = approval.find_unit(session, ApprovalUnitKind(kind), code)
        status = approval.transition(
            session, target, year, action, principal=operator_principal(session), now=system_clock()
        )
    console.print(f"{status.unit.name} {year}: {status.state.zh} ({status.state.value})", highlight=False)


UnitArg = Annotated[str, typer.Argument(help="division:CODE or department:CODE")]
YearOpt = Annotated[int, typer.Option("--year")]


@approval_app.command("submit")
@reports_errors
def approval_submit(unit: UnitArg, year: YearOpt) -> None:
    """Submit a unit's year for approval (its values lock)."""
    _transition("submit", unit, year)


@approval_app.command("withdraw")
@reports_errors
def approval_withdraw(unit: UnitArg, year: YearOpt) -> None:
    """Take a submission back (or return it to the reporters)."""
    _transition("withdraw", unit, year)


@approval_app.command("approve")
@reports_errors
def approval_approve(unit: UnitArg, year: YearOpt) -> None:
    """Approve a submitted unit's year (the city last, once everything below it is approved)."""
    _transition("approve", unit, year)


@approval_app.command("unapprove")
@reports_errors
def approval_unapprove(unit: UnitArg, year: YearOpt) -> None:
    """Un-approve (only while the level above has not approved)."""
    _transition("unapprove", unit, year)


@ingest_app.command("reopen")
@reports_errors
def ingest_reopen(
    indicator: Annotated[str, typer.Option("--indicator")],
    division: Annotated[str, typer.Option("--division")],
    period: Annotated[str, typer.Option("--period")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why the closed cell is reopened (kept in the log).")
    ],
    days: Annotated[int, typer.Option("--days", min=1, max=366)] = 30,
) -> None:
    """Grant a lock exception: reopen one closed cell (indicator, division, period) for DAYS days."""
    settings = Settings()
    with unit_of_work(settings) as session:
        exception = lock_exceptions.grant(
            session,
            indicator,
            division,
            period,
            reason=reason,
            principal=operator_principal(session),
            now=system_clock(),
            days=days,
        )
        shown = f"lock exception {exception.id}: {indicator} / {division} / {exception.period} open until {exception.expires_at:%Y-%m-%d}"
    console.print(shown, highlight=False)


@audit_app.command("verify")
@reports_errors
def audit_verify() -> None:
    """Recompute both hash chains (security log and data-value audit); exit 1 at the first break."""
    settings = Settings()
    with unit_of_work(settings) as session:
        security = security_log.verify(session)
        data = verify_data_audit(session)
    console.print(f"security log: {security.message}", highlight=False)
    console.print(f"data audit:   {data.message}", highlight=False)
    if security.broken_at is not None or data.broken_at is not None:
        raise typer.Exit(1)


@audit_app.command("log")
@reports_errors
def audit_log(
    indicator: Annotated[str | None, typer.Option("--indicator", help="Indicator code.")] = None,
    division: Annotated[str | None, typer.Option("--division", help="Division code.")] = None,
    period: Annotated[str | None, typer.Option("--period", help="Period, e.g. 2025.")] = None,
    import_id: Annotated[
        int | None, typer.Option("--import", help="Only the changes of this import.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A value's history: every create, update and delete, newest first."""
    settings = Settings()
    with unit_of_work(settings) as session:
        rows = history(
            session, indicator=indicator, division=division, period=period, import_id=import_id, limit=limit
        )
        data = [
            {"id": r.id, "at": as_utc(r.at).isoformat(), "action": r.action.value, "indicator": r.indicator_code,
             "division": r.division_code, "period": r.period, "old": [r.old_value, r.old_numerator, r.old_denominator],
             "new": [r.new_value, r.new_numerator, r.new_denominator], "actor": r.actor, "channel": r.channel.value,
             "import_id": r.import_id, "forced": r.forced}
            for r in rows
        ]  # fmt: skip
    if as_json:
        print_json(json.dumps(data, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{len(data)} changes (newest first)", header_style="bold")
    for column in (
        "id",
        "at (UTC)",
        "action",
        "indicator",
        "division",
        "period",
        "old → new",
        "by",
        "channel",
        "import",
    ):
        table.add_column(column, overflow="fold")
    for d in data:
        old, new = cast(list[float | None], d["old"]), cast(list[float | None], d["new"])
        table.add_row(
            str(d["id"]), str(d["at"])[:19], str(d["action"]), str(d["indicator"]), str(d["division"]), str(d["period"]),
            f"{_value_text(old)} → {_value_text(new)}", str(d["actor"]), str(d["channel"]) + (" forced" if d["forced"] else ""),
            str(d["import_id"] or "-"),
        )  # fmt: skip
    console.print(table)


def _value_text(triple: list[float | None]) -> str:
    value, numerator, denominator = triple
    if value is None:
        return "—"
    return f"{value:g}" + (
        f" ({numerator:g}/{denominator:g})" if numerator is not None and denominator is not None else ""
    )
