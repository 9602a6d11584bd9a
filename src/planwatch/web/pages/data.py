"""Data collection pages (数据填报): the template and upload hub, an import's outcome, one value's
form and history, and the approval workflow. Plain HTML forms; each handler calls the same service
functions as its JSON twin in ``web/api/data.py``, and the services check the policy and the scopes.

Flash messages travel signed in the redirect's query string, as on the account pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.errors import LockedError, NotFoundError
from planwatch.ingest import approval
from planwatch.ingest.duties import duties, template_file
from planwatch.ingest.service import (
    get_import,
    get_value,
    history,
    import_file,
    value_history,
    write_items,
)
from planwatch.models import DataValue, DataValueAudit
from planwatch.models.enums import ApprovalUnitKind, Channel, ImportStatus
from planwatch.web.deps import Id, LanguageDep, NowDep, PrincipalDep, SessionDep, SettingsDep, requires
from planwatch.web.i18n import translator
from planwatch.web.pages.flash import flash, signature
from planwatch.web.pages.routes import render

router = APIRouter(include_in_schema=False)

Year = Annotated[int | None, Query(ge=1949, le=2100)]
Code = Annotated[str, Query(max_length=64)]
ENTRY_FIELDS = ("indicator", "division", "period", "value", "numerator", "denominator", "comment")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _done(principal: Principal, path: str, params: dict[str, str], *, ok: str) -> Response:
    """303 to ``path`` with ``params`` and a signed flash message for this session."""
    query = {**params, "ok": ok[:500]}
    if principal.csrf_token:
        query["sig"] = signature(principal.csrf_token, "ok", query["ok"])
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


def _key_query(indicator: str, division: str, period: str) -> str:
    return urlencode({"indicator": indicator, "division": division, "period": period})


# ---------------------------------------------------------------- hub: template and upload


@router.get("/data", response_class=HTMLResponse, dependencies=[requires(Operation.data_write)])
def data_hub(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    lang: LanguageDep,
    year: Year = None,
) -> Response:
    return _no_store(
        render(
            request,
            "data_hub.html",
            lang,
            principal=principal,
            csrf_token=principal.csrf_token or "",
            year=year or now.year,
            units=approval.reporting_units(session, principal=principal),
        )
    )


@router.get("/data/template", dependencies=[requires(Operation.data_write)])
def data_template(
    principal: PrincipalDep,
    session: SessionDep,
    year: Annotated[int, Query(ge=1949, le=2100)],
    unit: Annotated[str, Query(pattern="^(division|department):[^:]{1,64}$")],
    format: Annotated[str, Query(pattern="^(xlsx|csv)$")] = "xlsx",
) -> Response:
    """The page twin of GET /api/data-values/template: ``unit`` is an approval unit key."""
    kind, _, code = unit.partition(":")
    duty = duties(
        session,
        year=year,
        principal=principal,
        department=code if kind == ApprovalUnitKind.department.value else None,
        division=code if kind == ApprovalUnitKind.division.value else None,
    )
    name, data, media_type = template_file(duty, format)
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post("/data/import", dependencies=[requires(Operation.data_write)])
async def data_import(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    file: Annotated[UploadFile, File()],
    lang: LanguageDep,
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    """An upload that changed values or was rejected is recorded and shown on its own page; a dry
    run or an upload that changes nothing is recorded nowhere and shown at once."""
    data = await file.read()
    report = await run_in_threadpool(
        import_file,
        session,
        data,
        file.filename or "upload",
        principal=principal,
        channel=Channel.file,
        settings=settings,
        now=now,
        dry_run=dry_run,
    )
    if report.import_id is not None:
        return RedirectResponse(f"/data/imports/{report.import_id}", status_code=303)
    summary = report.to_json()
    row = UnrecordedImport(
        id=None,
        filename=report.file,
        actor=principal.username,
        at=now,
        status=report.status,
        rows=report.rows,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=len(report.errors),
        warnings=len(report.warnings),
    )
    return _no_store(
        render(request, "data_import.html", lang, principal=principal, row=row, report=summary, written=[])
    )


@dataclass(frozen=True)
class UnrecordedImport:
    """The outcome of a dry run or of an upload that changed nothing, shown like a recorded one."""

    id: None
    filename: str
    actor: str
    at: datetime
    status: ImportStatus
    rows: int
    inserted: int
    updated: int
    unchanged: int
    errors: int
    warnings: int


@router.get(
    "/data/imports/{import_id}", response_class=HTMLResponse, dependencies=[requires(Operation.data_write)]
)
def data_import_report(
    request: Request, import_id: Id, principal: PrincipalDep, session: SessionDep, lang: LanguageDep
) -> Response:
    row = get_import(session, import_id, principal=principal)
    return _no_store(
        render(
            request,
            "data_import.html",
            lang,
            principal=principal,
            row=row,
            report=dict(row.report or {}),
            written=history(session, import_id=row.id, limit=200),
        )
    )


# ---------------------------------------------------------------- one value


def _entry_form(
    request: Request,
    principal: Principal,
    lang: str,
    form: dict[str, str],
    *,
    current: DataValue | None = None,
    problems: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    return _no_store(
        render(
            request,
            "data_entry.html",
            lang,
            status_code=status_code,
            principal=principal,
            csrf_token=principal.csrf_token or "",
            form=form,
            current=current,
            problems=problems or [],
            history_query=_key_query(form["indicator"], form["division"], form["period"]),
        )
    )


def _current(
    session: Session, principal: Principal, indicator: str, division: str, period: str
) -> DataValue | None:
    """The stored value of a key, if the key is complete, known and visible; else None."""
    if not (indicator and division and period):
        return None
    try:
        return get_value(session, indicator, division, period, principal=principal)
    except NotFoundError:
        return None


@router.get("/data/entry", response_class=HTMLResponse, dependencies=[requires(Operation.data_write)])
def data_entry(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    lang: LanguageDep,
    indicator: Code = "",
    division: Code = "",
    period: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    current = _current(session, principal, indicator, division, period)
    form = {"indicator": indicator, "division": division, "period": period}
    for name in ("value", "numerator", "denominator", "comment"):
        stored = getattr(current, name, None) if current is not None else None
        form[name] = "" if stored is None else (stored if isinstance(stored, str) else f"{stored:.15g}")
    return _entry_form(request, principal, lang, form, current=current)


@router.post("/data/entry", response_class=HTMLResponse, dependencies=[requires(Operation.data_write)])
def data_entry_submit(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lang: LanguageDep,
    indicator: Annotated[str, Form(min_length=1, max_length=64)],
    division: Annotated[str, Form(min_length=1, max_length=64)],
    period: Annotated[str, Form(min_length=1, max_length=16)],
    value: Annotated[str, Form(max_length=64)] = "",
    numerator: Annotated[str, Form(max_length=64)] = "",
    denominator: Annotated[str, Form(max_length=64)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Validated like a file row (channel ``page``); problems are shown on the form."""
    t = translator(lang)
    given = [indicator, division, period, value, numerator, denominator, comment]
    form = {name: text.strip() for name, text in zip(ENTRY_FIELDS, given, strict=True)}
    item: dict[str, Any] = {name: form[name] or None for name in ENTRY_FIELDS}
    try:
        report = write_items(
            session, [item], principal=principal, channel=Channel.page, settings=settings, now=now
        )
    except LockedError as exc:  # answered on the form; nothing was written
        problems = [{"column": "period", "value": form["period"], "message": exc.message}]
        return _entry_form(request, principal, lang, form, problems=problems, status_code=409)
    if not report.ok:
        problems = [report.problem_json(p) for p in report.errors]
        return _entry_form(request, principal, lang, form, problems=problems, status_code=422)
    saved_period = get_value(
        session, form["indicator"], form["division"], form["period"], principal=principal
    ).period
    key = f"{form['indicator']} / {form['division']} / {saved_period}"
    return _done(
        principal,
        "/data/history",
        {"indicator": form["indicator"], "division": form["division"], "period": saved_period},
        ok=t(f"entry_result.{report.status.value}").format(key=key),
    )


