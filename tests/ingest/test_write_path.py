"""No write path can skip the audit: only ``ingest/writer.py`` writes data values and their audit
rows. Approval may set a value's ``status`` (not its number), and nothing else may touch them."""

from __future__ import annotations

import ast
from pathlib import Path

import planwatch

SRC = Path(planwatch.__file__).resolve().parent
WRITER = SRC / "ingest" / "writer.py"
TABLES = {"DataValue", "DataValueAudit"}
RAW_SQL = ("insert into data_value", "update data_value", "delete from data_value")


def _writes(path: Path) -> list[str]:
    """Every statement in ``path`` that builds or changes a data value or an audit row."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            first = node.args[0] if node.args else None
            if name in TABLES:  # DataValue(...) constructs a row to add
                found.append(f"{path.name}:{node.lineno} {name}(...)")
            elif (
                name in {"insert", "update", "delete"} and isinstance(first, ast.Name) and first.id in TABLES
            ):
                found.append(f"{path.name}:{node.lineno} {name}({first.id})")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and any(sql in node.value.lower() for sql in RAW_SQL)
        ):
            found.append(f"{path.name}:{node.lineno} raw SQL")
    return found


def test_only_the_writer_writes_values_and_audit_rows() -> None:
    offenders = [
        write
        for path in sorted(SRC.rglob("*.py"))
        if path != WRITER and "migrations" not in path.parts
        for write in _writes(path)
    ]
    allowed = [w for w in offenders if w.startswith("approval.py:") and w.endswith("update(DataValue)")]
    assert offenders == allowed, f"data values written outside ingest/writer.py: {offenders}"
    assert _writes(WRITER), "the writer itself must be found by this check"


def test_approval_only_sets_the_status() -> None:
    source = (SRC / "ingest" / "approval.py").read_text(encoding="utf-8")
    updates = [line for line in source.splitlines() if "changes.append(" in line]
    assert updates
    assert all('{"id": row.id, "status":' in line for line in updates), updates
