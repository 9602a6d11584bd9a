"""An import killed in the middle of its write leaves no trace; concurrent imports of the same keys
serialise, and both stay audited. The real ``planwatch ingest`` command, on both backends."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

from planwatch.db import make_engine, session_factory, transaction
from planwatch.ingest.service import verify_data_audit
from planwatch.models import DataValue, DataValueAudit, Division, Import
from planwatch.models.base import Base
from planwatch.models.enums import AuditAction, DivisionLevel, ImportStatus
from planwatch.plans.service import load_plan_file
from tests.conftest import FIXTURES, build_demo_database, database_url

PLANWATCH = [sys.executable, "-m", "planwatch"]
BULK_INDICATORS = ("bulk_visits", "bulk_events", "bulk_volunteers", "bulk_meals")
KILLED_MONTHS = 6
"""Months of the killed import: 4 indicators × 3,047 communities × 6 months = 73,128 values, whose
write phase (lock checks, inserts, hash chain, commit) takes about 4 s on either backend on a
2-core machine."""
KILL_AFTER = 1.0
"""Seconds between the "writing" line and the kill: about a quarter into the write phase."""
CONCURRENT_MONTHS = 2
SIGNED: dict[str, tuple[str, ...]] = {
    "data_values": ("indicator_id", "division_id", "period"),
    "data_value_audit": ("id",),
    "imports": ("id",),
    "import_files": ("sha256",),
    "audit_chain_heads": ("chain",),
}
"""Tables of the database signature, with the key they are read in."""


@pytest.fixture
def bulk_url(backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """The Chengdu demo plus a catalogue of monthly community indicators (100k+ open keys)."""
    url = database_url(backend, tmp_path_factory, request.node.name.split("[")[0][-20:])
    build_demo_database(url)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            load_plan_file(session, FIXTURES / "bulk_plan.yaml")
    finally:
        engine.dispose()
    return url


def past_months(count: int) -> list[str]:
    """The ``count`` months before the current one: begun on Beijing time, and open for entry while
    PLANWATCH_ENTRY_EXPIRY_DAYS (3660 here) covers them."""
    today = datetime.now(UTC)
    index = today.year * 12 + today.month - 1
    return [f"{(i - 1) // 12}-{(i - 1) % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def communities(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return list(
                session.scalars(
                    select(Division.code)
                    .where(Division.level == DivisionLevel.community, Division.valid_to.is_(None))
                    .order_by(Division.code)
                )
            )
    finally:
        engine.dispose()


def write_csv(
    path: Path,
    codes: Sequence[str],
    months: Sequence[str],
    indicators: Sequence[str],
    value: Callable[[int], int],
) -> int:
    """Every (indicator, community, month) with ``value(row index)``; returns the number of rows."""
    lines = ["indicator,division,period,value"]
    for indicator in indicators:
        for month in months:
            lines.extend(f"{indicator},{code},{month},{value(len(lines))}" for code in codes)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def cli_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PLANWATCH_DATABASE_URL": url,
        "PLANWATCH_ENTRY_EXPIRY_DAYS": "3660",
        "PLANWATCH_IMPORT_MAX_ROWS": "1000000",
        "COLUMNS": "200",
    }


def start_import(url: str, path: Path, stdout: Path) -> subprocess.Popen[str]:
    with stdout.open("w") as out:
        return subprocess.Popen(
            [*PLANWATCH, "ingest", str(path), "--json"],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(url),
            cwd=path.parent,
        )


def stderr_lines(process: subprocess.Popen[str]) -> tuple[queue.Queue[str | None], threading.Thread]:
    """The process's stderr, line by line (``None`` at its end), read by a thread that closes the
    pipe at its end."""
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stderr is not None
    stream = process.stderr

    def pump() -> None:
        with stream:
            for line in stream:
                lines.put(line)
        lines.put(None)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def wait_for_line(lines: queue.Queue[str | None], prefix: str, *, timeout: float) -> list[str]:
    """Lines read until one starts with ``prefix``; fails if the stream ends or time runs out."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"no {prefix!r} line within {timeout} s; stderr so far: {''.join(seen)}")
        if line is None:
            pytest.fail(f"the import ended before printing {prefix!r}; stderr: {''.join(seen)}")
        seen.append(line)
        if line.startswith(prefix):
            return seen


def signature(url: str) -> dict[str, tuple[int, str]]:
    """Row count and sha256 of every row, in key order, of the tables an import writes."""
    engine = make_engine(url)
    out: dict[str, tuple[int, str]] = {}
    try:
        with engine.connect() as connection:
            for name, key in SIGNED.items():
                table: Table = Base.metadata.tables[name]  # type: ignore[assignment]
                columns = [
                    c for c in table.columns if c.name != "content"
                ]  # file bytes: sha256 stands for them
                digest, count = hashlib.sha256(), 0
                for row in connection.execute(select(*columns).order_by(*(table.c[k] for k in key))):
                    digest.update(repr(tuple(row)).encode())
                    count += 1
                out[name] = (count, digest.hexdigest())
    finally:
        engine.dispose()
    return out


def sqlite_integrity(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("PRAGMA integrity_check")).scalar())
    finally:
        engine.dispose()


