"""Importing files and writing values through the services, on SQLite and PostgreSQL: all rows or
none, every change audited in the same transaction, the audit append-only and verifiable."""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy.exc
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from planwatch.accounts.principal import Principal
from planwatch.config import Settings
from planwatch.db import make_engine, session_factory, transaction
from planwatch.errors import NotFoundError
from planwatch.evaluation.service import OPERATOR, breakdown
from planwatch.ingest.service import (
    ImportReport,
    delete_value,
    get_value,
    history,
    import_file,
    verify_data_audit,
    write_items,
)
from planwatch.ingest.writer import KEEP, ValueChange, Writer, write_values
from planwatch.models import DataValue, DataValueAudit, Division, Import, Indicator, Target
from planwatch.models.enums import AuditAction, Channel, ImportStatus, Role
from tests.conftest import settings_for
from tests.ingest.factories import (
    CITY,
    HEADER,
    JINJIANG,
    OPEN_2025,
    QINGYANG,
    STREET,
    collection_database,
    csv_bytes,
    district_rows,
    principal,
    xlsx_bytes,
)

BEDS = "inclusive_elderly_beds"  # district level, unit 张, a count, reported by CDMZJ
SHARE = "nursing_bed_share"  # district level, %, ratio × 100 of a share, CDMZJ


def run(
    db: Session,
    data: bytes,
    name: str = "data.csv",
    *,
    settings: Settings,
    who: Principal | None = None,
    dry_run: bool = False,
) -> ImportReport:
    return import_file(
        db,
        data,
        name,
        principal=who or principal(db),
        channel=Channel.file,
        settings=settings,
        now=OPEN_2025,
        dry_run=dry_run,
    )


def every_row(db: Session) -> dict[str, int]:
    """Rows in every table that an import could touch."""
    from planwatch.models import AuditChainHead, ImportFile, SecurityEvent

    tables = (DataValue, DataValueAudit, Import, ImportFile, SecurityEvent)
    out = {t.__tablename__: db.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
    heads = db.execute(select(AuditChainHead.chain, AuditChainHead.hash).order_by(AuditChainHead.chain))
    out["chain heads"] = hash(tuple(tuple(h) for h in heads))
    return out


def counts(db: Session) -> tuple[int, int]:
    """(data values, audit rows) in the database."""
    values = db.scalar(select(func.count()).select_from(DataValue)) or 0
    audits = db.scalar(select(func.count()).select_from(DataValueAudit)) or 0
    return values, audits


def errors(report: ImportReport) -> list[dict[str, Any]]:
    return list(report.to_json()["errors"])


# —— valid files ————————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_valid_file_inserts_and_audits_each_change_with_the_import_id(
    db: Session, settings: Settings, kind: str
) -> None:
    rows = district_rows()
    data = csv_bytes(rows) if kind == "csv" else xlsx_bytes(rows)
    report = run(db, data, f"beds.{kind}", settings=settings)
    assert report.ok, errors(report)
    assert (report.status, report.inserted, report.updated, report.unchanged) == (
        ImportStatus.applied,
        20,
        0,
        0,
    )
    assert counts(db) == (20, 20)
    audits = db.scalars(select(DataValueAudit).order_by(DataValueAudit.id)).all()
    assert {a.import_id for a in audits} == {report.import_id}
    assert {(a.action, a.channel, a.actor, a.forced) for a in audits} == {
        (AuditAction.create, Channel.file, "tester", False)
    }
    assert sorted((a.division_code, a.new_value) for a in audits) == sorted((r[1], float(r[3])) for r in rows)
    assert all(a.old_value is None for a in audits)
    stored = db.get(Import, report.import_id)
    assert stored is not None
    assert (stored.status, stored.inserted, stored.rows) == (ImportStatus.applied, 20, 20)
    assert verify_data_audit(db).broken_at is None


