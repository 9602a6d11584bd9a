"""The shared plumbing of the readers: canonical fields, the table a reader returns, the header row.

Private: import the public names from :mod:`planwatch.ingest.readers`. The format modules
(``_csv``, ``_xlsx``) build on this one and never import ``readers``, so there is no import cycle.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

from openpyxl.utils import get_column_letter

from planwatch.errors import ImportFileError

__all__ = [
    "FIELDS",
    "IGNORED_FIELDS",
    "REQUIRED_FIELDS",
    "SAVE_AS_CSV_UTF8",
    "SAVE_AS_XLSX",
    "FormulaCell",
    "Header",
    "RawRow",
    "Table",
    "column_name",
    "letter",
    "map_header",
    "no_data",
    "too_many_rows",
    "unlabelled_data",
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

IGNORED_FIELDS = frozenset({"problems"})
SAVE_AS_XLSX = "open it in Excel or WPS and save it as an Excel workbook (.xlsx, Excel 工作簿)"
SAVE_AS_CSV_UTF8 = "in Excel choose Save As → 'CSV UTF-8 (逗号分隔)(*.csv)'"


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


# --- the header row ---------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    key = unicodedata.normalize("NFKC", text).replace("(必填)", "")
    key = "".join(key.split()).strip("*\u200b\u200c\u200d\u2060\ufeff")
    return key.casefold()


_FIELD_BY_KEY = {_header_key(alias): name for name, aliases in FIELDS.items() for alias in aliases}
_ACCEPTED_HEADERS = ", ".join(
    f"{aliases[0]} ({name})" for name, aliases in FIELDS.items() if name not in IGNORED_FIELDS
)


@dataclass(frozen=True)
class Header:
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


def map_header(file: str, kind: Literal["csv", "xlsx"], row: int, texts: Sequence[str]) -> Header:
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
        return f"{column_name(kind, position)} '{texts[position].strip()}'"

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
    kept = sorted((p[0], name) for name, p in fields_at.items() if name not in IGNORED_FIELDS)
    return Header(
        row=row,
        width=len(texts),
        headers=tuple(texts[p] for p, _ in kept),
        fields=tuple(name for _, name in kept),
        positions=tuple(p for p, _ in kept),
        blank=tuple(blank),
    )


def column_name(kind: Literal["csv", "xlsx"], position: int) -> str:
    return f"column {letter(position)}" if kind == "xlsx" else f"column {position + 1}"


def _column_label(kind: Literal["csv", "xlsx"], position: int, header: str) -> str:
    return f"{letter(position)} ({header})" if kind == "xlsx" else f"{header} (column {position + 1})"


def letter(position: int) -> str:
    """The spreadsheet letter of a 0-based column; a number past ZZZ (only in a damaged file)."""
    try:
        return get_column_letter(position + 1)
    except ValueError:
        return str(position + 1)


def no_data(file: str, header: Header, where: str) -> ImportFileError:
    return ImportFileError(
        file,
        f"{where} has a header row (row {header.row}) but no data rows; fill in at least one row below"
        " the header and upload again",
    )


def too_many_rows(file: str, max_rows: int) -> ImportFileError:
    return ImportFileError(
        file,
        f"the file has more than {max_rows:,} data rows (the limit, PLANWATCH_IMPORT_MAX_ROWS); split it"
        f" into files of at most {max_rows:,} rows and import them one by one",
    )


def unlabelled_data(file: str, kind: Literal["csv", "xlsx"], position: int, row: int) -> ImportFileError:
    return ImportFileError(
        file,
        f"{column_name(kind, position)} has values (first in row {row}) but no header; give it one of"
        f" the accepted headers ({_ACCEPTED_HEADERS}) or delete the column",
    )