def check_audit(url: str) -> None:
    """The data audit chain verifies, and replaying it in order gives every current value."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            check = verify_data_audit(session)
            assert check.broken_at is None, check.message
            replayed: dict[tuple[int, int, str], tuple[Any, ...]] = {}
            audit = select(
                DataValueAudit.action,
                DataValueAudit.indicator_id,
                DataValueAudit.division_id,
                DataValueAudit.period,
                DataValueAudit.new_value,
                DataValueAudit.new_numerator,
                DataValueAudit.new_denominator,
                DataValueAudit.new_comment,
            ).order_by(DataValueAudit.id)
            for a in session.execute(audit):
                replayed[(a.indicator_id, a.division_id, a.period)] = (
                    (None, None, None, None, True)
                    if a.action is AuditAction.delete
                    else (a.new_value, a.new_numerator, a.new_denominator, a.new_comment, False)
                )
            current = {
                (v.indicator_id, v.division_id, v.period): (
                    *((None,) * 4 if v.deleted else (v.value, v.numerator, v.denominator, v.comment)),
                    v.deleted,
                )
                for v in session.execute(
                    select(
                        DataValue.indicator_id,
                        DataValue.division_id,
                        DataValue.period,
                        DataValue.value,
                        DataValue.numerator,
                        DataValue.denominator,
                        DataValue.comment,
                        DataValue.deleted,
                    )
                )
            }
            assert replayed == current
    finally:
        engine.dispose()


def run_json(url: str, path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [*PLANWATCH, "ingest", str(path), "--json"],
        capture_output=True,
        text=True,
        env=cli_env(url),
        cwd=path.parent,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_an_import_killed_while_writing_leaves_the_database_as_it_was(
    bulk_url: str, backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    rows = write_csv(
        path, communities(bulk_url), past_months(KILLED_MONTHS), BULK_INDICATORS, lambda i: i % 997
    )
    before = signature(bulk_url)

    process = start_import(bulk_url, path, tmp_path / "killed.json")
    lines, reader = stderr_lines(process)
    try:
        wait_for_line(lines, "writing", timeout=120)
        time.sleep(KILL_AFTER)
        if process.poll() is not None:
            pytest.fail(
                f"the import of {rows:,} rows finished {KILL_AFTER} s after its write phase began, before "
                "the kill: nothing was tested; enlarge the file (KILLED_MONTHS) or shorten KILL_AFTER"
            )
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=30)

    after = signature(bulk_url)
    if after["imports"] != before["imports"]:
        pytest.fail(
            "an import was recorded although its process was killed before the end of its write phase; "
            "if the import had really committed before the kill, enlarge the file (KILLED_MONTHS)"
        )
    assert after == before
    if backend == "sqlite":
        assert sqlite_integrity(bulk_url) == "ok"
    check_audit(bulk_url)

    report = run_json(bulk_url, path)
    assert (report["status"], report["inserted"], report["errors_total"]) == ("applied", rows, 0)
    if backend == "sqlite":
        assert sqlite_integrity(bulk_url) == "ok"


def test_concurrent_imports_of_the_same_keys_serialise_and_are_both_audited(
    bulk_url: str, tmp_path: Path
) -> None:
    codes, months = communities(bulk_url), past_months(CONCURRENT_MONTHS)
    files = {name: tmp_path / f"{name}.csv" for name in ("first", "second")}
    base = {"first": 1_000, "second": 2_000}
    for name, path in files.items():
        rows = write_csv(path, codes, months, BULK_INDICATORS[:2], lambda i, b=base[name]: b + i % 500)

    processes = {
        name: start_import(bulk_url, path, tmp_path / f"{name}.json") for name, path in files.items()
    }
    outputs = {name: p.communicate(timeout=300) for name, p in processes.items()}
    for name, process in processes.items():
        assert process.returncode == 0, outputs[name][1][-2000:]
    reports = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in files}

    engine = make_engine(bulk_url)
    try:
        with session_factory(engine)() as session:
            imports = {name: session.get(Import, reports[name]["import_id"]) for name in files}
            assert all(i is not None and i.status is ImportStatus.applied for i in imports.values())
            audited = {name: _audit_of(session, reports[name]["import_id"]) for name in files}
            # Whole files serialise: one import wrote every key first, the other then changed them all.
            earlier, later = sorted(files, key=lambda name: audited[name][0].id)
            assert audited[earlier][-1].id < audited[later][0].id
            assert len(audited[earlier]) == len(audited[later]) == rows
            assert {a.action for a in audited[earlier]} == {AuditAction.create}
            assert {a.action for a in audited[later]} == {AuditAction.update}
            assert (reports[earlier]["inserted"], reports[later]["updated"]) == (rows, rows)
            was = {_key(a): a.new_value for a in audited[earlier]}
            assert all(a.old_value == was[_key(a)] for a in audited[later])
            final = {_key(a): a.new_value for a in audited[later]}
            in_communities = DataValue.division_id.in_(
                select(Division.id).where(Division.level == DivisionLevel.community)
            )
            bulk = list(session.scalars(select(DataValue).where(in_communities)))
            assert len(bulk) == rows
            assert all(v.value == final[(v.indicator_id, v.division_id, v.period)] for v in bulk)
            assert all(base[later] <= v.value < base[later] + 500 for v in bulk)
    finally:
        engine.dispose()
    check_audit(bulk_url)


def _audit_of(session: Session, import_id: int) -> list[DataValueAudit]:
    return list(
        session.scalars(
            select(DataValueAudit).where(DataValueAudit.import_id == import_id).order_by(DataValueAudit.id)
        )
    )


def _key(audit: DataValueAudit) -> tuple[int, int, str]:
    return (audit.indicator_id, audit.division_id, audit.period)