@pytest.fixture
def own_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of its own, so a test can commit or fail a transaction and look from outside."""
    engine = make_engine(collection_database(backend, tmp_path_factory, "own_txn"))
    yield engine
    engine.dispose()


class CrashError(Exception):
    pass


def _import_then_crash(engine: Engine, settings: Settings, seen: list[tuple[int, ...]]) -> None:
    with transaction(session_factory(engine)) as session:
        report = run(session, csv_bytes(district_rows()), settings=settings)
        seen.append((report.inserted, *counts(session)))
        raise CrashError  # the process fails after the write, before the commit


def test_values_and_audit_rows_are_one_transaction(own_engine: Engine, settings: Settings) -> None:
    seen: list[tuple[int, ...]] = []
    with pytest.raises(CrashError):
        _import_then_crash(own_engine, settings, seen)
    assert seen == [(20, 20, 20)]  # both were written inside the transaction ...
    with transaction(session_factory(own_engine)) as session:
        assert counts(session) == (0, 0)  # ... and neither survived it


def _import(engine: Engine, settings: Settings) -> None:
    with transaction(session_factory(engine)) as session:
        run(session, csv_bytes(district_rows()), settings=settings)


def test_audit_failure_writes_no_value(
    own_engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from planwatch.ingest import writer

    values_before_audit: list[int] = []

    def broken(session: Session, *args: object, **kwargs: object) -> None:
        values_before_audit.append(session.scalar(select(func.count()).select_from(DataValue)) or 0)
        raise RuntimeError("audit store unavailable")

    chain_appends = [name for name in vars(writer) if name.startswith("advance")]
    assert chain_appends  # the writer appends to the hash chain through audit.chain.advance*
    for name in chain_appends:
        monkeypatch.setattr(writer, name, broken)
    with (
        pytest.raises(RuntimeError, match="audit store unavailable"),
        transaction(session_factory(own_engine)) as session,
    ):
        run(session, csv_bytes(district_rows()), settings=settings)
    assert values_before_audit == [20]  # the values were already written when the audit failed
    with transaction(session_factory(own_engine)) as session:
        assert counts(session) == (0, 0)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_importing_the_same_file_twice_changes_nothing(db: Session, settings: Settings, kind: str) -> None:
    data = csv_bytes(district_rows()) if kind == "csv" else xlsx_bytes(district_rows())
    first = run(db, data, f"beds.{kind}", settings=settings)
    assert first.inserted == 20
    before = every_row(db)
    again = run(db, data, f"beds.{kind}", settings=settings)
    assert again.ok
    assert (again.status, again.inserted, again.updated, again.unchanged) == (
        ImportStatus.unchanged,
        0,
        0,
        20,
    )
    assert again.import_id is None  # no import record either: nothing at all was written
    assert every_row(db) == before


def test_a_rejected_file_sent_again_adds_nothing(db: Session, settings: Settings) -> None:
    rows = district_rows()
    rows[2] = (*rows[2][:3], -5, *rows[2][4:])
    first = run(db, csv_bytes(rows), settings=settings)
    assert first.status is ImportStatus.rejected
    assert first.import_id is not None  # kept: who sent what and why it failed, for the annotated report
    before = every_row(db)
    again = run(db, csv_bytes(rows), settings=settings)
    assert (again.status, again.import_id) == (ImportStatus.rejected, first.import_id)
    assert every_row(db) == before


def test_changed_file_updates_only_the_changed_rows(db: Session, settings: Settings) -> None:
    rows = district_rows()
    run(db, csv_bytes(rows), settings=settings)
    rows[3] = (*rows[3][:3], 999, *rows[3][4:])
    report = run(db, csv_bytes(rows), settings=settings)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 19)
    [audit] = db.scalars(select(DataValueAudit).where(DataValueAudit.import_id == report.import_id)).all()
    assert (audit.action, audit.division_code, audit.old_value, audit.new_value) == (
        AuditAction.update,
        rows[3][1],
        103.0,
        999.0,
    )


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_second_half_broken_writes_nothing_and_names_every_bad_row(
    db: Session, settings: Settings, kind: str
) -> None:
    rows = district_rows()
    broken = rows[:10] + [(r[0], r[1], r[2], f"{r[3]}件", *r[4:]) for r in rows[10:]]
    data = csv_bytes(broken) if kind == "csv" else xlsx_bytes(broken)
    report = run(db, data, f"half.{kind}", settings=settings)
    assert not report.ok
    assert report.status is ImportStatus.rejected
    assert (report.inserted, report.updated) == (0, 0)
    assert counts(db) == (0, 0)
    problems = errors(report)
    assert [p["row"] for p in problems] == list(range(12, 22))  # header is row 1
    assert {p["column"] for p in problems} == {"数值"}
    assert problems[0]["value"] == "110件"
    assert "not a number" in problems[0]["message"]


def test_dry_run_counts_but_writes_nothing(db: Session, settings: Settings) -> None:
    data = csv_bytes(district_rows())
    before = every_row(db)
    report = run(db, data, settings=settings, dry_run=True)
    assert report.ok
    assert (report.status, report.dry_run, report.inserted) == (ImportStatus.dry_run, True, 20)
    assert every_row(db) == before
    run(db, data, settings=settings)
    changed = [(*r[:3], r[3] + 1000, *r[4:]) for r in district_rows()[:5]]
    again = run(db, csv_bytes(changed), settings=settings, dry_run=True)
    assert (again.inserted, again.updated, again.unchanged) == (0, 5, 0)
    assert counts(db) == (20, 20)
    assert db.scalar(select(func.max(DataValue.value))) == 119.0


# —— row-level refusals ——————————————————————————————————————————————————————————————————

REFUSED = [
    pytest.param(("no_such_indicator", JINJIANG, "2025", 5, "", "", ""), "指标代码", "no indicator", id="unknown-indicator"),
    pytest.param(("护理型床位占比", JINJIANG, "2025", 5, "", "", ""), "指标代码", "write the code nursing_bed_share", id="indicator-name"),
    pytest.param((BEDS, "999999", "2025", 5, "", "", ""), "区划代码", "no division", id="unknown-division"),
    pytest.param((BEDS, STREET, "2025", 5, "", "", ""), "区划代码", "is reported per", id="street-for-district-indicator"),
    pytest.param((BEDS, CITY, "2025", 5, "", "", ""), "区划代码", "is reported per", id="city-for-district-indicator"),
    pytest.param((BEDS, JINJIANG, "2025Q2", 5, "", "", ""), "期间", "not a annual period", id="quarter-for-annual"),
    pytest.param((BEDS, JINJIANG, "2025-05", 5, "", "", ""), "期间", "write it like 2025", id="month-for-annual"),
    pytest.param((BEDS, JINJIANG, "", 5, "", "", ""), "期间", "period is missing", id="no-period"),
    pytest.param((BEDS, JINJIANG, "2025", -5, "", "", ""), "数值", "cannot be below 0", id="negative-count"),
    pytest.param((BEDS, JINJIANG, "2025", "12.5%", "", "", ""), "数值", "written as a percentage", id="percent-for-count"),
    pytest.param((BEDS, JINJIANG, "2025", "十二", "", "", ""), "数值", "not a number", id="chinese-numeral"),
    pytest.param((SHARE, JINJIANG, "2025", "", 30, 20, ""), "分子", "exceeds the denominator", id="numerator-over-denominator"),
    pytest.param((SHARE, JINJIANG, "2025", 50, 1, 4, ""), "数值", "does not match", id="value-not-num-over-den"),
    pytest.param((SHARE, JINJIANG, "2025", 25, "", 4, ""), "分子", "numerator) is missing", id="ratio-without-numerator"),
    pytest.param((SHARE, JINJIANG, "2025", "", 1, 0, ""), "分母", "greater than 0", id="zero-denominator"),
    pytest.param((BEDS, JINJIANG, "2025", 5, 1, 2, ""), "分子", "not a ratio", id="numerator-for-count"),
    pytest.param((BEDS, JINJIANG, "2025", 5, "", "", "个"), "单位", "is reported in 张", id="unit-mismatch"),
    pytest.param(("law_city_status", CITY, "2025", 2, "", "", ""), "数值", "write 1 for yes", id="yes-no-not-0-or-1"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "column", "message"), REFUSED)
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_bad_row_is_refused_naming_row_and_column(
    db: Session, settings: Settings, kind: str, row: tuple[object, ...], column: str, message: str
) -> None:
    good = (BEDS, QINGYANG, "2025", 7, "", "", "")
    rows = [good, row]
    data = (
        csv_bytes(rows) if kind == "csv" else xlsx_bytes([[None if c == "" else c for c in r] for r in rows])
    )
    report = run(db, data, f"bad.{kind}", settings=settings)
    assert not report.ok
    assert counts(db) == (0, 0)  # the good row 2 is not written either
    problems = errors(report)
    assert problems, report.to_json()
    assert {p["row"] for p in problems} == {3}
    hit = [p for p in problems if p["column"] == column]
    assert hit, problems
    assert message in hit[0]["message"], hit[0]["message"]


@pytest.mark.parametrize(
    ("row", "stored"),
    [
        pytest.param((BEDS, JINJIANG, "2025", "1,234", "", "", ""), 1234.0, id="thousands-separator"),
        pytest.param((BEDS, JINJIANG, "2025", "１２３", "", "", ""), 123.0, id="full-width-digits"),
        pytest.param((BEDS, JINJIANG, "2025年", " 42 ", "", "", "张"), 42.0, id="year-suffix-and-spaces"),
        pytest.param((SHARE, JINJIANG, "2025", "12.5%", 1, 8, "%"), 12.5, id="percent-sign"),
        pytest.param((SHARE, JINJIANG, "2025", "", 1, 8, "％"), 12.5, id="computed-from-ratio"),
        pytest.param((SHARE, JINJIANG, "2025", "12.50", "１", "８", ""), 12.5, id="full-width-ratio"),
    ],
)
def test_number_spellings_are_accepted(
    db: Session, settings: Settings, row: tuple[object, ...], stored: float
) -> None:
    report = run(db, csv_bytes([row]), settings=settings)
    assert report.ok, errors(report)
    assert report.inserted == 1
    assert db.scalar(select(DataValue.value)) == pytest.approx(stored)


def test_numbers_stored_as_text_in_a_workbook_are_read_with_a_notice(db: Session, settings: Settings) -> None:
    data = xlsx_bytes(
        [(BEDS, JINJIANG, "2025", "1,234", None, None, "张"), (BEDS, QINGYANG, 2025, "56", None, None, None)]
    )
    report = run(db, data, "text.xlsx", settings=settings)
    assert report.ok, errors(report)
    assert report.inserted == 2
    assert any("stored as text" in n for n in report.notices)
    assert sorted(db.scalars(select(DataValue.value))) == [56.0, 1234.0]


def test_codes_and_years_typed_as_numbers_in_a_workbook_are_read(db: Session, settings: Settings) -> None:
    data = xlsx_bytes(
        [
            (BEDS, int(JINJIANG), 2025, 5, None, None, None),
            (BEDS, float(QINGYANG), 2025.0, 6.0, None, None, None),
        ]
    )
    report = run(db, data, "numbers.xlsx", settings=settings)
    assert report.ok, errors(report)
    assert report.inserted == 2


def test_chinese_header_aliases_are_accepted(db: Session, settings: Settings) -> None:
    header = ("指标", "区划", "年份", "数值")
    data = csv_bytes([(BEDS, JINJIANG, "2025", 3)], header=header, bom=False)
    report = run(db, data, settings=settings)
    assert report.ok, errors(report)
    assert report.inserted == 1


def test_gbk_csv_is_read_and_reported(db: Session, settings: Settings) -> None:
    data = csv_bytes([(BEDS, JINJIANG, "2025", 3, "", "", "张")], bom=False).decode("utf-8").encode("gbk")
    report = run(db, data, settings=settings)
    assert report.ok, errors(report)
    assert any("GB18030" in n for n in report.notices)


def test_duplicate_key_in_one_file_is_refused(db: Session, settings: Settings) -> None:
    rows = [
        (BEDS, JINJIANG, "2025", 3, "", "", ""),
        (BEDS, QINGYANG, "2025", 4, "", "", ""),
        (BEDS, JINJIANG, "2025年", 5, "", "", ""),
    ]
    report = run(db, csv_bytes(rows), settings=settings)
    assert counts(db) == (0, 0)
    [problem] = errors(report)
    assert (problem["row"], problem["column"]) == (4, "期间")
    assert "already given in row 2" in problem["message"]


def test_district_reporter_cannot_report_another_district(db: Session, settings: Settings) -> None:
    jinjiang = principal(db, role=Role.district_reporter, capture=[JINJIANG])
    rows = [(BEDS, JINJIANG, "2025", 3, "", "", ""), (BEDS, QINGYANG, "2025", 4, "", "", "")]
    report = run(db, csv_bytes(rows), settings=settings, who=jinjiang)
    assert counts(db) == (0, 0)
    [problem] = errors(report)
    assert (problem["row"], problem["column"], problem["value"]) == (3, "区划代码", QINGYANG)
    assert "outside your scope" in problem["message"]
    alone = run(db, csv_bytes(rows[:1]), settings=settings, who=jinjiang)
    assert alone.ok
    assert alone.inserted == 1


def test_department_reporter_cannot_report_another_departments_indicator(
    db: Session, settings: Settings
) -> None:
    mzj = principal(db, role=Role.department_reporter, capture=[CITY], departments=["CDMZJ"])
    rows = [(BEDS, JINJIANG, "2025", 3, "", "", ""), ("city_new_scenarios", CITY, "2025", 4, "", "", "")]
    report = run(db, csv_bytes(rows), settings=settings, who=mzj)
    assert counts(db) == (0, 0)
    [problem] = errors(report)
    assert (problem["row"], problem["column"]) == (3, "区划代码")
    assert "you may not report city_new_scenarios" in problem["message"]
    alone = run(db, csv_bytes(rows[:1]), settings=settings, who=mzj)
    assert alone.ok
    assert alone.inserted == 1


def test_reviewer_cannot_import(db: Session, settings: Settings) -> None:
    from planwatch.errors import ForbiddenError

    reviewer = principal(db, role=Role.reviewer)
    with pytest.raises(ForbiddenError):
        run(db, csv_bytes(district_rows()), settings=settings, who=reviewer)
    assert counts(db) == (0, 0)


# —— bad files through the import path ——————————————————————————————————————————————————


def _xlsx_with_formula(*, cached: str | None) -> bytes:
    """A workbook whose value cell holds =100+20, with or without the stored result Excel saves."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(HEADER[:4]))
    sheet.append([BEDS, JINJIANG, "2025", "=100+20"])
    out = io.BytesIO()
    workbook.save(out)
    if cached is None:
        return out.getvalue()
    return _rewrite(
        out.getvalue(),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b"</f>", f"</f><v>{cached}</v>".encode()),
    )


