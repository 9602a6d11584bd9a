"""The XLSX reader: zip checks before any XML is parsed, merged cells refused, formulas found.

Private: registered with :func:`planwatch.ingest.readers.read_table`, which decides the type by
content and calls :func:`read_xlsx` for a zip archive.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from typing import TypeVar

from defusedxml import DefusedXmlException
from openpyxl import load_workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from planwatch.errors import ImportFileError
from planwatch.ingest._table import (
    SAVE_AS_XLSX,
    FormulaCell,
    Header,
    RawRow,
    Table,
    letter,
    map_header,
    no_data,
    too_many_rows,
    unlabelled_data,
)
from planwatch.ingest.numbers import NumberError, parse_number

__all__ = ["is_workbook", "read_xlsx"]

_NUMERIC_FIELDS = ("value", "numerator", "denominator")
"""Fields whose text cells are counted as "numbers stored as text" in a workbook."""

_EXCEL_MAX_ROWS = 1_048_576
_MAX_ZIP_MEMBERS = 10_000
_MAX_COMPRESSION_RATIO = 100
_RATIO_CHECKED_FROM = 1 << 20
"""Only members that unpack to at least this many bytes are held to the ratio: a zip bomb has to be
big to hurt, and small repetitive parts (styles, empty sheets) compress far better than 100:1."""

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_T = TypeVar("_T")
_MERGE_CELL = re.compile(rb'<(?:[A-Za-z_][\w.-]{0,40}:)?mergeCell\b[^>]{0,200}?\bref="([^"]{1,40})"')
_FORMULA_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?f[\s>/]")
_SCAN_CHUNK = 1 << 20
_SCAN_OVERLAP = 512
"""Longer than any match of the two patterns above, so no match is cut between chunks."""
_MERGES_SHOWN = 10


def is_workbook(data: bytes, file: str) -> bool:
    """Whether ``data`` is a zip archive, as every workbook is."""
    return data.startswith(_ZIP_MAGIC)


def read_xlsx(data: bytes, file: str, *, named: str, max_rows: int, max_uncompressed_bytes: int) -> Table:
    """Read the data sheet of a workbook; ``named`` is the type the file name claims."""
    notices: list[str] = []
    if named == "csv":
        notices.append("the file is named .csv but is an Excel workbook; it was read as a workbook (.xlsx)")
    return _read_xlsx(
        data, file, max_rows=max_rows, max_uncompressed_bytes=max_uncompressed_bytes, notices=notices
    )


def _read_xlsx(
    data: bytes, file: str, *, max_rows: int, max_uncompressed_bytes: int, notices: list[str]
) -> Table:
    archive = _open_archive(data, file, max_uncompressed_bytes)
    with archive, warnings.catch_warnings():
        # openpyxl warns about features it drops (data validation, unknown extensions); they do not
        # change the cell values we read. The filter is process-wide while the workbook is read.
        warnings.simplefilter("ignore")
        table, formulas_possible = _guarded(
            file, lambda: _read_workbook(data, file, archive, max_rows, notices)
        )
        if formulas_possible:
            _guarded(file, lambda: _find_formulas(data, table))
    return table


def _guarded(file: str, read: Callable[[], _T]) -> _T:
    """Run ``read``; turn any failure of the zip or XML parsers into an ImportFileError."""
    try:
        return read()
    except ImportFileError:
        raise
    except Exception as exc:  # openpyxl and zipfile raise almost anything on a damaged file
        if _caused_by_unsafe_xml(exc):
            raise ImportFileError(
                file,
                "the workbook is unsafe (XML entity or DTD declarations are not allowed) and was not"
                f" read; {SAVE_AS_XLSX} again",
            ) from None
        reason = type(exc).__name__
        raise ImportFileError(
            file, f"the workbook is damaged and cannot be read ({reason}); {SAVE_AS_XLSX} again"
        ) from None


def _caused_by_unsafe_xml(exc: BaseException | None) -> bool:
    """Whether defusedxml refused the XML, perhaps under openpyxl's "Unable to read workbook"."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _open_archive(data: bytes, file: str, max_uncompressed_bytes: int) -> zipfile.ZipFile:
    """Open the zip and refuse it before any XML is parsed: too big, a bomb, odd member names."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except Exception:  # zipfile raises many types on damaged archives
        raise ImportFileError(
            file, f"the workbook is damaged (not a readable zip archive); {SAVE_AS_XLSX} again"
        ) from None
    try:
        _check_members(file, members, max_uncompressed_bytes)
        _check_format(file, archive, {m.filename for m in members})
    except BaseException:
        archive.close()
        raise
    return archive


def _check_members(file: str, members: list[zipfile.ZipInfo], max_uncompressed_bytes: int) -> None:
    unsafe = "the workbook is unsafe and was not opened"
    if len(members) > _MAX_ZIP_MEMBERS:
        raise ImportFileError(
            file,
            f"{unsafe}: it holds {len(members):,} parts (the limit is {_MAX_ZIP_MEMBERS:,}); {SAVE_AS_XLSX} again",
        )
    total = sum(m.file_size for m in members)
    if total > max_uncompressed_bytes:
        raise ImportFileError(
            file,
            f"the workbook unpacks to {total:,} bytes, more than the limit of {max_uncompressed_bytes:,};"
            " split the data into smaller workbooks, or delete other sheets, images and unused rows",
        )
    for member in members:
        name = member.filename
        parts = re.split(r"[/\\]", name)
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
            raise ImportFileError(
                file, f"{unsafe}: it holds a part with the path '{name[:80]}'; {SAVE_AS_XLSX} again"
            )
        if member.file_size >= _RATIO_CHECKED_FROM:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > _MAX_COMPRESSION_RATIO:
                raise ImportFileError(
                    file,
                    f"{unsafe}: the part '{name[:80]}' unpacks {ratio:,.0f} times larger ({member.file_size:,}"
                    f" bytes from {member.compress_size:,}; the limit is {_MAX_COMPRESSION_RATIO}:1), as a zip"
                    f" bomb does; {SAVE_AS_XLSX} again",
                )


def _check_format(file: str, archive: zipfile.ZipFile, names: set[str]) -> None:
    if "mimetype" in names:
        try:
            mimetype = archive.read("mimetype")[:100]
        except Exception:
            mimetype = b""
        if mimetype.startswith(b"application/vnd.oasis.opendocument"):
            raise ImportFileError(
                file, f"this is an OpenDocument file (.ods or .odt), not an Excel workbook; {SAVE_AS_XLSX}"
            )
    if "xl/workbook.bin" in names:
        raise ImportFileError(
            file, f"this is an Excel binary workbook (.xlsb), which cannot be read; {SAVE_AS_XLSX}"
        )
    if "[Content_Types].xml" not in names:
        raise ImportFileError(
            file,
            f"this is a zip archive but not an Excel workbook; upload the .xlsx file, or {SAVE_AS_XLSX}",
        )


def _read_workbook(
    data: bytes, file: str, archive: zipfile.ZipFile, max_rows: int, notices: list[str]
) -> tuple[Table, bool]:
    """The table from the data sheet, and whether cells may hold formulas without a stored result."""
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    try:
        sheets = [s for s in workbook.worksheets if isinstance(s, ReadOnlyWorksheet)]
        if not sheets:
            raise ImportFileError(file, "the workbook has no worksheet; put the table on the first sheet")
        named = [s for s in sheets if s.title.strip().casefold() in ("数据", "data")]
        sheet = named[0] if named else sheets[0]
        if not named and len(sheets) > 1:
            notices.append(
                f"the workbook has {len(sheets)} sheets and none is named 数据 (or data); the first,"
                f" '{sheet.title}', was read"
            )
        path = getattr(sheet, "_worksheet_path", None)
        merges, count, has_formulas = _scan_sheet(archive, path) if isinstance(path, str) else ([], 0, True)
        if count:
            more = count - len(merges)
            shown = ", ".join(merges) + (f" and {more:,} more" if more else "")
            raise ImportFileError(
                file,
                f"the sheet '{sheet.title}' has merged cells ({shown}); unmerge them (取消合并单元格), fill"
                " the value into every row and upload again",
            )
        sheet.reset_dimensions()  # read the rows as they are, whatever the stored dimension says
        table, has_empty = _sheet_table(file, sheet, max_rows, notices)
    finally:
        workbook.close()
    return table, has_formulas and has_empty


def _scan_sheet(archive: zipfile.ZipFile, path: str) -> tuple[list[str], int, bool]:
    """The first merged ranges, their number, and whether any formula element exists.

    Read-only openpyxl exposes neither; the XML is scanned in chunks so a big sheet is never held
    in memory twice.
    """
    merges: list[str] = []
    count = 0
    has_formulas = False
    tail = b""
    with archive.open(path) as stream:
        while True:
            chunk = stream.read(_SCAN_CHUNK)
            buffer = tail + chunk
            end = max(len(buffer) - _SCAN_OVERLAP, 0) if chunk else len(buffer)
            for match in _MERGE_CELL.finditer(buffer):
                if match.start() >= end:
                    break
                count += 1
                if len(merges) < _MERGES_SHOWN:
                    merges.append(match.group(1).decode("ascii", "replace"))
            has_formulas = has_formulas or _FORMULA_ELEMENT.search(buffer) is not None
            if not chunk:
                return merges, count, has_formulas
            tail = buffer[end:]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _blank_values(values: Sequence[object]) -> bool:
    """Every value None or only spaces; a row padded to column XFD is checked at C speed."""
    return values.count(None) == len(values) or all(map(_blank, values))


def _sheet_table(
    file: str, sheet: ReadOnlyWorksheet, max_rows: int, notices: list[str]
) -> tuple[Table, bool]:
    where = f"the sheet '{sheet.title}'"
    records = enumerate(sheet.values, start=1)
    header: Header | None = None
    for number, values in records:
        if number > _EXCEL_MAX_ROWS:
            break
        if not _blank_values(values):
            texts = ["" if v is None else str(v) for v in values]
            header = map_header(file, "xlsx", number, texts)
            break
    if header is None:
        raise ImportFileError(file, f"{where} is empty; put the table on it, the header row first")
    width, blank, pick = header.width, header.blank, header.pick()
    numeric = [i for i, name in enumerate(header.fields) if name in _NUMERIC_FIELDS]
    as_text = 0
    first_as_text = ""
    has_empty = False
    rows: list[RawRow] = []
    for number, values in records:
        if number > _EXCEL_MAX_ROWS:
            raise ImportFileError(
                file,
                f"{where} claims rows beyond Excel's last row {_EXCEL_MAX_ROWS:,}; {SAVE_AS_XLSX} again",
            )
        if _blank_values(values):
            continue
        if len(rows) >= max_rows:
            raise too_many_rows(file, max_rows)
        size = len(values)
        if size < width:
            values = values + (None,) * (width - size)
        elif size > width and not _blank_values(values[width:]):
            extra = next(p for p in range(width, size) if not _blank(values[p]))
            raise unlabelled_data(file, "xlsx", extra, number)
        for position in blank:
            if not _blank(values[position]):
                raise unlabelled_data(file, "xlsx", position, number)
        cells = tuple([None if cell == "" else cell for cell in pick(values)])
        for index in numeric:
            cell = cells[index]
            if isinstance(cell, str) and _is_number(cell):
                as_text += 1
                first_as_text = first_as_text or f"{letter(header.positions[index])}{number}"
        has_empty = has_empty or None in cells
        rows.append(RawRow(number, cells))
    if not rows:
        raise no_data(file, header, where)
    if as_text:
        notices.append(
            f"{as_text:,} number(s) were stored as text (first at {first_as_text}); they are read as"
            " numbers, but check them (文本格式的数字)"
        )
    table = Table(
        file=file,
        kind="xlsx",
        encoding=None,
        sheet=sheet.title,
        headers=header.headers,
        fields=header.fields,
        columns=tuple(p + 1 for p in header.positions),
        header_row=header.row,
        rows=rows,
        notices=notices,
    )
    return table, has_empty


def _is_number(text: str) -> bool:
    try:
        return parse_number(text) is not None
    except NumberError:
        return False


def _find_formulas(data: bytes, table: Table) -> None:
    """Replace empty cells that hold a formula without a stored result by ``FormulaCell``.

    In data-only mode such a cell reads as empty; a second pass that reads formulas tells the
    validator to say "open the file in Excel and save it" rather than "the value is missing".
    """
    where = {row.number: index for index, row in enumerate(table.rows) if None in row.cells}
    if not where:
        return
    last = max(where)
    positions = [c - 1 for c in table.columns]
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    try:
        sheet = workbook[table.sheet or ""]
        if not isinstance(sheet, ReadOnlyWorksheet):
            return
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.values, start=1):
            if number > last:
                break
            index = where.get(number)
            if index is None:
                continue
            row = table.rows[index]
            cells = list(row.cells)
            for field_index, position in enumerate(positions):
                if cells[field_index] is None and position < len(values):
                    formula = _formula_text(values[position])
                    if formula is not None:
                        cells[field_index] = FormulaCell(formula)
            table.rows[index] = RawRow(number, tuple(cells))
    finally:
        workbook.close()


def _formula_text(value: object) -> str | None:
    if isinstance(value, str) and value.startswith("="):
        return value
    if isinstance(value, ArrayFormula):
        return str(value.text)
    if isinstance(value, DataTableFormula):
        return "=TABLE()"
    return None
