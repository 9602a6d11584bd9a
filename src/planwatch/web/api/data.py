"""The JSON API of data collection: values, batch writes, file imports, templates, history,
approval, lock exceptions and data quality. Each route parses input and calls one service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from planwatch.accounts.policy import Operation
from planwatch.clock import as_utc
from planwatch.ingest import approval, lock_exceptions
from planwatch.ingest.duties import duties, template_file
from planwatch.ingest.quality import check_year
from planwatch.ingest.report import annotated_xlsx, problems_csv
from planwatch.ingest.service import (
    ImportReport,
    delete_value,
    get_import,
    get_value,
    import_file,
    import_problems,
    list_values,
    stored_report,
    value_history,
    write_items,
)
from planwatch.models import DataValue, DataValueAudit
from planwatch.models.enums import ApprovalUnitKind, Channel
from planwatch.plans.schemas import Number
from planwatch.web.deps import Id, NowDep, PrincipalDep, SessionDep, SettingsDep, requires

router = APIRouter(prefix="/api", tags=["data"])

Code = Annotated[str, Field(min_length=1, max_length=64)]
PeriodText = Annotated[str, Field(min_length=4, max_length=16)]


class ValueIn(BaseModel):
    """A value for one key. Unknown fields are refused; status and author are not yours to set."""

    model_config = ConfigDict(extra="forbid")

    value: Number | None = None
    numerator: Number | None = None
    denominator: Number | None = None
    comment: str | None = Field(default=None, max_length=2000)


class ItemIn(ValueIn):
    indicator: Code
    division: Code
    period: PeriodText


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[ItemIn] = Field(min_length=1, max_length=10_000)


class ValueOut(BaseModel):
    indicator: str
    division: str
    period: str
    value: float | None
    numerator: float | None
    denominator: float | None
    comment: str | None
    source: str
    status: str
    recorded_by: str
    recorded_at: datetime
    simulated: bool

    @classmethod
    def of(cls, row: DataValue) -> ValueOut:
        return cls(
            indicator=row.indicator.code,
            division=row.division.code,
            period=row.period,
            value=row.value,
            numerator=row.numerator,
            denominator=row.denominator,
            comment=row.comment,
            source=row.source.value,
            status=row.status.value,
            recorded_by=row.recorded_by,
            recorded_at=as_utc(row.recorded_at),
            simulated=row.source.value == "simulated",
        )


class ProblemOut(BaseModel):
    row: int | None
    column: str | None
    value: str
    message: str


class ReportOut(BaseModel):
    import_id: int | None
    file: str
    status: str
    dry_run: bool
    rows: int
    inserted: int
    updated: int
    unchanged: int
    blank: int
    forced: int
    errors: list[ProblemOut]
    errors_total: int
    warnings: list[ProblemOut]
    warnings_total: int
    notices: list[str]


class AuditOut(BaseModel):
    id: int
    at: datetime
    action: str
    indicator: str
    division: str
    period: str
    old_value: float | None
    new_value: float | None
    old_numerator: float | None
    new_numerator: float | None
    old_denominator: float | None
    new_denominator: float | None
    actor: str
    channel: str
    import_id: int | None
    forced: bool

    @classmethod
    def of(cls, row: DataValueAudit) -> AuditOut:
        return cls(
            id=row.id,
            at=as_utc(row.at),
            action=row.action.value,
            indicator=row.indicator_code,
            division=row.division_code,
            period=row.period,
            old_value=row.old_value,
            new_value=row.new_value,
            old_numerator=row.old_numerator,
            new_numerator=row.new_numerator,
            old_denominator=row.old_denominator,
            new_denominator=row.new_denominator,
            actor=row.actor,
            channel=row.channel.value,
            import_id=row.import_id,
            forced=row.forced,
        )


class UnitOut(BaseModel):
    unit: str
    name: str
    year: int
    state: str
    state_zh: str
    changed_by: str | None
    changed_at: datetime | None


class LockExceptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: Code
    division: Code
    period: PeriodText
    reason: str = Field(min_length=1, max_length=2000)
    days: int = Field(default=30, ge=1, le=366)


class LockExceptionOut(BaseModel):
    id: int
    period: str
    granted_by: str
    expires_at: datetime | None


class FindingOut(BaseModel):
    kind: str
    code: str
    importance: str
    division_code: str
    division_name: str
    period: str
    message: str


def _report(report: ImportReport) -> JSONResponse:
    return JSONResponse(report.to_json(), status_code=200 if report.ok else 422)


class ErrorDetail(BaseModel):
    type: str
    message: str
    code: str | None = None
    fields: list[dict[str, str]] | None = None


class ErrorOut(BaseModel):
    """How every error answers: ``{"error": {"type", "message"}}`` (``code`` for locks)."""

    error: ErrorDetail


REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ReportOut | ErrorOut,
        "description": "Rejected: the report lists every problem and nothing was written (or the request "
        "itself was malformed: an error body)",
    },
    409: {"description": "A value is approved, submitted or past its entry deadline (code in the error)"},
}


@router.get(
    "/data-values",
    response_model=list[ValueOut],
    summary="Values in your view scope, filtered by indicator, division, year",
    dependencies=[requires(Operation.data_read)],
)
def api_values(
    principal: PrincipalDep,
    session: SessionDep,
    indicator: Annotated[str | None, Query(max_length=64)] = None,
    division: Annotated[str | None, Query(max_length=32)] = None,
    year: Annotated[int | None, Query(ge=1949, le=2100)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[ValueOut]:
    rows = list_values(
        session,
        principal=principal,
        indicator=indicator,
        division=division,
        year=year,
        limit=limit,
        offset=offset,
    )
    return [ValueOut.of(row) for row in rows]


@router.get(
    "/data-values/{indicator}/{division}/{period}",
    response_model=ValueOut,
    summary="One value",
    dependencies=[requires(Operation.data_read)],
)
def api_value(
    indicator: str, division: str, period: str, principal: PrincipalDep, session: SessionDep
) -> ValueOut:
    return ValueOut.of(get_value(session, indicator, division, period, principal=principal))


@router.put(
    "/data-values/{indicator}/{division}/{period}",
    response_model=ValueOut,
    summary="Set one value (validated like a file row, audited)",
    dependencies=[requires(Operation.data_write)],
    responses=REPORT_RESPONSES,
)
def api_put_value(
    indicator: str,
    division: str,
    period: str,
    body: ValueIn,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response | ValueOut:
    item = {
        "indicator": indicator,
        "division": division,
        "period": period,
        **body.model_dump(exclude_unset=True),
    }
    report = write_items(
        session, [item], principal=principal, channel=Channel.api, settings=settings, now=now
    )
    if not report.ok:
        return _report(report)
    return ValueOut.of(get_value(session, indicator, division, period, principal=principal))


@router.delete(
    "/data-values/{indicator}/{division}/{period}",
    status_code=204,
    summary="Delete one value (softly: it stays in the audit trail)",
    dependencies=[requires(Operation.data_write)],
)
def api_delete_value(
    indicator: str,
    division: str,
    period: str,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    delete_value(
        session,
        indicator,
        division,
        period,
        principal=principal,
        channel=Channel.api,
        settings=settings,
        now=now,
    )
    return Response(status_code=204)


@router.post(
    "/data-values",
    response_model=ReportOut,
    summary="Write many values at once: all or none",
    dependencies=[requires(Operation.data_write)],
    responses=REPORT_RESPONSES,
)
def api_batch(
    body: BatchIn, principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> Response:
    items = [item.model_dump(exclude_unset=True) for item in body.values]
    return _report(
        write_items(session, items, principal=principal, channel=Channel.api, settings=settings, now=now)
    )


@router.post(
    "/data-values/import",
    response_model=ReportOut,
    summary="Import a CSV or XLSX file (multipart field `file`): validated, then all rows or none",
    dependencies=[requires(Operation.data_write)],
    responses=REPORT_RESPONSES,
)
async def api_import(
    file: Annotated[UploadFile, File(description="CSV (UTF-8/GB18030) or XLSX")],
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    dry_run: Annotated[bool, Query(description="Check everything, write nothing")] = False,
) -> Response:
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
    return _report(report)


@router.get(
    "/imports/{import_id}",
    response_model=ReportOut,
    summary="The report of an earlier import (yours, or any for planners)",
    dependencies=[requires(Operation.data_write)],
)
def api_import_report(import_id: Id, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    return stored_report(get_import(session, import_id, principal=principal))


@router.get(
    "/imports/{import_id}/report.xlsx",
    summary="The uploaded file annotated with every problem (red: errors, yellow: warnings)",
    dependencies=[requires(Operation.data_write)],
    response_class=Response,
)
def api_import_annotated(import_id: Id, principal: PrincipalDep, session: SessionDep) -> Response:
    row = get_import(session, import_id, principal=principal)
    table, problems = import_problems(row)
    if table is None:
        return Response(
            problems_csv(problems),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{row.id}-problems.csv"'},
        )
    return Response(
        annotated_xlsx(table, problems, title=f"{row.filename} 导入检查报告"),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="import-{row.id}-report.xlsx"'},
    )


@router.get(
    "/data-values/template",
    summary="The template a department or district fills in (one row per value owed)",
    dependencies=[requires(Operation.data_write)],
    response_class=Response,
)
def api_template(
    principal: PrincipalDep,
    session: SessionDep,
    year: Annotated[int, Query(ge=1949, le=2100)],
    department: Annotated[str | None, Query(max_length=64)] = None,
    division: Annotated[str | None, Query(max_length=32)] = None,
    format: Annotated[str, Query(pattern="^(xlsx|csv)$")] = "xlsx",
) -> Response:
    duty = duties(session, year=year, principal=principal, department=department, division=division)
    name, data, media_type = template_file(duty, format)
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/data-values/{indicator}/{division}/{period}/history",
    response_model=list[AuditOut],
    summary="Every change of one value (the audit trail), newest first",
    dependencies=[requires(Operation.data_read)],
)
def api_value_history(
    indicator: str, division: str, period: str, principal: PrincipalDep, session: SessionDep
) -> list[AuditOut]:
    return [AuditOut.of(r) for r in value_history(session, indicator, division, period, principal=principal)]


def _unit_out(status: approval.UnitStatus) -> UnitOut:
    return UnitOut(
        unit=status.unit.key,
        name=status.unit.name,
        year=status.year,
        state=status.state.value,
        state_zh=status.state.zh,
        changed_by=status.changed_by,
        changed_at=as_utc(status.changed_at) if status.changed_at else None,
    )


@router.get(
    "/approvals",
    response_model=list[UnitOut],
    summary="Approval state of the units you report for, approve or view",
    dependencies=[requires(Operation.data_read)],
)
def api_approvals(
    principal: PrincipalDep, session: SessionDep, year: Annotated[int, Query(ge=1949, le=2100)]
) -> list[UnitOut]:
    return [_unit_out(s) for s in approval.list_units(session, year, principal=principal)]


@router.post(
    "/approvals/{kind}/{code}/{year}/{action}",
    response_model=UnitOut,
    summary="submit, withdraw, approve or unapprove a unit's year",
    dependencies=[requires(Operation.data_write)],
)
def api_approval_action(
    kind: ApprovalUnitKind,
    code: Annotated[str, Path(max_length=64)],
    year: Annotated[int, Path(ge=1949, le=2100)],
    action: Annotated[str, Path(pattern="^(submit|withdraw|approve|unapprove)$")],
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> UnitOut:
    unit = approval.find_unit(session, kind, code)
    return _unit_out(approval.transition(session, unit, year, action, principal=principal, now=now))


@router.post(
    "/lock-exceptions",
    response_model=LockExceptionOut,
    status_code=201,
    summary="Reopen one closed cell for late or corrected data (补录例外)",
    dependencies=[requires(Operation.data_approve)],
)
def api_grant_exception(
    body: LockExceptionIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> LockExceptionOut:
    row = lock_exceptions.grant(
        session,
        body.indicator,
        body.division,
        body.period,
        reason=body.reason,
        principal=principal,
        now=now,
        days=body.days,
    )
    return LockExceptionOut(
        id=row.id, period=row.period, granted_by=row.granted_by, expires_at=row.expires_at
    )


@router.delete(
    "/lock-exceptions/{exception_id}",
    status_code=204,
    summary="Close a reopened cell again",
    dependencies=[requires(Operation.data_approve)],
)
def api_revoke_exception(
    exception_id: Id, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> Response:
    lock_exceptions.revoke(session, exception_id, principal=principal, now=now)
    return Response(status_code=204)


@router.get(
    "/data-quality",
    response_model=list[FindingOut],
    summary="Validation-rule violations and outliers of a year (warnings), in your view scope",
    dependencies=[requires(Operation.data_read)],
)
def api_data_quality(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    year: Annotated[int, Query(ge=1949, le=2100)],
) -> list[FindingOut]:
    found = check_year(session, year, threshold=settings.outlier_threshold, view=principal.view)
    return [FindingOut(**v.__dict__) for v in found]
