"""The bulk write path on both backends (COPY on PostgreSQL, executemany on SQLite): values and
texts come back exactly as written, the audit chain verifies, driver errors are SQLAlchemy's."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.ingest.service import verify_data_audit
from planwatch.ingest.writer import ValueChange, Writer, write_values
from planwatch.models import DataValue, DataValueAudit, Division, Indicator
from planwatch.models.enums import Channel, DivisionLevel
from tests.ingest.factories import OPEN_2025

BEDS = "inclusive_elderly_beds"  # annual, district level
COMMENTS = [
    "tab\there",
    "line\nbreak and\r\nCRLF",
    "back\\slash \\N \\. end\\",
    "quotes \" ' and ,;|",
    "中文备注（全角）😀",
    "\u2028\u2029\x7f\x1b",
    "x" * 2000,
    "",
    None,
]
NUMBERS = [0.1 + 0.2, 1e-300, 1.7976931348623157e308, -0.0, 3.0, 123456789.123456789, 5e-324, 2.5, 7.0]


def test_texts_and_floats_survive_the_bulk_write_exactly(db: Session) -> None:
    indicator = db.scalar(select(Indicator).where(Indicator.code == BEDS))
    assert indicator is not None
    districts = list(
        db.scalars(select(Division).where(Division.level == DivisionLevel.district).order_by(Division.code))
    )[: len(COMMENTS)]
    changes = [
        ValueChange(
            indicator.id,
            BEDS,
            district.id,
            district.code,
            "2025",
            value=number,
            numerator=number,
            denominator=2.0,
            comment=comment,
        )
        for district, number, comment in zip(districts, NUMBERS, COMMENTS, strict=True)
    ]
    writer = Writer(actor="测试 \\ actor\t", channel=Channel.file, now=OPEN_2025, request_id="r\n1")
    result = write_values(db, changes, writer, default_expiry_days=90)
    assert result.inserted == len(changes)

    stored = {
        v.division_id: (v.value, v.numerator, v.denominator, v.comment)
        for v in db.scalars(select(DataValue).where(DataValue.indicator_id == indicator.id))
    }
    audited = {
        a.division_id: (a.new_value, a.new_numerator, a.new_denominator, a.new_comment, a.actor, a.request_id)
        for a in db.scalars(select(DataValueAudit).where(DataValueAudit.indicator_id == indicator.id))
    }
    for change in changes:
        written = (change.value, change.numerator, change.denominator, change.comment)
        assert repr(stored[change.division_id]) == repr(written).replace("-0.0", "0.0")  # see below
        assert audited[change.division_id] == (*written, writer.actor, writer.request_id)
    assert verify_data_audit(db).broken_at is None


def test_minus_zero_is_written_as_zero_so_the_audit_verifies_on_sqlite_too(db: Session) -> None:
    """SQLite stores -0.0 as 0: a "-0" hashed as -0.0 would read back as a changed audit row."""
    indicator = db.scalar(select(Indicator).where(Indicator.code == BEDS))
    district = db.scalar(select(Division).where(Division.level == DivisionLevel.district))
    assert indicator is not None
    assert district is not None
    change = ValueChange(indicator.id, BEDS, district.id, district.code, "2025", value=-0.0)
    write_values(db, [change], Writer("tester", Channel.api, OPEN_2025), default_expiry_days=90)
    audit = db.scalar(select(DataValueAudit).where(DataValueAudit.indicator_id == indicator.id))
    assert audit is not None
    assert repr(audit.new_value) == "0.0"
    assert verify_data_audit(db).broken_at is None


def test_a_driver_error_in_the_bulk_write_is_sqlalchemys_and_writes_nothing(db: Session) -> None:
    indicator = db.scalar(select(Indicator).where(Indicator.code == BEDS))
    assert indicator is not None
    before = db.scalar(select(func.count()).select_from(DataValue))
    change = ValueChange(indicator.id, BEDS, 10**9, "none", "2025", value=1.0)  # no such division
    savepoint = db.begin_nested()
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        write_values(db, [change], Writer("tester", Channel.api, OPEN_2025), default_expiry_days=90)
    savepoint.rollback()
    assert db.scalar(select(func.count()).select_from(DataValue)) == before
