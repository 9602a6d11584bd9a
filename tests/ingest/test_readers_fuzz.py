"""Any bytes end in a Table or an ImportFileError, never another exception."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from planwatch.errors import ImportFileError
from planwatch.ingest.readers import Table, read_table


def small_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "数据"
    sheet.append(["指标代码", "区划代码", "期间", "数值", "备注"])
    sheet.append(["GDP", "510100", 2024, 12.5, "=A2"])
    sheet.append(["GDP", "510104", "2024", "1,234", None])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


WORKBOOK = small_workbook()
with zipfile.ZipFile(io.BytesIO(WORKBOOK)) as _archive:
    PARTS = {name: _archive.read(name) for name in _archive.namelist()}
CSV = "指标代码,区划代码,期间,数值\nGDP,510100,2024,12.5\n".encode()

flips = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=8)


def flipped(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    mutable = bytearray(data)
    for position, value in changes:
        if mutable:
            mutable[position % len(mutable)] = value
    return bytes(mutable)


def read(data: bytes, filename: str) -> Table | ImportFileError:
    """The table, or the refusal with its message; any other exception fails the test."""
    try:
        return read_table(data, filename, max_rows=50)
    except ImportFileError as exc:
        return exc


def check(data: bytes, filename: str) -> None:
    result = read(data, filename)
    assert isinstance(result, Table) or result.detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["x.csv", "x.xlsx"]))
def test_any_bytes(data: bytes, filename: str) -> None:
    check(data, filename)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=500), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_any_text_as_csv(text: str, encoding: str) -> None:
    check(text.encode(encoding, errors="replace"), "x.csv")


@settings(max_examples=150, deadline=None)
@given(flips)
def test_mutated_csv(changes: list[tuple[int, int]]) -> None:
    check(flipped(CSV, changes), "x.csv")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flips, st.integers(0, len(WORKBOOK)), st.sampled_from(["x.xlsx", "x.csv"]))
def test_mutated_workbook_bytes(changes: list[tuple[int, int]], length: int, filename: str) -> None:
    check(flipped(WORKBOOK, changes)[:length], filename)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(PARTS)), flips, st.integers(0, 2**20))
def test_mutated_workbook_parts(part: str, changes: list[tuple[int, int]], cut: int) -> None:
    """A valid zip whose XML is damaged: the parser, not the zip layer, has to cope."""
    content = flipped(PARTS[part], changes)
    content = content[: cut % (len(content) + 1)] if cut % 3 == 0 else content
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, original in PARTS.items():
            archive.writestr(name, content if name == part else original)
    check(out.getvalue(), "x.xlsx")


def test_the_unmutated_workbook_is_read() -> None:
    result = read(WORKBOOK, "x.xlsx")
    assert isinstance(result, Table)
    assert len(result.rows) == 2
