"""Validation rules and outliers where they are used: import warnings (never blocking),
`check_year`, and the scoped data-quality API."""

from __future__ import annotations

from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.ingest.quality import check_year
from planwatch.ingest.service import import_file
from planwatch.models.enums import Channel, ImportStatus, Role
from tests.ingest.factories import JINJIANG, OPEN_2025, QINGYANG, csv_bytes, district_rows, principal


def _import(db: Session, rows: list[tuple[object, ...]], settings: Settings) -> dict[str, object]:
    report = import_file(
        db,
        csv_bytes(rows),
        "q.csv",
        principal=principal(db),
        channel=Channel.file,
        settings=settings,
        now=OPEN_2025,
    )
    assert report.ok, report.to_json()["errors"]
    assert report.status is ImportStatus.applied  # warnings never block
    return report.to_json()


def test_a_failing_rule_warns_on_its_row_and_does_not_block(db: Session, settings: Settings) -> None:
    rows = [
        ("criminal_cases", JINJIANG, "2025", 900, "", "", "起"),
        ("crime_alerts", JINJIANG, "2025", 300, "", "", "起"),  # fewer reports than cases: CD14-R01
        ("criminal_cases", QINGYANG, "2025", 500, "", "", "起"),
        ("crime_alerts", QINGYANG, "2025", 2000, "", "", "起"),  # fine
    ]
    report = _import(db, rows, settings)
    rule_warnings = [w for w in report["warnings"] if "CD14-R01" in str(w["message"])]  # type: ignore[union-attr]
    assert [w["row"] for w in rule_warnings] == [2]  # the first row of 锦江区 2025
    assert "900" in str(rule_warnings[0]["message"])
    assert "300" in str(rule_warnings[0]["message"])
    found = check_year(db, 2025, threshold=settings.outlier_threshold)
    assert [(v.kind, v.code, v.division_code) for v in found if v.kind == "rule"] == [
        ("rule", "CD14-R01", JINJIANG)
    ]


def test_an_outlier_among_siblings_warns_without_showing_their_values(
    db: Session, settings: Settings
) -> None:
    rows = district_rows(start=100)
    rows[3] = (*rows[3][:3], 9000, *rows[3][4:])  # one district reports 90 times its siblings
    report = _import(db, rows, settings)
    outliers = [w for w in report["warnings"] if "far from" in str(w["message"])]  # type: ignore[union-attr]
    assert [(w["row"], w["column"], w["value"]) for w in outliers] == [(5, "数值", "9000")]
    message = str(outliers[0]["message"])
    assert "other units under the same parent" in message
    assert "median" not in message  # the siblings' figures are not shown to the reporter
    assert report["inserted"] == 20


def test_check_year_is_limited_to_the_view_scope(db: Session, settings: Settings) -> None:
    rows = [
        ("criminal_cases", JINJIANG, "2025", 900, "", "", "起"),
        ("crime_alerts", JINJIANG, "2025", 300, "", "", "起"),
        ("criminal_cases", QINGYANG, "2025", 900, "", "", "起"),
        ("crime_alerts", QINGYANG, "2025", 300, "", "", "起"),
    ]
    _import(db, rows, settings)
    jinjiang = principal(db, role=Role.district_reporter, capture=(JINJIANG,))
    seen = check_year(db, 2025, threshold=settings.outlier_threshold, view=jinjiang.view)
    assert {v.division_code for v in seen} == {JINJIANG}
    everyone = check_year(db, 2025, threshold=settings.outlier_threshold)
    assert {v.division_code for v in everyone if v.kind == "rule"} == {JINJIANG, QINGYANG}


def test_an_import_is_not_warned_about_rules_on_other_indicators(db: Session, settings: Settings) -> None:
    _import(
        db,
        [
            ("criminal_cases", JINJIANG, "2025", 900, "", "", "起"),
            ("crime_alerts", JINJIANG, "2025", 300, "", "", "起"),  # breaks CD14-R01
        ],
        settings,
    )
    report = _import(db, district_rows(), settings)  # beds: no rule mentions them
    assert not [w for w in report["warnings"] if "CD14-R01" in str(w["message"])]  # type: ignore[union-attr]
    assert [
        v.code for v in check_year(db, 2025, threshold=settings.outlier_threshold) if v.kind == "rule"
    ] == ["CD14-R01"]  # it is still there for whoever checks the year