def _rewrite(data: bytes, member: str, change: Any) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info.filename, change(content) if info.filename == member else content)
    return out.getvalue()


def _zip_bomb() -> bytes:
    """A valid workbook plus a part that unpacks 1000 times larger than it is stored."""
    base = xlsx_bytes([(BEDS, JINJIANG, "2025", 1, "", "", "")])
    out = io.BytesIO(base)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.xml", b" " * (8 * 2**20))
    return out.getvalue()


def _xml_entities(member: str) -> bytes:
    """A workbook whose ``member`` declares nested entities (billion laughs) and uses them."""
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    )
    base = xlsx_bytes([(BEDS, JINJIANG, "2025", "&lol3;", "", "", "")])

    def inject(xml: bytes) -> bytes:
        body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
        return laughs + body.replace(b"&amp;lol3;", b"&lol3;")

    return _rewrite(base, member, inject)


BAD_FILES = [
    pytest.param(b"indicator,division\n", "data.txt", "are not accepted", id="wrong-type"),
    pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "data.xls", "Excel 97", id="old-xls"),
    pytest.param(b"\x89PNG\r\n\x1a\n\0\0\0", "data.csv", "binary data", id="image-named-csv"),
    pytest.param(csv_bytes(district_rows()), "data.xlsx", "is text (CSV)", id="csv-renamed-xlsx"),
    pytest.param(b"", "data.csv", "empty (0 bytes)", id="empty"),
    pytest.param(csv_bytes([]), "data.csv", "no data rows", id="header-only"),
    pytest.param(csv_bytes([(BEDS, JINJIANG, "2025")], header=HEADER[:3]), "data.csv", "required column 数值", id="missing-header"),
    pytest.param(csv_bytes([(BEDS, JINJIANG, "2025", 1)], header=(*HEADER[:3], "数量")), "data.csv", "rename its header to 数值", id="renamed-header"),
    pytest.param(csv_bytes([(BEDS, JINJIANG, "2025", 1, 1)], header=(*HEADER[:4], "值")), "data.csv", "both mean value", id="duplicated-header"),
    pytest.param(xlsx_bytes(district_rows()[:4], merge="B2:B3"), "data.xlsx", "merged cells (B2:B3)", id="merged-cells"),
    pytest.param(_xlsx_with_formula(cached=None), "data.xlsx", "has no stored result", id="formula-without-value"),
    pytest.param(_zip_bomb(), "data.xlsx", "zip bomb", id="zip-bomb"),
    pytest.param(_xml_entities("xl/workbook.xml"), "data.xlsx", "XML entity", id="xml-entities-workbook"),
    pytest.param(_xml_entities("xl/worksheets/sheet1.xml"), "data.xlsx", "XML entity", id="xml-entities-sheet"),
    pytest.param(b"PK\x03\x04 not really a zip", "data.xlsx", "damaged", id="damaged-zip"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "name", "message"), BAD_FILES)
