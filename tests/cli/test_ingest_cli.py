"""``planwatch ingest`` and ``planwatch audit`` for data collection, against a real database.

The entry point is run as a subprocess once per backend (the way an operator runs it); the other
commands run in-process through Typer's runner, which is the same code without the interpreter
start-up. The clock is the system's, so the tests open the reporting calendar with
PLANWATCH_ENTRY_EXPIRY_DAYS where they need 2025 open.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from planwatch.cli.main import app
from tests.conftest import DATA_KEY
from tests.ingest.factories import CITY, JINJIANG, collection_database, csv_bytes, district_rows

PLANWATCH = [sys.executable, "-m", "planwatch"]
BEDS = "inclusive_elderly_beds"
OPEN = {"PLANWATCH_ENTRY_EXPIRY_DAYS": "3660"}
"""Ten years to enter a period's values: 2025 stays open whatever the system date."""


@pytest.fixture(scope="module")
def url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return collection_database(backend, tmp_path_factory, "ingest_cli")


def env(url: str, **extra: str) -> dict[str, str]:
    return {"PLANWATCH_DATABASE_URL": url, "PLANWATCH_DATA_KEY": DATA_KEY, "COLUMNS": "200", **extra}


def cli(url: str, *args: str, **extra: str) -> tuple[int, str, str]:
    """Run ``planwatch ARGS`` in-process; (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args), env=env(url, **extra), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_the_real_command_imports_and_reports_as_json(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # once, on SQLite: what the subprocess adds (the entry point) does not depend on the backend
    url = collection_database("sqlite", tmp_path_factory, "ingest_cli_process")
    rows = [
        (BEDS, code, year, value, "", "", "")
        for code, year, value in [("510106", "2025", 1), ("510107", "2025", 2)]
    ]
    good = write(tmp_path / "good.csv", csv_bytes(rows))
    bad = write(tmp_path / "bad.csv", csv_bytes([*rows, (BEDS, "510108", "2025", "-7", "", "", "")]))
    full_env = {**os.environ, **env(url, **OPEN)}
    result = subprocess.run(
        [*PLANWATCH, "ingest", good, "--json"],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"inserted", "updated", "unchanged", "errors"} <= set(report)
    assert (report["inserted"], report["updated"], report["unchanged"], report["errors"]) == (2, 0, 0, [])
    refused = subprocess.run(
        [*PLANWATCH, "ingest", bad], capture_output=True, text=True, env=full_env, timeout=120, check=False
    )
    assert refused.returncode == 1
    assert "rejected, nothing was written" in refused.stdout
    line = next(line for line in refused.stdout.splitlines() if "-7" in line)
    assert "4" in line
    assert "数值" in line
    assert "cannot be below 0" in line
    assert "Traceback" not in refused.stderr


def test_import_text_json_dry_run_and_second_import(url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "beds.csv", csv_bytes(district_rows(start=300)[15:20]))
    code, out, err = cli(url, "ingest", path, "--dry-run", **OPEN)
    assert code == 0, err
    assert "dry run, nothing written" in out
    assert "5 new" in out
    code, out, _ = cli(url, "audit", "log", "--indicator", BEDS, "--division", "510181", "--json")
    assert json.loads(out) == []
    code, out, err = cli(url, "ingest", path, **OPEN)
    assert code == 0, err
    assert "imported" in out
    assert "5 new" in out
    code, out, _ = cli(url, "ingest", path, "--json", **OPEN)
    report = json.loads(out)
    assert (report["status"], report["inserted"], report["unchanged"]) == ("unchanged", 0, 5)
    code, out, _ = cli(url, "audit", "log", "--indicator", BEDS, "--division", "510181", "--json")
    [entry] = json.loads(out)
    assert (entry["action"], entry["new"][0], entry["channel"]) == ("create", 315.0, "file")
    assert entry["actor"].startswith("cli:")


def test_rejected_import_exits_1_naming_row_and_column_and_writes_the_report(
    url: str, tmp_path: Path
) -> None:
    rows = [(BEDS, "510121", "2025", 5, "", "", ""), (BEDS, "510129", "2025Q1", 6, "", "", "")]
    path = write(tmp_path / "bad.csv", csv_bytes(rows))
    annotated = tmp_path / "report.xlsx"
    code, out, _ = cli(url, "ingest", path, "--json", "--report", str(annotated), **OPEN)
    assert code == 1
    report = json.loads(out)
    assert report["inserted"] == 0
    [problem] = report["errors"]
    assert (problem["row"], problem["column"], problem["value"]) == (3, "期间", "2025Q1")
    assert "not a annual period" in problem["message"]
    sheet = load_workbook(annotated)["数据"]
    assert sheet["C3"].value == "2025Q1"
    assert sheet["C3"].comment is not None
    code, out, _ = cli(url, "audit", "log", "--division", "510121", "--json")
    assert json.loads(out) == []


def test_unreadable_file_is_a_message_not_a_traceback(url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "notes.xlsx", b"indicator,division\n")
    code, out, err = cli(url, "ingest", path, **OPEN)
    assert code == 1
    assert "is text (CSV)" in out.replace("\n", " ")
    assert "Traceback" not in out + err
    code, out, _ = cli(url, "ingest", path, "--report", str(tmp_path / "notes-report.xlsx"), **OPEN)
    assert code == 1
    assert not (tmp_path / "notes-report.xlsx").exists()  # no table to annotate: the problem list
    listed = (tmp_path / "notes-report.csv").read_bytes().decode("utf-8-sig")
    assert "is text (CSV)" in listed
    assert "notes-report.csv" in out.replace("\n", "")
    code, _, err = cli(url, "ingest", str(tmp_path / "missing.csv"))
    assert code == 2
    assert "does not exist" in err


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_template_filled_in_and_imported(url: str, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"template.{fmt}"
    code, out, err = cli(
        url, "ingest", "template", "--division", "510115", "--year", "2025", "--format", fmt, "-o", str(path)
    )
    assert code == 0, err
    assert "rows written to" in out
    if fmt == "xlsx":
        workbook = load_workbook(path)
        sheet = workbook["数据"]
        header = [c.value for c in sheet[1]]
        column = {name: header.index(name) + 1 for name in ("指标代码", "数值")}
        filled = 0
        for number in range(2, sheet.max_row + 1):
            if sheet.cell(number, column["指标代码"]).value == BEDS:
                sheet.cell(number, column["数值"]).value = 77
                filled += 1
        workbook.save(path)
    else:
        lines = path.read_bytes().decode("utf-8-sig").splitlines()
        header = lines[0].split(",")
        filled = 0
        for i, line in enumerate(lines[1:], 1):
            cells = line.split(",")
            if cells[0] == BEDS:
                cells[header.index("数值")] = "77"
                lines[i] = ",".join(cells)
                filled += 1
        path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    assert filled == 1
    code, out, err = cli(url, "ingest", str(path), "--json", **OPEN)
    assert code == 0, out + err
    report = json.loads(out)
    assert (report["inserted"] + report["updated"] + report["unchanged"], report["errors"]) == (1, [])
    assert report["blank"] > 0
    code, out, _ = cli(url, "audit", "log", "--indicator", BEDS, "--division", "510115", "--json")
    assert json.loads(out)[0]["new"][0] == 77.0


def test_department_template_and_unknown_department(url: str, tmp_path: Path) -> None:
    path = tmp_path / "mzj.xlsx"
    code, _out, err = cli(
        url, "ingest", "template", "--department", "CDMZJ", "--year", "2025", "-o", str(path)
    )
    assert code == 0, err
    rows = list(load_workbook(path)["数据"].iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in rows} >= {BEDS, "nursing_bed_share"}
    assert "city_new_scenarios" not in {r[0] for r in rows}
    code, _, err = cli(url, "ingest", "template", "--department", "NOPE", "--year", "2025")
    assert code == 1
    assert "no department with code 'NOPE'" in err


def test_check_lists_findings_or_says_there_are_none(url: str) -> None:
    code, out, err = cli(url, "ingest", "check", "--year", "2025")
    assert code == 0, err
    assert "2025" in out
    code, out, err = cli(url, "ingest", "check", "--year", "2025", "--json")
    assert code == 0, err
    assert isinstance(json.loads(out), list)


def test_approval_commands_lock_and_unlock_a_district(url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "jj.csv", csv_bytes([(BEDS, JINJIANG, "2025", 9, "", "", "")]))
    code, out, err = cli(url, "ingest", "approval", "--year", "2025")
    assert code == 0, err
    assert f"division:{JINJIANG}" in out
    assert f"division:{CITY}" in out
    code, out, err = cli(url, "ingest", "approval", "submit", f"division:{JINJIANG}", "--year", "2025")
    assert code == 0, err
    assert "submitted" in out
    code, out, _ = cli(url, "ingest", path, "--json", **OPEN)
    assert code == 1
    [problem] = json.loads(out)["errors"]
    assert (problem["row"], problem["column"]) == (2, "期间")
    assert "submitted" in problem["message"]
    code, out, err = cli(url, "ingest", "approval", "approve", f"division:{JINJIANG}", "--year", "2025")
    assert code == 0, err
    assert "approved" in out
    code, out, _ = cli(url, "ingest", path, "--json", **OPEN)
    assert code == 1
    assert "approved" in json.loads(out)["errors"][0]["message"]
    code, _, err = cli(url, "ingest", "approval", "approve", f"division:{CITY}", "--year", "2025")
    assert code == 1
    assert "waiting for" in err
    code, out, err = cli(url, "ingest", "approval", "unapprove", f"division:{JINJIANG}", "--year", "2025")
    assert code == 0, err
    code, out, err = cli(url, "ingest", path, **OPEN)
    assert code == 0, out + err
    code, _, err = cli(url, "ingest", "approval", "submit", "510104", "--year", "2025")
    assert code == 1
    assert "division:CODE" in err


def test_reopen_lets_one_closed_cell_be_written_and_the_write_is_forced(url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "late.csv", csv_bytes([(BEDS, "510116", "2024", 12, "", "", "")]))
    code, out, _ = cli(url, "ingest", path, "--json")  # default 90 days: 2024 closed in 2025
    assert code == 1
    assert "lock exception" in json.loads(out)["errors"][0]["message"]
    code, out, err = cli(
        url,
        "ingest",
        "reopen",
        "--indicator",
        BEDS,
        "--division",
        "510116",
        "--period",
        "2024",
        "--reason",
        "统计局更正",
        "--days",
        "2",
    )
    assert code == 0, err
    assert "open until" in out
    code, out, err = cli(url, "ingest", path, "--json")
    assert code == 0, out + err
    assert json.loads(out)["forced"] == 1
    code, out, _ = cli(url, "audit", "log", "--indicator", BEDS, "--division", "510116", "--json")
    [entry] = json.loads(out)
    assert entry["forced"] is True
    code, _, err = cli(
        url,
        "ingest",
        "reopen",
        "--indicator",
        BEDS,
        "--division",
        "510116",
        "--period",
        "2024",
        "--reason",
        " ",
    )
    assert code == 1
    assert "reason" in err


def test_audit_verify_after_imports(url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "v.csv", csv_bytes([(BEDS, "510117", "2025", 3, "", "", "")]))
    assert cli(url, "ingest", path, **OPEN)[0] == 0
    code, out, err = cli(url, "audit", "verify")
    assert code == 0, out + err
    assert "chain intact" in out
    code, out, _ = cli(url, "audit", "log", "--division", "510117")
    assert code == 0
    assert "1 changes (newest first)" in out


def test_xlsx_report_of_a_good_file_is_written_too(url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "ok.csv", csv_bytes([(BEDS, "510118", "2025", 3, "", "", "")]))
    report = tmp_path / "r.csv"
    code, _out, err = cli(url, "ingest", path, "--dry-run", "--report", str(report), **OPEN)
    assert code == 0, err
    assert report.read_bytes().startswith(b"\xef\xbb\xbf")
    assert io.BytesIO(report.read_bytes()).read().decode("utf-8-sig").splitlines()[0].startswith("行号")


def test_templates_leave_out_the_values_planwatch_computes(url: str, tmp_path: Path) -> None:
    """Coverage, request-metric and survey indicators are computed, so nobody is asked to report them."""
    path = tmp_path / "district.csv"
    code, _, err = cli(url, "ingest", "template", "--division", "510104", "--year", "2025", "--format", "csv",
                       "-o", str(path))  # fmt: skip
    assert code == 0, err
    codes = {line.split(",")[0] for line in path.read_bytes().decode("utf-8-sig").splitlines()[1:]}
    assert BEDS in codes
    assert not codes & {"requests_response_rate", "survey_elderly_care_demand_share", "fire_5min_coverage"}
