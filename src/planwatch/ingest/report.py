"""The annotated error report a user downloads after a failed or dry-run import.

:func:`annotated_xlsx` gives back the uploaded table at the same row numbers, with each problem
cell filled (light red for an error, light yellow for a warning) and commented, the row's messages
in a last column 错误说明, and a second sheet 问题清单 listing every problem. The user corrects the
cells and uploads the same file again: the reader ignores the 错误说明 column.
:func:`problems_csv` is the same list as CSV.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Font, NamedStyle, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from planwatch.ingest.readers import FIELDS, FormulaCell, Table
from planwatch.ingest.template import (
    AUTHOR,
    column_widths,
    comment,
    csv_bytes,
    finite,
    safe_value,
    sheet_setup,
    text_cell,
    workbook_bytes,
)

__all__ = [
    "MAX_COMMENTS",
    "PROBLEMS_SHEET",
    "PROBLEM_HEADERS",
    "CellProblem",
    "annotated_xlsx",
    "problems_csv",
]

Severity = Literal["error", "warning"]

DATA_SHEET = "数据"
PROBLEMS_SHEET = "问题清单"
PROBLEM_HEADERS = ("行号", "列", "值", "级别", "说明")
"""Columns of the problem list, in the 问题清单 sheet and in :func:`problems_csv`."""
SEVERITY_LABELS: dict[Severity, str] = {"error": "错误", "warning": "警告"}
_SEVERITY_BY_LABEL: dict[str, Severity] = {label: severity for severity, label in SEVERITY_LABELS.items()}

_FILLS: dict[Severity, PatternFill] = {
    "error": PatternFill("solid", fgColor="FFC7CE"),  # Excel's "Bad" red
    "warning": PatternFill("solid", fgColor="FFEB9C"),  # Excel's "Neutral" yellow
}
_STYLE_NAMES: dict[Severity, str] = {"error": "planwatch 错误", "warning": "planwatch 警告"}
_DATE = "yyyy-mm-dd"
_DATETIME = "yyyy-mm-dd hh:mm:ss"
_TIME = "hh:mm:ss"
_EXCEL_MAX_ROWS = 1_048_576

MAX_COMMENTS = 10_000
"""Cell comments beyond this many are left out (the fill and the 错误说明 column stay): each one is
a drawing shape that openpyxl holds in memory and Excel draws on opening; 200,000 of them take
over a gigabyte to write and minutes to open."""


@dataclass(frozen=True)
class CellProblem:
    """One thing wrong in an uploaded table."""

    row: int
    """``RawRow.number``, the row as the user sees it (header = 1); 0 for a whole-file problem."""
    field: str | None
    """The canonical field of the cell; ``None`` for a whole-row problem."""
    value: str
    """The offending value as text, ``""`` if none."""
    message: str
    severity: Severity = "error"


def annotated_xlsx(
    table: Table, problems: Sequence[CellProblem], *, title: str, max_comments: int = MAX_COMMENTS
) -> bytes:
    """The uploaded table with its problems marked, as an XLSX workbook the user can fix and re-upload.

    Parameters
    ----------
    table
        The table as read by :func:`planwatch.ingest.readers.read_table`.
    problems
        What is wrong in it; problems on row 0 (the whole file) only appear in the list.
    title
        Shown at the top of the 问题清单 sheet and stored as the workbook title.
    max_comments
        At most this many cells get a comment, the first ones by row; the 问题清单 sheet says
        when some were left out.

    Returns
    -------
    bytes
        Sheet 数据: the header as written, each row at its own row number and each column at its
        own position in the upload (formulas as text, dates as dates), plus a last column 错误说明
        with the row's messages; each cell with a problem filled and commented. Sheet 问题清单:
        the title, a count, and every problem sorted by row.
    """
    workbook = Workbook(write_only=True)
    workbook.properties.title = title
    workbook.properties.creator = AUTHOR
    styles = _add_styles(workbook)
    uncommented = _write_data_sheet(
        workbook.create_sheet(DATA_SHEET), table, problems, styles, max_comments=max_comments
    )
    _write_problem_sheet(
        workbook.create_sheet(PROBLEMS_SHEET), table, problems, styles, title=title, uncommented=uncommented
    )
    return workbook_bytes(workbook)


def problems_csv(problems: Sequence[CellProblem], table: Table | None = None) -> bytes:
    """The problems as CSV (行号, 列, 值, 级别, 说明), sorted by row; UTF-8 with a BOM, formula-like
    text escaped. With ``table``, the column is named by its header as written in the upload."""
    return csv_bytes(PROBLEM_HEADERS, _problem_lines(problems, table))


# --- layout -----------------------------------------------------------------------------------


def _label(field: str | None, table: Table | None) -> str:
    """The column as the user knows it: its header as written, else the field's Chinese name."""
    if field is None:
        return ""
    if table is not None:
        index = table.index(field)
        if index is not None and index < len(table.headers):
            return table.headers[index]
    aliases = FIELDS.get(field)
    return aliases[0] if aliases else field