def test_bad_file_writes_nothing_and_says_why(
    db: Session, settings: Settings, data: bytes, name: str, message: str
) -> None:
    started = time.monotonic()
    report = run(db, data, name, settings=settings)
    assert time.monotonic() - started < 5
    assert not report.ok
    assert report.status is ImportStatus.rejected
    assert counts(db) == (0, 0)
    text_ = " ".join(p["message"] for p in errors(report))
    assert message in text_, text_
    stored = db.get(Import, report.import_id)
    assert stored is not None
    assert stored.status is ImportStatus.rejected


def test_formula_with_a_stored_value_reads_the_value(db: Session, settings: Settings) -> None:
    report = run(db, _xlsx_with_formula(cached="120"), "formula.xlsx", settings=settings)
    assert report.ok, errors(report)
    assert db.scalar(select(DataValue.value)) == 120.0


def test_row_limit_refuses_the_file_with_a_clear_message(db: Session, collection_url: str) -> None:
    small = settings_for(collection_url, import_max_rows=50)
    rows = [(BEDS, JINJIANG, "2025", i, "", "", "") for i in range(51)]
    report = run(db, csv_bytes(rows), settings=small)
    assert counts(db) == (0, 0)
    [problem] = errors(report)
    assert problem["row"] is None
    assert "more than 50 data rows" in problem["message"]
    assert "PLANWATCH_IMPORT_MAX_ROWS" in problem["message"]


