"""Row validation of many rows: periods and units read once per distinct cell still judge every row."""

from __future__ import annotations

from sqlalchemy.orm import Session

from planwatch.ingest.readers import RawRow, Table
from planwatch.ingest.validate import Catalogue, Validated, validate_table
from tests.ingest.factories import JINJIANG, QINGYANG, principal

BEDS = "inclusive_elderly_beds"  # annual, district level, unit 张
FIELDS = ("indicator", "division", "period", "value", "unit")


def validate(db: Session, rows: list[tuple[object, ...]]) -> Validated:
    table = Table(
        file="test",
        kind="xlsx",
        encoding=None,
        sheet="数据",
        headers=FIELDS,
        fields=FIELDS,
        rows=[RawRow(n, cells) for n, cells in enumerate(rows, start=2)],
        notices=[],
    )
    return validate_table(table, Catalogue.load(db), principal=principal(db))


def test_a_period_written_in_different_ways_is_the_same_period(db: Session) -> None:
    result = validate(
        db,
        [
            (BEDS, JINJIANG, 2025, 1, "张"),
            (BEDS, QINGYANG, 2025.0, 2, "张"),
            (BEDS, "510106", "2025年", 3, "张"),
            (BEDS, "510107", " 2025 ", 4, "张"),
        ],
    )
    assert result.errors == []
    assert [c.period for c in result.changes] == ["2025"] * 4


def test_every_row_with_a_wrong_period_or_unit_is_reported_as_written(db: Session) -> None:
    result = validate(
        db,
        [
            (BEDS, JINJIANG, 1800, 1, "张"),
            (BEDS, QINGYANG, 1800.0, 2, "张"),
            (BEDS, "510106", "2025Q1", 3, "张"),
            (BEDS, "510107", "2025Q1", 4, "张"),
            (BEDS, "510108", "2025", 5, "个"),
            (BEDS, "510112", "2025", 6, "个"),
            (BEDS, "510113", "2025", 7, "张"),
        ],
    )
    problems = [(p.row, p.field, p.value) for p in result.errors]
    assert problems == [
        (2, "period", "1800"),
        (3, "period", "1800"),
        (4, "period", "2025Q1"),
        (5, "period", "2025Q1"),
        (6, "unit", "个"),
        (7, "unit", "个"),
    ]
    assert "'1800.0' is not a annual period" in result.errors[1].message
    assert [c.row for c in result.changes] == [8]