def _column(field: str | None, table: Table | None) -> int | None:
    """The problem's 0-based column in the table, ``None`` for a whole-row problem or a missing column."""
    if field is None or table is None:
        return None
    index = table.index(field)
    return index if index is not None and index < len(table.headers) else None


def _sorted(problems: Sequence[CellProblem], table: Table | None) -> list[CellProblem]:
    def key(problem: CellProblem) -> tuple[int, int]:
        column = _column(problem.field, table)
        return (problem.row, 1_000_000 if column is None else column)

    return sorted(problems, key=key)  # stable: problems on one cell keep their order


def _problem_lines(problems: Sequence[CellProblem], table: Table | None) -> Iterator[tuple[object, ...]]:
    for problem in _sorted(problems, table):
        yield (
            problem.row or None,
            _label(problem.field, table),
            problem.value,
            SEVERITY_LABELS[problem.severity],
            problem.message,
        )


def _note(problem: CellProblem, table: Table) -> str:
    """A problem as one line of the 错误说明 column: ``[警告] 列：说明``."""
    label = _label(problem.field, table)
    text = f"{label}：{problem.message}" if label else problem.message
    return f"[警告] {text}" if problem.severity == "warning" else text


def _worst(problems: Sequence[CellProblem]) -> Severity:
    return "error" if any(problem.severity == "error" for problem in problems) else "warning"


def _add_styles(workbook: Workbook) -> dict[Severity, StyleArray]:
    """Register a named style per severity; returns each one's style array, which a cell is built
    from at the cost of a copy (see ``template._add_styles``)."""
    arrays: dict[Severity, StyleArray] = {}
    for severity, fill in _FILLS.items():
        style = NamedStyle(_STYLE_NAMES[severity], fill=fill)
        workbook.add_named_style(style)
        arrays[severity] = style.as_tuple()
    return arrays


# --- the 数据 sheet ---------------------------------------------------------------------------


def _write_data_sheet(
    sheet: WriteOnlyWorksheet,
    table: Table,
    problems: Sequence[CellProblem],
    styles: dict[Severity, StyleArray],
    *,
    max_comments: int,
) -> int:
    """Write the table with its problems marked; returns how many flagged cells got no comment."""
    # Each column goes back to its position in the upload (Table.columns), so the column letters
    # in messages still match; the reader drops an old 错误说明 column, and a new one goes last.
    positions = list(table.columns) if len(table.columns) == len(table.headers) else None
    if positions is None:
        positions = list(range(1, len(table.headers) + 1))
    notes_position = max(positions, default=0) + 1
    header_row = table.header_row

    by_cell: dict[tuple[int, int], list[CellProblem]] = defaultdict(list)
    by_row: dict[int, list[CellProblem]] = defaultdict(list)
    for problem in problems:
        column = _column(problem.field, table)
        if problem.row == header_row and column is not None:
            by_cell[problem.row, positions[column]].append(problem)
        elif problem.row > header_row:
            if column is not None:
                by_cell[problem.row, positions[column]].append(problem)
            by_row[problem.row].append(problem)

    setup = sheet_setup(sheet)
    sample = ([_shown(value) for value in row.cells] for row in table.rows[:1000])
    widths = column_widths(table.headers, sample)
    for position, column_width in zip(positions, widths, strict=True):
        setup.column_dimensions[get_column_letter(position)].width = column_width
    setup.column_dimensions[get_column_letter(notes_position)].width = 60
    sheet.freeze_panes = f"A{header_row + 1}"

    for _ in range(header_row - 1):
        sheet.append([])
    bold = Font(bold=True)
    comments = 0
    header_cells: list[object] = [None] * notes_position
    for position, header in zip(
        [*positions, notes_position], [*table.headers, FIELDS["problems"][0]], strict=True
    ):
        cell = text_cell(sheet, header)
        cell.font = bold
        flagged = by_cell.get((header_row, position))
        if flagged:
            cell.fill = _FILLS[_worst(flagged)]
            if comments < max_comments:
                cell.comment = _comment(flagged, table)
                comments += 1
        header_cells[position - 1] = cell
    sheet.append(header_cells)

    cells_by_row = {row.number: row.cells for row in table.rows if row.number > header_row}
    written = header_row
    for number in sorted(cells_by_row.keys() | by_row.keys()):
        if number > _EXCEL_MAX_ROWS:
            break
        while written < number - 1:
            sheet.append([])
            written += 1
        cells: list[object] = [None] * notes_position
        for position, value in zip(positions, cells_by_row.get(number, ()), strict=False):
            flagged = by_cell.get((number, position))
            if flagged:
                cell = _styled_cell(sheet, value, styles[_worst(flagged)])
                if comments < max_comments:
                    cell.comment = _comment(flagged, table)
                    comments += 1
                cells[position - 1] = cell
            else:
                cells[position - 1] = _plain_value(sheet, value)
        row_problems = by_row.get(number)
        if row_problems:
            notes = "；".join(_note(problem, table) for problem in _sorted(row_problems, table))
            cells[notes_position - 1] = text_cell(sheet, notes, style=styles[_worst(row_problems)])
        sheet.append(cells)
        written = number
    return len(by_cell) - comments