def test_200001_rows_are_refused_by_the_default_limit(db: Session, settings: Settings) -> None:
    assert settings.import_max_rows == 200_000
    line = f"{BEDS},{JINJIANG},2025,1\r\n".encode()
    data = "指标代码,区划代码,期间,数值\r\n".encode() + line * 200_001
    started = time.monotonic()
    report = run(db, data, "big.csv", settings=settings)
    assert time.monotonic() - started < 10
    assert counts(db) == (0, 0)
    [problem] = errors(report)
    assert "more than 200,000 data rows" in problem["message"]


# —— single values, history, soft delete ——————————————————————————————————————————————


def test_write_items_and_history(db: Session, settings: Settings) -> None:
    who = principal(db)
    item = {"indicator": BEDS, "division": JINJIANG, "period": "2025", "value": 10}
    for value in (10, 10, 12):
        report = write_items(
            db,
            [{**item, "value": value}],
            principal=who,
            channel=Channel.api,
            settings=settings,
            now=OPEN_2025,
        )
        assert report.ok
    rows = history(db, indicator=BEDS, division=JINJIANG, period="2025")
    assert [(r.action, r.old_value, r.new_value, r.channel) for r in rows] == [
        (AuditAction.update, 10.0, 12.0, Channel.api),
        (AuditAction.create, None, 10.0, Channel.api),
    ]
    assert get_value(db, BEDS, JINJIANG, "2025", principal=who).value == 12.0


