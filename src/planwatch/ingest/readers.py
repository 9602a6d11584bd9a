"""Read an uploaded CSV or XLSX file into a ``Table`` of raw rows, or refuse it as a whole.

Pure: bytes in, a ``Table`` out, no database. Everything wrong with the file as a whole (its type,
encoding, size, header row, merged cells) raises ``ImportFileError`` with a message that says where
the problem is and what to do; what is wrong inside a row is left to the validator, which gets the
cells as written (``str``, ``int``, ``float``, ``datetime``, ``None`` or ``FormulaCell``).

The file type is decided by content, not by name: a workbook is a zip archive, everything else must
be text. A workbook named ``.csv`` is read as a workbook (with a notice); text named ``.xlsx``, an old
``.xls`` workbook, other binary files and other extensions are refused.
"""

from __future__ import annotations

import csv
import gc
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import PurePosixPath
from typing import Any, Literal, TypeVar

from defusedxml import DefusedXmlException
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from planwatch.errors import ImportFileError
from planwatch.ingest.numbers import NumberError, parse_number

__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "FormulaCell",
    "RawRow",
    "Table",
    "read_table",
]

FIELDS: dict[str, tuple[str, ...]] = {
    "indicator": ("指标代码", "指标编码", "指标", "indicator", "indicator_code"),
    "indicator_name": ("指标名称", "indicator_name"),
    "division": ("区划代码", "行政区划代码", "区划", "区域代码", "division", "division_code"),
    "division_name": ("区划名称", "区域名称", "division_name"),
    "period": ("期间", "年份", "年度", "时期", "报告期", "period", "year"),
    "unit": ("单位", "计量单位", "unit"),
    "value": ("数值", "值", "指标值", "value"),
    "numerator": ("分子", "numerator"),
    "denominator": ("分母", "denominator"),
    "comment": ("备注", "说明", "comment", "note"),
    "definition": ("定义", "指标定义", "口径", "definition"),
    "problems": ("错误说明", "problems"),
}
"""Canonical field -> accepted header texts; the first is the Chinese header our templates write.

Headers match case-insensitively after NFKC, without spaces, a leading or trailing ``*`` and
``(必填)``. ``indicator_name``, ``division_name`` and ``definition`` are informational; ``problems`` is
written by our annotated error report and dropped on reading.
"""

REQUIRED_FIELDS = ("indicator", "division", "period", "value")

_NUMERIC_FIELDS = ("value", "numerator", "denominator")
"""Fields whose text cells are counted as "numbers stored as text" in a workbook."""

_IGNORED_FIELDS = frozenset({"problems"})
_EXCEL_MAX_ROWS = 1_048_576
_MAX_ZIP_MEMBERS = 10_000
_MAX_COMPRESSION_RATIO = 100
_RATIO_CHECKED_FROM = 1 << 20
"""Only members that unpack to at least this many bytes are held to the ratio: a zip bomb has to be
big to hurt, and small repetitive parts (styles, empty sheets) compress far better than 100:1."""

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_ACCEPTED_SUFFIXES = (".csv", ".xlsx")
_SAVE_AS_XLSX = "open it in Excel or WPS and save it as an Excel workbook (.xlsx, Excel 工作簿)"
_SAVE_AS_CSV_UTF8 = "in Excel choose Save As → 'CSV UTF-8 (逗号分隔)(*.csv)'"
_FORMULA_ESCAPES = ("=", "+", "-", "@", "\t", "\r")
"""After an apostrophe, the starts our CSV export escapes (template.FORMULA_PREFIXES)."""
_T = TypeVar("_T")
_SNIFF_CHARS = 1 << 16


