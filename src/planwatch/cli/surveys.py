"""``planwatch surveys``: demand surveys (公共服务需求调查) — define, publish, close, results,
write-indicators; and ``planwatch supply``: the facilities registry and supply–demand matching
(供需对接) — import, match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from planwatch.cli.accounts import operator
from planwatch.cli.context import JsonOption, console, print_json, reports_errors, unit_of_work
from planwatch.clock import system_clock
from planwatch.config import Settings
from planwatch.models.enums import DivisionLevel

surveys_app = typer.Typer(
    help="Demand surveys (公共服务需求调查): define, publish, close, results, write-indicators.",
    no_args_is_help=True,
)
supply_app = typer.Typer(
    help="Supply–demand matching (供需对接): import facilities, match demand against supply.",
    no_args_is_help=True,
)

LevelOption = Annotated[
    Literal["district", "street", "community"],
    typer.Option("--level", help="Tabulate per district, street or community."),
]


@surveys_app.command("define")
@reports_errors
def define_command(
    file: Annotated[Path, typer.Argument(help="A planwatch.survey/v1 definition (.yaml or .json).")],
) -> None:
    """Define a survey as a draft (or replace a draft's definition); re-defining it unchanged is a no-op."""
    from planwatch.service_requests.surveys import define_survey, read_survey_file

    definition = read_survey_file(file)
    with unit_of_work(Settings()) as session:
        survey, outcome = define_survey(
            session, definition, actor=operator().name, now=system_clock(), source=str(file)
        )
        code, status, questions = survey.code, survey.status.value, len(survey.questions)
    console.print(
        f"survey {code}: {outcome} ({status}, {questions} questions); publish it with `planwatch surveys publish {code}`"
    )


@surveys_app.command("list")
@reports_errors
def list_command(as_json: JsonOption = False) -> None:
    """Every survey with its status and number of answers."""
    from sqlalchemy import func, select

    from planwatch.models import SurveyResponse
    from planwatch.service_requests.surveys import list_surveys

    with unit_of_work(Settings()) as session:
        counts = dict(
            session.execute(
                select(SurveyResponse.survey_id, func.count()).group_by(SurveyResponse.survey_id)
            ).all()
        )
        rows: list[dict[str, Any]] = [
            {
                "code": s.code,
                "title": s.title_zh,
                "status": s.status.value,
                "identity_required": s.identity_required,
                "answers": int(counts.get(s.id, 0)),
                "simulated": s.simulated,
            }
            for s in list_surveys(session, include_drafts=True)
        ]
    if as_json:
        print_json(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table(title="需求调查 / demand surveys")
    for column in ("code", "title", "status", "one per person", "answers"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["code"],
            row["title"] + (" (模拟 / simulated)" if row["simulated"] else ""),
            row["status"],
            "yes" if row["identity_required"] else "no",
            str(row["answers"]),
        )
    console.print(table)


@surveys_app.command("publish")
@reports_errors
def publish_command(code: Annotated[str, typer.Argument(help="The survey's code.")]) -> None:
    """Open a draft survey for answers."""
    from planwatch.service_requests.surveys import get_survey, publish_survey

    with unit_of_work(Settings()) as session:
        publish_survey(session, get_survey(session, code, include_drafts=True), now=system_clock())
    console.print(f"survey {code} is open; its link is /surveys/{code}")


@surveys_app.command("close")
@reports_errors
def close_command(code: Annotated[str, typer.Argument(help="The survey's code.")]) -> None:
    """Stop taking answers."""
    from planwatch.service_requests.surveys import close_survey, get_survey

    with unit_of_work(Settings()) as session:
        close_survey(session, get_survey(session, code, include_drafts=True), now=system_clock())
    console.print(f"survey {code} is closed")


@surveys_app.command("results")
@reports_errors
def results_command(
    code: Annotated[str, typer.Argument(help="The survey's code.")],
    level: LevelOption = "district",
    as_json: JsonOption = False,
) -> None:
    """Answers tallied per division (free-text answers counted; with --json listed, masked)."""
    from planwatch.service_requests.survey_results import survey_results
    from planwatch.service_requests.surveys import get_survey

    with unit_of_work(Settings()) as session:
        results = survey_results(
            session,
            get_survey(session, code, include_drafts=True),
            level=DivisionLevel(level),
            include_texts=as_json,  # the operator holds the database; the texts are masked
        )
    if as_json:
        print_json(results.model_dump_json(indent=1))
        return
    label = "（含模拟答卷 / includes simulated answers）" if results.simulated else ""
    console.print(f"[bold]{code}[/bold]: {results.n} answers{label}")
    for question in results.total.questions:
        table = Table(title=f"{question.code}: {question.text_zh}")
        table.add_column(level)
        table.add_column("N", justify="right")
        if question.kind.value == "text":
            table.add_column("texts", justify="right")
        for option in question.options:
            table.add_column(option.name_zh, justify="right")
        if question.kind.value == "scale":
            table.add_column("mean", justify="right")
        for division in [results.total, *results.divisions]:
            found = next((q for q in division.questions if q.code == question.code), None)
            if found is None:
                continue
            cells = [f"{o.share:.1f}%" if o.share is not None else "—" for o in found.options]
            if question.kind.value == "text":
                cells = [str(found.texts_count)]
            if question.kind.value == "scale":
                cells.append(f"{found.mean:.2f}" if found.mean is not None else "—")
            table.add_row(division.name_zh, str(found.n), *cells)
        console.print(table)


@surveys_app.command("write-indicators")
@reports_errors
def write_indicators_command(
    code: Annotated[str, typer.Argument(help="The survey's code.")],
    year: Annotated[int, typer.Option("--year", help="Data year the demand indicators are written to.")],
) -> None:
    """Write the survey's demand indicators (share choosing the demand options, or a scale's mean)."""
    from planwatch.service_requests.survey_results import write_survey_indicators
    from planwatch.service_requests.surveys import get_survey

    settings = Settings()
    with unit_of_work(settings) as session:
        written = write_survey_indicators(
            session,
            get_survey(session, code, include_drafts=True),
            year=year,
            actor=operator().name,
            now=system_clock(),
            entry_expiry_days=settings.entry_expiry_days,
        )
    if not written:
        console.print(f"survey {code} has no question with a demand indicator; nothing written")
    for indicator, counts in written.items():
        console.print(
            f"{indicator} {year}: {counts['created']} created, {counts['updated']} updated,"
            f" {counts['unchanged']} unchanged, {counts['kept_reported']} reported values kept"
        )


@supply_app.command("import")
@reports_errors
def import_command(
    file: Annotated[
        Path, typer.Argument(help="Facilities CSV: id,type,name,lon,lat,capacity,division_code[,simulated].")
    ],
    simulated: Annotated[
        bool | None,
        typer.Option(
            "--simulated/--real", help="Mark every row simulated or real (default: the file's column)."
        ),
    ] = None,
) -> None:
    """Upsert facilities by id (all or nothing; re-running the same file changes nothing)."""
    from planwatch.service_requests.facilities import import_facilities

    with unit_of_work(Settings()) as session:
        report = import_facilities(session, file, simulated=simulated)
    label = " (模拟数据 / simulated)" if report.simulated else ""
    console.print(
        f"{report.source}: {report.rows} facilities{label}: {report.created} created, {report.updated} updated,"
        f" {report.unchanged} unchanged"
    )


@supply_app.command("match")
@reports_errors
def match_command(
    pair: Annotated[str | None, typer.Option("--pair", help="One pair (default: every pair).")] = None,
    level: Annotated[
        Literal["district", "street", "community"],
        typer.Option("--level", help="Per district, street or community."),
    ] = "district",
    year: Annotated[
        int | None, typer.Option("--year", help="Data year (default: the latest of each source).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Divisions shown per pair in the table.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Demand against supply per division; the divisions shortest of supply first."""
    from planwatch.service_requests.matching import PAIRS, supply_demand

    with unit_of_work(Settings()) as session:
        results = [
            supply_demand(session, code, level=DivisionLevel(level), year=year)
            for code in ([pair] if pair else PAIRS)
        ]
    if as_json:
        print_json(json.dumps([r.model_dump(mode="json") for r in results], ensure_ascii=False, indent=1))
        return
    for result in results:
        label = f"（模拟数据 / simulated: {', '.join(result.simulated_sources)}）" if result.simulated else ""
        table = Table(
            title=f"{result.pair.name_zh} / {result.pair.name_en}: {result.pair.ratio_label_zh}{label}"
        )
        for column in ("rank", level, "demand", "supply", "ratio", "gap", "survey %", "requests/10k"):
            table.add_column(column, justify="left" if column == level else "right")
        for row in result.rows[:top]:
            table.add_row(
                str(row.rank or "—"),
                row.name_zh,
                f"{row.demand:,.0f}{'*' if row.demand_estimated else ''}" if row.demand is not None else "—",
                f"{row.supply:,.0f}",
                "no supply" if row.no_supply else (f"{row.ratio:.1f}" if row.ratio is not None else "—"),
                f"{row.gap:,.0f}" if row.gap is not None else "—",
                f"{row.survey_share:.1f}" if row.survey_share is not None else "—",
                f"{row.requests_per_10k:.1f}" if row.requests_per_10k is not None else "—",
            )
        console.print(table)
        for note in result.estimates:
            console.print(f"[dim]* {note}[/dim]")