def test_soft_delete_keeps_the_row_and_evaluation_ignores_it(db: Session, settings: Settings) -> None:
    who = principal(db)
    run(db, csv_bytes(district_rows()), settings=settings)
    target = db.scalar(select(Target).join(Target.indicator).where(Indicator.code == BEDS))
    assert target is not None

    def shown() -> float | None:
        _, _, units = breakdown(db, target, 2025, audience=OPERATOR)
        return next(u.value for u in units if u.code == JINJIANG)

    assert shown() == 100.0
    delete_value(
        db, BEDS, JINJIANG, "2025", principal=who, channel=Channel.api, settings=settings, now=OPEN_2025
    )
    db.expire_all()
    row = db.scalar(select(DataValue).join(Division).where(Division.code == JINJIANG))
    assert row is not None
    assert row.deleted
    assert row.value == 100.0
    assert shown() is None
    with pytest.raises(NotFoundError):
        get_value(db, BEDS, JINJIANG, "2025", principal=who)
    with pytest.raises(NotFoundError):  # deleting twice: nothing to delete
        delete_value(
            db, BEDS, JINJIANG, "2025", principal=who, channel=Channel.api, settings=settings, now=OPEN_2025
        )
    [last] = history(db, indicator=BEDS, division=JINJIANG, limit=1)
    assert (last.action, last.old_value, last.new_value) == (AuditAction.delete, 100.0, None)
    again = run(db, csv_bytes(district_rows()), settings=settings)  # the file brings it back
    assert (again.inserted, again.unchanged) == (1, 19)
    assert shown() == 100.0


