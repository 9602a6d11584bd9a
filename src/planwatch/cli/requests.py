"""``planwatch requests``: the request-type catalogue, Open311 client keys, the retention job, the
monthly metrics written as indicator values, and a check of the type classifier."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from planwatch.cli.accounts import operator
from planwatch.cli.context import JsonOption, console, print_json, reports_errors, unit_of_work
from planwatch.clock import system_clock
from planwatch.config import Settings
from planwatch.datasets import chengdu_path
from planwatch.errors import InvalidValueError
from planwatch.models import Open311Client, ServiceRequest

requests_app = typer.Typer(
    help="Citizens' requests (市民诉求): types, Open311 clients, anonymisation, metrics, classifier.",
    no_args_is_help=True,
)
clients_app = typer.Typer(help="Open311 client keys (api_key): add, list, revoke.", no_args_is_help=True)
requests_app.add_typer(clients_app, name="clients")


def _service() -> ModuleType:
    """The requests service, imported when a command runs: it pulls in scipy and shapely (the
    locator), which every other planwatch command should not wait for."""
    return importlib.import_module("planwatch.service_requests.service")


@requests_app.command("load-types")
@reports_errors
def load_types(
    path: Annotated[
        Path | None,
        typer.Argument(help="A planwatch.service-types/v1 YAML file (default: the Chengdu example)."),
    ] = None,
) -> None:
    """Create or update the request types, their deadlines, departments and routing rules."""
    from planwatch.service_requests.catalogue import load_service_types  # see _service

    source = path or chengdu_path("service_types.yaml")
    with unit_of_work(Settings()) as session:
        report = load_service_types(session, source)
    if report.unchanged:
        console.print(f"{source.name}: nothing changed ({report.rules} routing rules)")
        return
    console.print(
        f"{source.name}: {report.types_created} types created, {report.types_updated} updated, "
        f"{report.departments_created} departments created, {report.rules} routing rules"
    )


@clients_app.command("add")
@reports_errors
def clients_add(
    name: Annotated[str, typer.Argument(help="The application's name, e.g. 'wechat-mini-program'.")],
) -> None:
    """Create a client and print its api_key once (only its hash is kept)."""
    create_client = _service().create_client
    with unit_of_work(Settings()) as session:
        _, key = create_client(session, name, actor=operator().name, now=system_clock())
    console.print(f"api_key for {name} (shown once; 请妥善保存): [bold]{key}[/bold]")


@clients_app.command("list")
@reports_errors
def clients_list(as_json: JsonOption = False) -> None:
    """Every client with its key prefix and whether it is revoked."""
    with unit_of_work(Settings()) as session:
        rows = [
            {
                "name": c.name,
                "prefix": c.prefix,
                "created_at": c.created_at.isoformat(),
                "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
            }
            for c in session.scalars(select(Open311Client).order_by(Open311Client.name))
        ]
    if as_json:
        print_json(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table("name", "key prefix", "created", "revoked")
    for row in rows:
        table.add_row(
            row["name"], row["prefix"], str(row["created_at"])[:10], str(row["revoked_at"] or "")[:10]
        )
    console.print(table)


@clients_app.command("revoke")
@reports_errors
def clients_revoke(name: str) -> None:
    """Revoke a client's key at once."""
    revoke_client = _service().revoke_client
    with unit_of_work(Settings()) as session:
        revoke_client(session, name, now=system_clock())
    console.print(f"revoked the api_key of {name}")


@requests_app.command("anonymise")
@reports_errors
def anonymise(
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="Days after closing (default PLANWATCH_REQUEST_PII_RETENTION_DAYS)."
        ),
    ] = None,
) -> None:
    """Erase the reporter's details of requests closed longer ago than the retention period."""
    anonymise_closed = _service().anonymise_closed
    settings = Settings()
    retention = days or settings.request_pii_retention_days
    with unit_of_work(settings) as session:
        count = anonymise_closed(session, now=system_clock(), retention_days=retention, actor=operator().name)
    console.print(f"anonymised {count} request(s) closed more than {retention} days ago")


@requests_app.command("write-metrics")
@reports_errors
def write_metrics(
    start: Annotated[
        str | None, typer.Option("--from", help="First month (YYYY-MM); default: the first request's.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last month (YYYY-MM); default: the last request's.")
    ] = None,
) -> None:
    """Write the monthly response, resolution, satisfaction and on-time rates per district and
    street as indicator values (re-running changes nothing)."""
    from planwatch.service_requests.metrics import (  # on use
        month_of,
        month_text,
        parse_month,
        write_request_indicators,
    )

    settings = Settings()
    with unit_of_work(settings) as session:
        first, last = session.execute(
            select(func.min(ServiceRequest.requested_at), func.max(ServiceRequest.requested_at))
        ).one()
        if first is None:
            console.print("no requests yet; nothing written")
            return
        begin = month_text(parse_month(start, "--from") if start else month_of(first))
        stop = month_text(parse_month(end, "--to") if end else month_of(last))
        written = write_request_indicators(
            session, start=begin, end=stop, actor=operator().name, now=system_clock(), settings=settings
        )
    console.print(f"request metrics (诉求办理指标) {begin}…{stop}: {written}")


@requests_app.command("classifier-check")
@reports_errors
def classifier_check(
    folds: Annotated[int, typer.Option("--folds", min=2, max=20, help="Cross-validation folds.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Cross-validate the type classifier on the confirmed request history (accuracy, macro F1,
    precision and recall per type)."""
    from planwatch.service_requests.classify import evaluate_classifier, labelled_history

    with unit_of_work(Settings()) as session:
        texts, labels = labelled_history(session)
    if len(texts) < folds * 2:
        raise InvalidValueError(f"only {len(texts)} confirmed requests; the check needs at least {folds * 2}")
    result = evaluate_classifier(texts, labels, folds=folds, seed=14)
    if as_json:
        print_json(json.dumps(result, ensure_ascii=False, indent=1))
        return
    console.print(f"{len(texts):,} confirmed requests, {folds}-fold cross-validation: "
                  f"accuracy {result['accuracy']:.3f}, macro F1 {result['macro_f1']:.3f}")  # fmt: skip