@router.get("/data/history", response_class=HTMLResponse, dependencies=[requires(Operation.data_read)])
def data_history(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    lang: LanguageDep,
    indicator: Code = "",
    division: Code = "",
    period: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The page twin of GET /api/data-values/{indicator}/{division}/{period}/history."""
    rows: list[DataValueAudit] = []
    if indicator and division:
        rows = value_history(session, indicator, division, period, principal=principal)
    return _no_store(
        render(
            request,
            "data_history.html",
            lang,
            principal=principal,
            query={"indicator": indicator, "division": division, "period": period},
            current=_current(session, principal, indicator, division, period),
            rows=rows,
            can_write=principal.can(Operation.data_write),
            entry_query=_key_query(indicator, division, period),
            flash=flash(request, principal),
        )
    )


# ---------------------------------------------------------------- approval


@router.get("/data/approvals", response_class=HTMLResponse, dependencies=[requires(Operation.data_read)])
def data_approvals(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    lang: LanguageDep,
    year: Year = None,
) -> Response:
    year = year or now.year
    statuses = approval.list_units(session, year, principal=principal)
    return _no_store(
        render(
            request,
            "data_approvals.html",
            lang,
            principal=principal,
            csrf_token=principal.csrf_token or "",
            year=year,
            units=[(s, approval.available_actions(s, principal=principal)) for s in statuses],
            flash=flash(request, principal),
        )
    )


@router.post("/data/approvals/{kind}/{code}/{year}/{action}", dependencies=[requires(Operation.data_write)])
def data_approval_action(
    kind: ApprovalUnitKind,
    code: Annotated[str, Path(max_length=64)],
    year: Annotated[int, Path(ge=1949, le=2100)],
    action: Annotated[str, Path(pattern="^(submit|withdraw|approve|unapprove)$")],
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    lang: LanguageDep,
) -> Response:
    """A refused or conflicting step raises: the error page says why (404 out of scope, 409 state)."""
    unit = approval.find_unit(session, kind, code)
    status = approval.transition(session, unit, year, action, principal=principal, now=now)
    t = translator(lang)
    message = t("flash.approval").format(
        unit=f"{unit.name} ({unit.code})",
        year=year,
        action=t(f"approval_action.{action}"),
        state=t(f"approval.{status.state.value}"),
    )
    return _done(principal, "/data/approvals", {"year": str(year)}, ok=message)