@dataclass(frozen=True, slots=True)
class FormulaCell:
    """An XLSX cell holding a formula with no stored (cached) result."""

    formula: str
    """The formula as Excel shows it, e.g. ``=SUM(E2:E6)``."""


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row, cells as written."""

    number: int
    """The row number the user sees: the spreadsheet row, or the CSV record counting the header as 1
    (the same as the line number unless a quoted cell spans lines)."""
    cells: tuple[object, ...]
    """Aligned with ``Table.fields``: ``str``, ``int``, ``float``, ``datetime``, ``None`` (empty) or
    ``FormulaCell``."""


@dataclass(frozen=True)
class Table:
    """An uploaded file read as a header and rows, before any validation."""

    file: str
    """The file name as given."""
    kind: Literal["csv", "xlsx"]
    encoding: str | None
    """CSV only: ``utf-8``, ``utf-8-sig`` or ``gb18030``."""
    sheet: str | None
    """XLSX only: the sheet read."""
    headers: tuple[str, ...]
    """Header texts as written, in column order (the ignored ``problems`` column left out)."""
    fields: tuple[str, ...]
    """The canonical field of each column in ``headers``."""
    rows: list[RawRow]
    """Data rows; wholly blank rows are skipped."""
    notices: list[str]
    """Things the uploader should know that do not stop the import."""
    columns: tuple[int, ...] = ()
    """The 1-based position in the file of each column in ``headers`` (A = 1); they differ from
    1, 2, 3 … when an ignored or blank column comes first. Empty means 1, 2, 3 …"""
    header_row: int = 1
    """The row number of the header row (1 unless blank rows come first)."""

    def index(self, field: str) -> int | None:
        """The position of ``field`` in ``fields`` and in every row's ``cells``, or None."""
        try:
            return self.fields.index(field)
        except ValueError:
            return None

    def column_label(self, field: str) -> str:
        """How to name the column of ``field`` in messages: ``E (数值)`` or ``数值 (column 5)``."""
        index = self.index(field)
        if index is None:
            return FIELDS[field][0] if field in FIELDS else field
        position = self.columns[index] - 1 if index < len(self.columns) else index
        return _column_label(self.kind, position, self.headers[index])


def read_table(
    data: bytes,
    filename: str,
    *,
    max_rows: int = 200_000,
    max_uncompressed_bytes: int = 256 * 2**20,
) -> Table:
    """Read an uploaded CSV or XLSX file.

    Parameters
    ----------
    data
        The file's bytes.
    filename
        The name it was uploaded under; only its extension is looked at, and it names the file in
        every message.
    max_rows
        More data rows than this refuses the file (``PLANWATCH_IMPORT_MAX_ROWS``); counted while
        reading, so a huge file is refused without being read to the end.
    max_uncompressed_bytes
        A workbook that unpacks to more than this is refused before it is opened.

    Returns
    -------
    Table
        The header mapped to canonical fields and the non-blank data rows.

    Raises
    ------
    ImportFileError
        For every problem with the file as a whole. The type is decided by content: a zip archive
        is read as a workbook, even when named ``.csv`` (a notice says so); text named ``.xlsx``, old
        ``.xls`` workbooks, other binary files and extensions other than ``.csv`` and ``.xlsx`` are
        refused.
    """
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    if suffix == ".xls" or data.startswith(_OLE_MAGIC):
        raise ImportFileError(
            filename,
            "this is an old Excel 97–2003 workbook (.xls) or a password-protected workbook, which cannot"
            f" be read; remove any password, {_SAVE_AS_XLSX}, and upload the .xlsx file",
        )
    if suffix not in _ACCEPTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise ImportFileError(
            filename,
            f"files with {shown} are not accepted; upload an Excel workbook (.xlsx) or a CSV file (.csv),"
            " preferably starting from the import template",
        )
    if not data:
        raise ImportFileError(
            filename, "the file is empty (0 bytes); fill in the import template and upload it again"
        )
    notices: list[str] = []
    if data.startswith(_ZIP_MAGIC):
        if suffix == ".csv":
            notices.append(
                "the file is named .csv but is an Excel workbook; it was read as a workbook (.xlsx)"
            )
        return _read_xlsx(
            data, filename, max_rows=max_rows, max_uncompressed_bytes=max_uncompressed_bytes, notices=notices
        )
    if data.startswith(_UTF16_BOMS):
        raise ImportFileError(
            filename,
            f"this is UTF-16 text (Excel's 'Unicode text'), which is not accepted; {_SAVE_AS_CSV_UTF8},"
            " or upload the .xlsx workbook",
        )
    if b"\x00" in data:
        raise ImportFileError(
            filename,
            "this is not a CSV or XLSX file (it holds binary data); upload the Excel workbook (.xlsx),"
            f" or {_SAVE_AS_CSV_UTF8}",
        )
    if suffix == ".xlsx":
        raise ImportFileError(
            filename,
            "the file is named .xlsx but is text (CSV), not an Excel workbook; rename it to .csv, or"
            f" {_SAVE_AS_XLSX}",
        )
    return _read_csv(data, filename, max_rows=max_rows, notices=notices)


# --- the header row ---------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    key = unicodedata.normalize("NFKC", text).replace("(必填)", "")
    key = "".join(key.split()).strip("*\u200b\u200c\u200d\u2060\ufeff")
    return key.casefold()


