"""Read an uploaded CSV or XLSX file into a ``Table`` of raw rows, or refuse it as a whole.

Pure: bytes in, a ``Table`` out, no database. Everything wrong with the file as a whole (its type,
encoding, size, header row, merged cells) raises ``ImportFileError`` with a message that says where
the problem is and what to do; what is wrong inside a row is left to the validator, which gets the
cells as written (``str``, ``int``, ``float``, ``datetime``, ``None`` or ``FormulaCell``).

The file type is decided by content, not by name: a workbook is a zip archive, everything else must
be text. A workbook named ``.csv`` is read as a workbook (with a notice); text named ``.xlsx``, an old
``.xls`` workbook, other binary files and other extensions are refused.

Each format is a reader in a small registry: a content sniffer and a read function, registered under
the file extension it reads (``register``). ``read_table`` asks the sniffers in registration order
and hands the bytes to the first that claims them. The built-in readers live in ``_xlsx`` and
``_csv``; the header mapping and the ``Table`` they share live in ``_table``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from planwatch.errors import ImportFileError
from planwatch.ingest import _csv, _xlsx
from planwatch.ingest._table import (
    FIELDS,
    REQUIRED_FIELDS,
    SAVE_AS_CSV_UTF8,
    SAVE_AS_XLSX,
    FormulaCell,
    RawRow,
    Table,
)

__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "FormulaCell",
    "RawRow",
    "Table",
    "read_table",
]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class Reader(Protocol):
    """Read a file whose content a sniffer claimed; ``named`` is the format its extension names."""

    def __call__(
        self, data: bytes, file: str, *, named: str, max_rows: int, max_uncompressed_bytes: int
    ) -> Table: ...


Sniffer = Callable[[bytes, str], bool]
"""Whether the bytes (of the named file) are this reader's format; may refuse them outright with an
``ImportFileError`` when they are recognisably a variant that cannot be read."""


@dataclass(frozen=True, slots=True)
class _Registered:
    sniff: Sniffer
    read: Reader


_READERS: dict[str, _Registered] = {}
"""Extension without the dot -> reader, in the order the sniffers are asked."""


def register(kind: str, *, sniff: Sniffer) -> Callable[[Reader], Reader]:
    """Register the decorated function as the reader of files named ``.<kind>`` whose content ``sniff``
    claims; readers registered earlier are asked first."""

    def decorate(read: Reader) -> Reader:
        _READERS[kind] = _Registered(sniff, read)
        return read

    return decorate


# The workbook sniffer (a zip archive) is asked before the text sniffer, which refuses UTF-16 text.
register("xlsx", sniff=_xlsx.is_workbook)(_xlsx.read_xlsx)
register("csv", sniff=_csv.is_text)(_csv.read_csv)


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
            f" be read; remove any password, {SAVE_AS_XLSX}, and upload the .xlsx file",
        )
    named = suffix.removeprefix(".")
    if named not in _READERS:
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
    for reader in _READERS.values():
        if reader.sniff(data, filename):
            return reader.read(
                data,
                filename,
                named=named,
                max_rows=max_rows,
                max_uncompressed_bytes=max_uncompressed_bytes,
            )
    raise ImportFileError(
        filename,
        "this is not a CSV or XLSX file (it holds binary data); upload the Excel workbook (.xlsx),"
        f" or {SAVE_AS_CSV_UTF8}",
    )