# —— audit replay ———————————————————————————————————————————————————————————————————————

KEYS = [(d, p) for d in (JINJIANG, QINGYANG, "510106") for p in ("2025", "2026")]
_change = st.tuples(
    st.sampled_from(range(len(KEYS))),
    st.one_of(st.none(), st.integers(0, 5).map(float)),  # None: delete
    st.sampled_from([KEEP, None, "备注", "说明"]),
)
_batch = st.lists(_change, min_size=1, max_size=4, unique_by=lambda c: c[0])


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(_batch, min_size=1, max_size=8))
def test_replaying_the_audit_rebuilds_every_current_value(
    db: Session, batches: list[list[tuple[int, float | None, Any]]]
) -> None:
    indicator = db.scalar(select(Indicator).where(Indicator.code == BEDS))
    assert indicator is not None
    divisions = {
        d.code: d.id for d in db.scalars(select(Division).where(Division.code.in_([k[0] for k in KEYS])))
    }
    savepoint = db.begin_nested()
    try:
        start = db.scalar(select(func.max(DataValueAudit.id))) or 0
        model: dict[tuple[str, str], tuple[Any, ...]] = {}  # what the writes mean, key → current
        for number, batch in enumerate(batches):
            for i, value, comment in batch:
                if value is None:
                    model.pop(KEYS[i], None)
                else:
                    kept = model[KEYS[i]][3] if KEYS[i] in model else None
                    model[KEYS[i]] = (value, None, None, kept if comment is KEEP else comment)
            changes = [
                ValueChange(
                    indicator.id,
                    BEDS,
                    divisions[KEYS[i][0]],
                    KEYS[i][0],
                    KEYS[i][1],
                    value=value,
                    comment=comment,
                    delete=value is None,
                )
                for i, value, comment in batch
            ]
            writer = Writer(
                actor=f"w{number}", channel=Channel.api, now=OPEN_2025 + timedelta(minutes=number)
            )
            write_values(db, changes, writer, default_expiry_days=90)
        state: dict[tuple[str, str], tuple[Any, ...]] = {}
        for audit in db.scalars(
            select(DataValueAudit).where(DataValueAudit.id > start).order_by(DataValueAudit.id)
        ):
            key = (audit.division_code, audit.period)
            before = state.get(key, (None, None, None, None))
            assert (audit.old_value, audit.old_numerator, audit.old_denominator, audit.old_comment) == before
            if audit.action is AuditAction.delete:
                state.pop(key, None)
            else:
                assert audit.action is (AuditAction.update if key in state else AuditAction.create)
                state[key] = (audit.new_value, audit.new_numerator, audit.new_denominator, audit.new_comment)
        current = {
            (r.division.code, r.period): (r.value, r.numerator, r.denominator, r.comment)
            for r in db.scalars(
                select(DataValue).where(DataValue.indicator_id == indicator.id, DataValue.deleted.is_(False))
            )
        }
        assert current == state == model
        assert verify_data_audit(db).broken_at is None
    finally:
        savepoint.rollback()