_FIELD_BY_KEY = {_header_key(alias): name for name, aliases in FIELDS.items() for alias in aliases}
_ACCEPTED_HEADERS = ", ".join(
    f"{aliases[0]} ({name})" for name, aliases in FIELDS.items() if name not in _IGNORED_FIELDS
)


@dataclass(frozen=True)
class _Header:
    """The header row mapped to fields: which file columns to keep, which must stay empty."""

    row: int
    width: int
    headers: tuple[str, ...]
    fields: tuple[str, ...]
    positions: tuple[int, ...]
    """0-based file column of each kept field."""
    blank: tuple[int, ...]
    """0-based file columns with a blank header: their cells must be empty."""

    def pick(self) -> Any:
        return itemgetter(*self.positions)


def _map_header(file: str, kind: Literal["csv", "xlsx"], row: int, texts: Sequence[str]) -> _Header:
    """Map header texts to fields, or refuse the file listing every header problem at once."""
    while texts and not texts[-1].strip():  # trailing blank headers: cells there must stay empty
        texts = texts[:-1]
    fields_at: dict[str, list[int]] = {}
    unknown: list[int] = []
    blank: list[int] = []
    for position, text in enumerate(texts):
        key = _header_key(text)
        if not key:
            blank.append(position)
        elif key in _FIELD_BY_KEY:
            fields_at.setdefault(_FIELD_BY_KEY[key], []).append(position)
        else:
            unknown.append(position)

    def named(position: int) -> str:
        return f"{_column_name(kind, position)} '{texts[position].strip()}'"

    problems: list[str] = []
    if unknown and not fields_at:
        problems.append(
            f"no column header in row {row} is one we know: the first non-blank row must be the header"
            " row (指标代码, 区划代码, 期间, 数值, …); delete any title rows above it"
        )
    problems.extend(
        f"{named(p)} is not a column we know (不认识的列标题); rename it to an accepted header or"
        " delete the column"
        for p in unknown[:10]
    )
    if len(unknown) > 10:
        problems.append(f"… and {len(unknown) - 10} more unknown columns")
    if unknown:
        problems.append(f"accepted headers: {_ACCEPTED_HEADERS}")
    for name, positions in fields_at.items():
        if len(positions) > 1:
            columns = " and ".join(named(p) for p in positions)
            both = "both" if len(positions) == 2 else "all"
            problems.append(
                f"{columns} {both} mean {name} ({FIELDS[name][0]}); keep one and delete the others"
            )
    missing = [name for name in REQUIRED_FIELDS if name not in fields_at]
    problems.extend(
        f"the required column {FIELDS[name][0]} ({name}) is missing (缺少必填列); accepted headers for it:"
        f" {', '.join(FIELDS[name])}"
        for name in missing
    )
    if len(missing) == 1 and len(unknown) == 1 and fields_at:
        target = FIELDS[missing[0]][0]
        problems.append(
            f"if {named(unknown[0])} holds the {target} ({missing[0]}) values, rename its header to {target}"
        )
    if problems:
        lines = "\n".join(f"- {problem}" for problem in problems)
        raise ImportFileError(
            file,
            f"the header row (row {row}) does not match the import template:\n{lines}\n"
            "Fix the header row and upload the file again.",
        )
    kept = sorted((p[0], name) for name, p in fields_at.items() if name not in _IGNORED_FIELDS)
    return _Header(
        row=row,
        width=len(texts),
        headers=tuple(texts[p] for p, _ in kept),
        fields=tuple(name for _, name in kept),
        positions=tuple(p for p, _ in kept),
        blank=tuple(blank),
    )


def _column_name(kind: Literal["csv", "xlsx"], position: int) -> str:
    return f"column {_letter(position)}" if kind == "xlsx" else f"column {position + 1}"


def _column_label(kind: Literal["csv", "xlsx"], position: int, header: str) -> str:
    return f"{_letter(position)} ({header})" if kind == "xlsx" else f"{header} (column {position + 1})"


def _letter(position: int) -> str:
    """The spreadsheet letter of a 0-based column; a number past ZZZ (only in a damaged file)."""
    try:
        return get_column_letter(position + 1)
    except ValueError:
        return str(position + 1)


def _no_data(file: str, header: _Header, where: str) -> ImportFileError:
    return ImportFileError(
        file,
        f"{where} has a header row (row {header.row}) but no data rows; fill in at least one row below"
        " the header and upload again",
    )


def _too_many_rows(file: str, max_rows: int) -> ImportFileError:
    return ImportFileError(
        file,
        f"the file has more than {max_rows:,} data rows (the limit, PLANWATCH_IMPORT_MAX_ROWS); split it"
        f" into files of at most {max_rows:,} rows and import them one by one",
    )