def _shown(value: object) -> object:
    return value.formula if isinstance(value, FormulaCell) else value


def _comment(problems: Sequence[CellProblem], table: Table) -> Comment:
    return comment("\n".join(_note(problem, table) for problem in problems))


def _plain_value(sheet: WriteOnlyWorksheet, value: object) -> object:
    """What to append for an unflagged cell: a bare value where openpyxl keeps it as it is (the
    fast path), a cell where it needs a string type or a date format."""
    if isinstance(value, str | int | float) or value is None:
        return safe_value(sheet, value)
    return _styled_cell(sheet, value)


def _styled_cell(sheet: WriteOnlyWorksheet, value: object, style: StyleArray | None = None) -> Cell:
    """A cell holding the uploaded value as the reader gave it: text stays text, a formula is
    shown as its text, dates keep a date format."""
    if isinstance(value, FormulaCell):
        return text_cell(sheet, value.formula, style=style)
    if isinstance(value, str):
        return text_cell(sheet, value, style=style)
    if isinstance(value, datetime):
        value = value.replace(tzinfo=None)  # Excel has no time zones
        return _cell(sheet, value, style, _DATE if value.time() == time() else _DATETIME)
    if isinstance(value, date):
        return _cell(sheet, value, style, _DATE)
    if isinstance(value, time):
        return _cell(sheet, value.replace(tzinfo=None), style, _TIME)
    if isinstance(value, float):
        return _cell(sheet, finite(value), style)
    if isinstance(value, int) or value is None:
        return _cell(sheet, value, style)
    return text_cell(sheet, str(value), style=style)


def _cell(
    sheet: WriteOnlyWorksheet,
    value: float | datetime | date | time | None,
    style: StyleArray | None,
    number_format: str | None = None,
) -> Cell:
    # row and column are placeholders: a write-only sheet numbers the cells it is given.
    cell = Cell(sheet, row=1, column=1, value=value, style_array=style)
    if number_format is not None:
        cell.number_format = number_format
    return cell


# --- the 问题清单 sheet -----------------------------------------------------------------------

_PROBLEM_WIDTHS = (8, 16, 24, 8, 80)
_LIST_HEADER_ROW = 4


def _write_problem_sheet(
    sheet: WriteOnlyWorksheet,
    table: Table,
    problems: Sequence[CellProblem],
    styles: dict[Severity, StyleArray],
    *,
    title: str,
    uncommented: int,
) -> None:
    setup = sheet_setup(sheet)
    for position, column_width in enumerate(_PROBLEM_WIDTHS, 1):
        setup.column_dimensions[get_column_letter(position)].width = column_width
    sheet.freeze_panes = f"A{_LIST_HEADER_ROW + 1}"

    errors = sum(problem.severity == "error" for problem in problems)
    heading = text_cell(sheet, title)
    heading.font = Font(bold=True, size=14)
    sheet.append([heading])
    sheet.append(
        [
            text_cell(
                sheet,
                f"错误 {errors} 个，警告 {len(problems) - errors} 个。“{DATA_SHEET}”表中红色单元格为错误，"
                f"黄色为警告，批注写明原因；改正后可直接上传本文件，“{FIELDS['problems'][0]}”列不会导入。",
            )
        ]
    )
    if uncommented:
        sheet.append(
            [
                text_cell(
                    sheet,
                    f"问题单元格太多，其中 {uncommented} 个没有批注；原因见每行的“{FIELDS['problems'][0]}”列。",
                )
            ]
        )
    else:
        sheet.append([])
    bold = Font(bold=True)
    header_cells = []
    for header in PROBLEM_HEADERS:
        cell = text_cell(sheet, header)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)

    room = _EXCEL_MAX_ROWS - _LIST_HEADER_ROW - 1
    for listed, line in enumerate(_problem_lines(problems, table)):
        if listed == room:
            sheet.append(
                [text_cell(sheet, f"另有 {len(problems) - room} 个问题未列出，请下载问题清单 CSV。")]
            )
            break
        cells = [safe_value(sheet, value) for value in line]
        label = str(line[3])
        cells[3] = text_cell(sheet, label, style=styles[_SEVERITY_BY_LABEL[label]])
        sheet.append(cells)