# —— the audit table is append-only and verifiable ——————————————————————————————————————


def _refused(db: Session, statement: str) -> str:
    savepoint = db.begin_nested()
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
        db.execute(text(statement))
    savepoint.rollback()
    return str(caught.value)


def test_audit_table_refuses_update_delete_and_truncate(
    db: Session, settings: Settings, backend: str
) -> None:
    run(db, csv_bytes(district_rows()), settings=settings)
    assert "append-only" in _refused(db, "UPDATE data_value_audit SET new_value = 1")
    assert "append-only" in _refused(db, "DELETE FROM data_value_audit")
    if backend == "postgresql":
        assert "append-only" in _refused(db, "TRUNCATE data_value_audit")
    assert counts(db) == (20, 20)
    assert verify_data_audit(db).broken_at is None


def _tamper_and_verify(session: Session, settings: Settings, *, disable: str) -> None:
    report = run(session, csv_bytes(district_rows()), settings=settings)
    assert report.inserted == 20
    ids = list(session.scalars(select(DataValueAudit.id).order_by(DataValueAudit.id)))
    assert verify_data_audit(session).broken_at is None
    k = ids[7]
    session.execute(text(disable))
    session.execute(text("UPDATE data_value_audit SET new_value = new_value + 1 WHERE id = :k"), {"k": k})
    session.expire_all()
    check = verify_data_audit(session)
    assert check.broken_at == k
    assert f"row {k}" in check.message


def test_verify_finds_a_tampered_row(
    db: Session, settings: Settings, backend: str, collection_url: str, tmp_path: Any
) -> None:
    if backend == "postgresql":  # triggers can be disabled inside the rolled-back transaction
        _tamper_and_verify(db, settings, disable="ALTER TABLE data_value_audit DISABLE TRIGGER USER")
        return
    copy = tmp_path / "copy.db"
    shutil.copy(make_url(collection_url).database or "", copy)
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            _tamper_and_verify(session, settings_for(url), disable="DROP TRIGGER data_value_audit_no_update")
    finally:
        engine.dispose()


def test_a_deleted_value_given_again_does_not_bring_back_its_old_comment(db: Session) -> None:
    indicator = db.scalar(select(Indicator).where(Indicator.code == BEDS))
    division = db.scalar(select(Division).where(Division.code == JINJIANG))
    assert indicator is not None
    assert division is not None

    def write(**change: Any) -> None:
        writer = Writer(actor="tester", channel=Channel.api, now=OPEN_2025)
        key = (indicator.id, BEDS, division.id, JINJIANG, "2025")
        write_values(db, [ValueChange(*key, **change)], writer, default_expiry_days=90)

    write(value=1.0, comment="备注")
    write(delete=True)
    write(value=1.0)  # a file without a comment column: comment KEEP
    [created, deleted, recreated] = history(db, indicator=BEDS, division=JINJIANG)[::-1]
    assert (created.action, created.new_comment) == (AuditAction.create, "备注")
    assert (deleted.action, deleted.old_comment) == (AuditAction.delete, "备注")
    assert (recreated.action, recreated.new_comment) == (AuditAction.create, None)
    assert db.scalar(select(DataValue.comment).where(DataValue.division_id == division.id)) is None


def test_a_duplicate_is_named_even_when_its_first_copy_has_another_problem(
    db: Session, settings: Settings
) -> None:
    rows = [
        (BEDS, JINJIANG, "2025", "many", "", "", "张"),
        (BEDS, JINJIANG, "2025", 12, "", "", "张"),
    ]
    report = run(db, csv_bytes(rows), settings=settings)
    assert [(e["row"], e["column"]) for e in errors(report)] == [(2, "数值"), (3, "期间")]
    assert "already given in row 2" in errors(report)[1]["message"]


def test_an_implausibly_large_number_is_refused_and_shown_short(db: Session, settings: Settings) -> None:
    report = run(db, csv_bytes([(BEDS, JINJIANG, "2025", "1e300", "", "", "张")]), settings=settings)
    [problem] = errors(report)
    assert "implausibly large" in problem["message"]
    assert len(problem["message"]) < 200