def _unlabelled_data(file: str, kind: Literal["csv", "xlsx"], position: int, row: int) -> ImportFileError:
    return ImportFileError(
        file,
        f"{_column_name(kind, position)} has values (first in row {row}) but no header; give it one of"
        f" the accepted headers ({_ACCEPTED_HEADERS}) or delete the column",
    )


# --- CSV ----------------------------------------------------------------------------------------------


def _read_csv(data: bytes, file: str, *, max_rows: int, notices: list[str]) -> Table:
    text, encoding = _decode(data, file, notices)
    first_line = next((line for line in text[:_SNIFF_CHARS].splitlines() if line.strip()), "")
    if ";" in first_line and "," not in first_line and "\t" not in first_line:
        raise ImportFileError(
            file,
            "the cells are separated by semicolons (;), but a CSV file here separates them by commas"
            f" (or tabs); {_SAVE_AS_CSV_UTF8}",
        )
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        with _gc_paused():
            return _csv_table(reader, file, encoding, max_rows=max_rows, notices=notices, escaped="'" in text)
    except csv.Error as exc:
        raise ImportFileError(
            file,
            f'line {reader.line_num} cannot be read as CSV ({exc}); check that every quote (") is closed,'
            f" or {_SAVE_AS_CSV_UTF8}",
        ) from None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rows are built.

    A million rows are millions of new tuples and lists; the collector would walk them again and
    again and double the reading time, and none of them can form a cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _csv_table(
    reader: Iterable[list[str]],
    file: str,
    encoding: str,
    *,
    max_rows: int,
    notices: list[str],
    escaped: bool,
) -> Table:
    records = enumerate(reader, start=1)
    header: _Header | None = None
    for number, record in records:
        if "".join(record).strip():
            header = _map_header(file, "csv", number, record)
            break
    if header is None:
        raise ImportFileError(
            file, "the file holds no text, only blank lines; fill in the import template and upload it again"
        )
    width, blank, pick = header.width, header.blank, header.pick()
    rows: list[RawRow] = []
    append = rows.append
    # The hot loop of the import: per-cell Python work only where a row needs it.
    for number, record in records:
        size = len(record)
        if size < width:
            record.extend([""] * (width - size))
        elif size > width and "".join(record[width:]).strip():
            raise ImportFileError(
                file,
                f"line {number} has {size} cells but the header row has {width}; remove the extra cells,"
                " or put quotes around values that contain a comma",
            )
        if not record[0].strip() and not "".join(record).strip():
            continue
        if len(rows) >= max_rows:
            raise _too_many_rows(file, max_rows)
        for position in blank:
            if record[position].strip():
                raise _unlabelled_data(file, "csv", position, number)
        cells = pick(record)
        if escaped and "'" in "".join(cells):
            cells = tuple([_unescape(cell) or None for cell in cells])
        elif "" in cells:
            cells = tuple([cell or None for cell in cells])
        append(RawRow(number, cells))
    if not rows:
        raise _no_data(file, header, "the file")
    return Table(
        file=file,
        kind="csv",
        encoding=encoding,
        sheet=None,
        headers=header.headers,
        fields=header.fields,
        columns=tuple(p + 1 for p in header.positions),
        header_row=header.row,
        rows=rows,
        notices=notices,
    )


def _unescape(cell: str) -> str:
    """Drop the apostrophe our CSV export puts before a leading = + - @ (formula injection)."""
    if cell[:1] == "'" and cell[1:2] in _FORMULA_ESCAPES:
        return cell[1:]
    return cell


