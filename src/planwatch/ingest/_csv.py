"""The CSV reader: UTF-8 (with or without BOM) or GB18030 text, comma- or tab-separated.

Private: registered with :func:`planwatch.ingest.readers.read_table`, which decides the type by
content and calls :func:`read_csv` for text.
"""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from planwatch.errors import ImportFileError
from planwatch.ingest._table import (
    SAVE_AS_CSV_UTF8,
    SAVE_AS_XLSX,
    Header,
    RawRow,
    Table,
    map_header,
    no_data,
    too_many_rows,
    unlabelled_data,
)

__all__ = ["is_text", "read_csv"]

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_FORMULA_ESCAPES = ("=", "+", "-", "@", "\t", "\r")
"""After an apostrophe, the starts our CSV export escapes (template.FORMULA_PREFIXES)."""
_SNIFF_CHARS = 1 << 16


def is_text(data: bytes, file: str) -> bool:
    """Whether ``data`` is text this reader may read; UTF-16 text is refused with a message."""
    if data.startswith(_UTF16_BOMS):
        raise ImportFileError(
            file,
            f"this is UTF-16 text (Excel's 'Unicode text'), which is not accepted; {SAVE_AS_CSV_UTF8},"
            " or upload the .xlsx workbook",
        )
    return b"\x00" not in data


def read_csv(data: bytes, file: str, *, named: str, max_rows: int, max_uncompressed_bytes: int) -> Table:
    """Read CSV text; ``named`` is the type the file name claims, ``max_uncompressed_bytes`` unused."""
    if named == "xlsx":
        raise ImportFileError(
            file,
            "the file is named .xlsx but is text (CSV), not an Excel workbook; rename it to .csv, or"
            f" {SAVE_AS_XLSX}",
        )
    return _read_csv(data, file, max_rows=max_rows, notices=[])


def _read_csv(data: bytes, file: str, *, max_rows: int, notices: list[str]) -> Table:
    text, encoding = _decode(data, file, notices)
    first_line = next((line for line in text[:_SNIFF_CHARS].splitlines() if line.strip()), "")
    if ";" in first_line and "," not in first_line and "\t" not in first_line:
        raise ImportFileError(
            file,
            "the cells are separated by semicolons (;), but a CSV file here separates them by commas"
            f" (or tabs); {SAVE_AS_CSV_UTF8}",
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
            f" or {SAVE_AS_CSV_UTF8}",
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
    header: Header | None = None
    for number, record in records:
        if "".join(record).strip():
            header = map_header(file, "csv", number, record)
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
            raise too_many_rows(file, max_rows)
        for position in blank:
            if record[position].strip():
                raise unlabelled_data(file, "csv", position, number)
        cells = pick(record)
        if escaped and "'" in "".join(cells):
            cells = tuple([_unescape(cell) or None for cell in cells])
        elif "" in cells:
            cells = tuple([cell or None for cell in cells])
        append(RawRow(number, cells))
    if not rows:
        raise no_data(file, header, "the file")
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
        f" correctly, and next time {SAVE_AS_CSV_UTF8}"
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
        file, f"the file is {what} (first bad byte on line {line}); {SAVE_AS_CSV_UTF8}, or upload the .xlsx"
    )