def _decode(data: bytes, file: str, notices: list[str]) -> tuple[str, str]:
    if data.startswith(_UTF8_BOM):
        try:
            return data[len(_UTF8_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _bad_text(file, data, exc.start + len(_UTF8_BOM), "marked as UTF-8 but is not") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if _damaged_utf8(data):
        raise _bad_text(file, data, first_bad, "UTF-8 text with damaged characters")
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise _bad_text(file, data, first_bad, "neither UTF-8 nor GBK/GB18030 text") from None
    notices.append(
        "the file was read as GB18030 (GBK) text, not UTF-8; check that the Chinese text reads"
        f" correctly, and next time {_SAVE_AS_CSV_UTF8}"
    )
    return text, "gb18030"


def _damaged_utf8(data: bytes) -> bool:
    """True when most non-ASCII bytes form valid UTF-8: a damaged UTF-8 file, not GBK text.

    GBK text read as UTF-8 is almost all invalid sequences; reading damaged UTF-8 as GB18030
    would succeed and import garbled text without a word.
    """
    valid = data.decode("utf-8", errors="ignore")
    encoded = len(valid.encode("utf-8"))
    multibyte = encoded - len(valid)
    invalid = len(data) - encoded
    return multibyte > 4 * invalid


def _bad_text(file: str, data: bytes, offset: int, what: str) -> ImportFileError:
    line = data.count(b"\n", 0, offset) + 1
    return ImportFileError(
        file, f"the file is {what} (first bad byte on line {line}); {_SAVE_AS_CSV_UTF8}, or upload the .xlsx"
    )


# --- XLSX ---------------------------------------------------------------------------------------------

_MERGE_CELL = re.compile(rb'<(?:[A-Za-z_][\w.-]{0,40}:)?mergeCell\b[^>]{0,200}?\bref="([^"]{1,40})"')
_FORMULA_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?f[\s>/]")
_SCAN_CHUNK = 1 << 20
_SCAN_OVERLAP = 512
_MERGES_SHOWN = 10
"""Longer than any match of the two patterns above, so no match is cut between chunks."""


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
                f" read; {_SAVE_AS_XLSX} again",
            ) from None
        reason = type(exc).__name__
        raise ImportFileError(
            file, f"the workbook is damaged and cannot be read ({reason}); {_SAVE_AS_XLSX} again"
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
            file, f"the workbook is damaged (not a readable zip archive); {_SAVE_AS_XLSX} again"
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
            f"{unsafe}: it holds {len(members):,} parts (the limit is {_MAX_ZIP_MEMBERS:,}); {_SAVE_AS_XLSX} again",
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
                file, f"{unsafe}: it holds a part with the path '{name[:80]}'; {_SAVE_AS_XLSX} again"
            )
        if member.file_size >= _RATIO_CHECKED_FROM:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > _MAX_COMPRESSION_RATIO:
                raise ImportFileError(
                    file,
                    f"{unsafe}: the part '{name[:80]}' unpacks {ratio:,.0f} times larger ({member.file_size:,}"
                    f" bytes from {member.compress_size:,}; the limit is {_MAX_COMPRESSION_RATIO}:1), as a zip"
                    f" bomb does; {_SAVE_AS_XLSX} again",
                )


def _check_format(file: str, archive: zipfile.ZipFile, names: set[str]) -> None:
    if "mimetype" in names:
        try:
            mimetype = archive.read("mimetype")[:100]
        except Exception:
            mimetype = b""
        if mimetype.startswith(b"application/vnd.oasis.opendocument"):
            raise ImportFileError(
                file, f"this is an OpenDocument file (.ods or .odt), not an Excel workbook; {_SAVE_AS_XLSX}"
            )
    if "xl/workbook.bin" in names:
        raise ImportFileError(
            file, f"this is an Excel binary workbook (.xlsb), which cannot be read; {_SAVE_AS_XLSX}"
        )
    if "[Content_Types].xml" not in names:
        raise ImportFileError(
            file,
            f"this is a zip archive but not an Excel workbook; upload the .xlsx file, or {_SAVE_AS_XLSX}",
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
    header: _Header | None = None
    for number, values in records:
        if number > _EXCEL_MAX_ROWS:
            break
        if not _blank_values(values):
            texts = ["" if v is None else str(v) for v in values]
            header = _map_header(file, "xlsx", number, texts)
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
                f"{where} claims rows beyond Excel's last row {_EXCEL_MAX_ROWS:,}; {_SAVE_AS_XLSX} again",
            )
        if _blank_values(values):
            continue
        if len(rows) >= max_rows:
            raise _too_many_rows(file, max_rows)
        size = len(values)
        if size < width:
            values = values + (None,) * (width - size)
        elif size > width and not _blank_values(values[width:]):
            extra = next(p for p in range(width, size) if not _blank(values[p]))
            raise _unlabelled_data(file, "xlsx", extra, number)
        for position in blank:
            if not _blank(values[position]):
                raise _unlabelled_data(file, "xlsx", position, number)
        cells = tuple([None if cell == "" else cell for cell in pick(values)])
        for index in numeric:
            cell = cells[index]
            if isinstance(cell, str) and _is_number(cell):
                as_text += 1
                first_as_text = first_as_text or f"{_letter(header.positions[index])}{number}"
        has_empty = has_empty or None in cells
        rows.append(RawRow(number, cells))
    if not rows:
        raise _no_data(file, header, where)
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
