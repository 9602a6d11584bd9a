"""The data-entry template (填报模板) a department downloads, as XLSX or CSV.

One row per (indicator, division, period) to report, pre-filled with the current values so that
re-importing an unchanged template changes nothing. The header texts are the first alias of each
field in :data:`planwatch.ingest.readers.FIELDS`, so a filled template reads back through
:func:`planwatch.ingest.readers.read_table`.

Text that a spreadsheet could take for a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) is never written as one: XLSX stores it as a string cell with Excel's
quote prefix, CSV prefixes it with an apostrophe (formula injection, OWASP ASVS 1.2.10). The cell
helpers at the end of this module are shared with :mod:`planwatch.ingest.report`.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, cast

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill, Protection
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.cell_range import MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from planwatch.ingest.readers import FIELDS

__all__ = ["GUIDE_SHEET", "TEMPLATE_FIELDS", "TemplateRow", "template_csv", "template_xlsx"]

TEMPLATE_FIELDS: tuple[str, ...] = (
    "indicator",
    "indicator_name",
    "division",
    "division_name",
    "period",
    "unit",
    "value",
    "numerator",
    "denominator",
    "comment",
    "definition",
)
"""Column order of the template; the header of each is ``FIELDS[field][0]``."""

INPUT_FIELDS = frozenset({"value", "numerator", "denominator", "comment"})
"""The columns a department fills in; every other column is informational and locked."""

DATA_SHEET = "数据"
GUIDE_SHEET = "填报说明"

PERCENT_HINT = "百分比直接写数字：12.5% 写 12.5。"
AUTHOR = "planwatch"
LEGEND = (
    "“数据”表中灰色单元格是说明，已锁定；白色单元格（数值、分子、分母、备注）填写。",
    PERCENT_HINT,
    "工作表保护没有密码，只为防止误改代码；确需修改时可在“审阅”中撤销保护。",
)
"""Lines the 填报说明 sheet always shows after the caller's instructions."""

_MIN_WIDTH = 8
_MAX_WIDTH = 50
_WIDTH_SAMPLE = 1000
"""Column widths are fitted to the header and the first rows; scanning 200,000 rows buys nothing."""


@dataclass(frozen=True)
class TemplateRow:
    """One (indicator, division, period) to report, with what the department needs to fill it."""

    indicator_code: str
    indicator_name: str
    division_code: str
    division_name: str
    period: str
    """``2025``, ``2025Q2`` or ``2025-05``."""
    unit: str
    definition: str | None
    ratio: bool
    """The numerator and denominator columns apply."""
    numerator_label: str | None
    denominator_label: str | None
    low: float | None
    """Plausible bounds for Excel's data validation; ``None`` leaves that side open."""
    high: float | None
    boolean: bool
    """Unit 是/否 (1/0): only 0 or 1."""
    value: float | None = None
    """Current values, pre-filled so that re-importing an unchanged template changes nothing."""
    numerator: float | None = None
    denominator: float | None = None
    comment: str | None = None


def template_xlsx(rows: Sequence[TemplateRow], *, title: str, instructions: Sequence[str]) -> bytes:
    """The template as an XLSX workbook.

    Parameters
    ----------
    rows
        The rows to report, in the order they should appear.
    title
        Shown at the top of the 填报说明 sheet and stored as the workbook title.
    instructions
        Lines shown under the title on the 填报说明 sheet.

    Returns
    -------
    bytes
        A workbook whose first sheet 数据 has the header in row 1 and one row per ``TemplateRow``:
        informational columns grey and locked, input columns unlocked, data validation on the
        input cells, the sheet protected without a password. The second sheet 填报说明 holds the
        title, the instructions and each indicator once with its unit and definition.
    """
    workbook = Workbook(write_only=True)
    workbook.properties.title = title
    workbook.properties.creator = AUTHOR
    styles = _add_styles(workbook)
    _write_data_sheet(workbook.create_sheet(DATA_SHEET), rows, styles)
    _write_guide_sheet(
        workbook.create_sheet(GUIDE_SHEET), rows, styles, title=title, instructions=instructions
    )
    return workbook_bytes(workbook)


def template_csv(rows: Sequence[TemplateRow]) -> bytes:
    """The template as CSV: UTF-8 with a BOM (so Excel opens it right), RFC 4180 quoting.

    Formula-like text gets a leading apostrophe; numbers are written without a trailing ``.0``.
    """
    return csv_bytes(_headers(), (_values(row) for row in rows))


# --- the 数据 sheet ---------------------------------------------------------------------------

_HEADER_INFO = "planwatch 表头"
_HEADER_INPUT = "planwatch 表头（填写）"
_INFO = "planwatch 只读"
_INPUT = "planwatch 填写"
_TITLE = "planwatch 标题"
_GREY = "F2F2F2"


def _add_styles(workbook: Workbook) -> dict[str, StyleArray]:
    """Register the template's named styles; returns each one's style array.

    Cells are built from the array (as openpyxl's own ``cell.style = name`` does), which costs a
    copy instead of a lookup per cell; the named styles also tell in Excel's style gallery what
    each grey means.
    """
    bold = Font(bold=True)
    locked, unlocked = Protection(locked=True), Protection(locked=False)
    header_alignment = Alignment(horizontal="center", vertical="center")
    arrays: dict[str, StyleArray] = {}
    for style in (
        NamedStyle(
            _HEADER_INFO,
            font=bold,
            fill=PatternFill("solid", fgColor="D9D9D9"),
            protection=locked,
            alignment=header_alignment,
        ),
        NamedStyle(
            _HEADER_INPUT,
            font=bold,
            fill=PatternFill("solid", fgColor="DDEBF7"),
            protection=locked,
            alignment=header_alignment,
        ),
        NamedStyle(_INFO, fill=PatternFill("solid", fgColor=_GREY), protection=locked, number_format="@"),
        NamedStyle(_INPUT, protection=unlocked),
        NamedStyle(_TITLE, font=Font(bold=True, size=14)),
    ):
        workbook.add_named_style(style)
        arrays[style.name] = style.as_tuple()
    return arrays


def _headers() -> list[str]:
    return [FIELDS[field][0] for field in TEMPLATE_FIELDS]


def _values(row: TemplateRow) -> list[str | float | None]:
    """The row's cells in ``TEMPLATE_FIELDS`` order."""
    return [
        row.indicator_code,
        row.indicator_name,
        row.division_code,
        row.division_name,
        row.period,
        row.unit,
        row.value,
        row.numerator,
        row.denominator,
        row.comment,
        row.definition,
    ]


_COLUMN = {field: get_column_letter(position) for position, field in enumerate(TEMPLATE_FIELDS, 1)}
_PAIR = frozenset({"numerator", "denominator"})


def _write_data_sheet(
    sheet: WriteOnlyWorksheet, rows: Sequence[TemplateRow], styles: dict[str, StyleArray]
) -> None:
    headers = _headers()
    setup = sheet_setup(sheet)
    for position, width in enumerate(
        column_widths(headers, (_values(row) for row in rows[:_WIDTH_SAMPLE])), 1
    ):
        setup.column_dimensions[get_column_letter(position)].width = width
    sheet.freeze_panes = "A2"
    last_column = get_column_letter(len(headers))
    setup.auto_filter.ref = f"A1:{last_column}{len(rows) + 1}"

    header_cells: list[Cell] = []
    for field, header in zip(TEMPLATE_FIELDS, headers, strict=True):
        cell = text_cell(
            sheet, header, style=styles[_HEADER_INPUT if field in INPUT_FIELDS else _HEADER_INFO]
        )
        if field == "value":
            cell.comment = comment(PERCENT_HINT)
        header_cells.append(cell)
    sheet.append(header_cells)

    validations = _Validations()
    for number, row in enumerate(rows, 2):
        cells: list[Cell] = []
        for field, value in zip(TEMPLATE_FIELDS, _values(row), strict=True):
            inactive = field in _PAIR and not row.ratio
            style = styles[_INPUT if field in INPUT_FIELDS and not inactive else _INFO]
            cells.append(
                text_cell(sheet, value, style=style)
                if isinstance(value, str)
                else Cell(sheet, row=1, column=1, value=finite(value), style_array=style)
            )
        sheet.append(cells)
        validations.add_row(number, row)

    for validation in validations.build():
        setup.data_validations.append(validation)
    # No password: the protection keeps codes from being overwritten by accident, and anyone who
    # means to change the sheet can lift it from the Review tab.
    setup.protection.sheet = True
    setup.protection.formatColumns = False
    setup.protection.formatRows = False
    setup.protection.autoFilter = False


_Runs = list[list[int]]
"""Runs of consecutive rows as ``[first, last]``."""
_Bounds = tuple[float | None, float | None]


def _extend(runs: _Runs, number: int) -> None:
    if runs and runs[-1][1] == number - 1:
        runs[-1][1] = number
    else:
        runs.append([number, number])


class _Validations:
    """Collects the cells each data validation covers as runs of consecutive rows, so a template
    gets one validation per distinct rule, not one per cell."""

    def __init__(self) -> None:
        self._bounds: dict[_Bounds, _Runs] = {}
        self._boolean: _Runs = []
        self._pairs: dict[tuple[str, str], _Runs] = {}

    def add_row(self, number: int, row: TemplateRow) -> None:
        if row.boolean:
            _extend(self._boolean, number)
        else:
            _extend(self._bounds.setdefault((_bound(row.low), _bound(row.high)), []), number)
        if row.ratio:
            _extend(self._pairs.setdefault(("numerator", row.numerator_label or ""), []), number)
            _extend(self._pairs.setdefault(("denominator", row.denominator_label or ""), []), number)

    def build(self) -> list[DataValidation]:
        built = [_placed(_bounds_rule(bounds), "value", runs) for bounds, runs in self._bounds.items()]
        if self._boolean:
            built.append(_placed(_boolean_rule(), "value", self._boolean))
        built.extend(
            _placed(_pair_rule(field, label), field, runs) for (field, label), runs in self._pairs.items()
        )
        return built


def _placed(validation: DataValidation, field: str, runs: _Runs) -> DataValidation:
    column = _COLUMN[field]
    validation.sqref = MultiCellRange(
        " ".join(
            f"{column}{first}" if first == last else f"{column}{first}:{column}{last}" for first, last in runs
        )
    )
    return validation


def _bound(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _rule(
    kind: Literal["decimal", "list"],
    formula1: str,
    formula2: str | None = None,
    *,
    operator: Literal["between", "greaterThanOrEqual", "lessThanOrEqual"] | None = None,
    stop: bool,
    error_title: str,
    error: str,
    prompt_title: str,
    prompt: str,
) -> DataValidation:
    # Excel refuses titles over 32 characters and messages over 255.
    return DataValidation(
        type=kind,
        operator=operator,
        formula1=formula1,
        formula2=formula2,
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorStyle="stop" if stop else "warning",
        errorTitle=_clip(error_title, 32),
        error=_clip(error, 255),
        promptTitle=_clip(prompt_title, 32),
        prompt=_clip(prompt, 255),
    )


def _boolean_rule() -> DataValidation:
    return _rule(
        "list",
        '"1,0"',
        stop=True,
        error_title="只能填 1 或 0",
        error="是填 1，否填 0。",
        prompt_title="是/否",
        prompt="是填 1，否填 0。",
    )


def _pair_rule(field: str, label: str) -> DataValidation:
    name = FIELDS[field][0]
    return _rule(
        "decimal",
        "0",
        operator="greaterThanOrEqual",
        stop=True,
        error_title=f"{name}无效",
        error=f"{name}须为不小于 0 的数字。",
        prompt_title=name,
        prompt=label or "不小于 0 的数字。",
    )


def _any_number_rule() -> DataValidation:
    # Excel has no "any number" rule: a range wider than any indicator value stands in for it.
    return _rule(
        "decimal",
        "-1E+307",
        "1E+307",
        operator="between",
        stop=True,
        error_title="数值须为数字",
        error=f"请填写数字，不要带单位或文字；说明写在“{FIELDS['comment'][0]}”列。{PERCENT_HINT}",
        prompt_title="数值",
        prompt=PERCENT_HINT,
    )


def _bounds_rule(bounds: _Bounds) -> DataValidation:
    low, high = bounds
    operator: Literal["between", "greaterThanOrEqual", "lessThanOrEqual"]
    formulas: tuple[str, str | None]
    if low is not None and high is not None:
        allowed, operator, formulas = (
            f"{number_text(low)} 到 {number_text(high)} 之间",
            "between",
            (_formula(low), _formula(high)),
        )
    elif low is not None:
        allowed, operator, formulas = (
            f"不小于 {number_text(low)}",
            "greaterThanOrEqual",
            (_formula(low), None),
        )
    elif high is not None:
        allowed, operator, formulas = f"不大于 {number_text(high)}", "lessThanOrEqual", (_formula(high), None)
    else:
        return _any_number_rule()
    # A warning, not a stop: the bounds are plausible, not certain, and the import checks again.
    return _rule(
        "decimal",
        *formulas,
        operator=operator,
        stop=False,
        error_title="数值超出合理范围",
        error=f"数值应为{allowed}的数字。确认无误可选“是”保留，并在“{FIELDS['comment'][0]}”列说明。",
        prompt_title="数值",
        prompt=f"{allowed}的数字。{PERCENT_HINT}",
    )


def _formula(value: float) -> str:
    return number_text(value).upper()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the 填报说明 sheet -----------------------------------------------------------------------

_GUIDE_FIELDS = ("indicator", "indicator_name", "unit", "definition", "numerator", "denominator")
_GUIDE_WIDTHS = (14, 30, 12, 60, 30, 30)


def _write_guide_sheet(
    sheet: WriteOnlyWorksheet,
    rows: Sequence[TemplateRow],
    styles: dict[str, StyleArray],
    *,
    title: str,
    instructions: Sequence[str],
) -> None:
    setup = sheet_setup(sheet)
    for position, width in enumerate(_GUIDE_WIDTHS, 1):
        setup.column_dimensions[get_column_letter(position)].width = width
    sheet.append([text_cell(sheet, title, style=styles[_TITLE])])
    for line in (*instructions, *LEGEND):
        sheet.append([text_cell(sheet, line)])
    sheet.append([])
    sheet.append([text_cell(sheet, "指标说明", style=styles[_TITLE])])
    sheet.append([text_cell(sheet, FIELDS[field][0], style=styles[_HEADER_INFO]) for field in _GUIDE_FIELDS])
    seen: set[str] = set()
    for row in rows:
        if row.indicator_code in seen:
            continue
        seen.add(row.indicator_code)
        texts = (
            row.indicator_code,
            row.indicator_name,
            row.unit,
            row.definition,
            row.numerator_label if row.ratio else None,
            row.denominator_label if row.ratio else None,
        )
        sheet.append([None if text is None else text_cell(sheet, text) for text in texts])


# --- cell plumbing shared with report.py ------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Text starting with one of these could be run as a formula by a spreadsheet (OWASP ASVS 1.2.10)."""

_EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})


def sheet_setup(sheet: WriteOnlyWorksheet) -> Worksheet:
    """The sheet seen as a ``Worksheet``: a write-only sheet gets its column dimensions, protection,
    auto filter and data validations from ``Worksheet._setup``, but the type stubs omit them."""
    return cast(Worksheet, sheet)


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could take this text for a formula."""
    return text.startswith(FORMULA_PREFIXES)


def finite(value: float | None) -> float | None:
    """``value`` unless it is a NaN or an infinity, which XLSX cannot hold: those become ``None``."""
    return None if value is None or not math.isfinite(value) else value


def plain_text(text: str) -> str:
    """Text a worksheet can hold: control characters XML forbids become U+FFFD, at most 32,767
    characters (Excel's limit)."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)[:32767]


def text_cell(sheet: WriteOnlyWorksheet, text: str, *, style: StyleArray | None = None) -> Cell:
    """A string cell that stays a string: never a formula or an error value, and formula-like text
    carries Excel's quote prefix so that editing the cell does not turn it into a formula."""
    # row and column are placeholders: a write-only sheet numbers the cells it is given.
    cell = Cell(sheet, row=1, column=1, value=plain_text(text), style_array=style)
    cell.data_type = "s"
    if formula_like(text):
        cell.quotePrefix = True
    return cell


def safe_value(sheet: WriteOnlyWorksheet, value: object) -> object:
    """What to append for a plain (unstyled) value: text that openpyxl would read as a formula or
    an error value goes in a string cell, other text and numbers as they are."""
    if isinstance(value, str):
        text = plain_text(value)
        if formula_like(text) or text in _EXCEL_ERRORS:
            return text_cell(sheet, text)
        return text
    if isinstance(value, float):
        return finite(value)
    return value


def comment(text: str) -> Comment:
    """A cell comment sized to its text (about 18 CJK characters a line)."""
    lines = sum(1 + display_width(line) // 36 for line in text.splitlines() or [""])
    return Comment(text, AUTHOR, height=24 + 18 * lines, width=240)


def display_width(text: str) -> int:
    """Width in Excel's character units: CJK and other wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def column_widths(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[float]:
    """Column widths fitted to the header and the given rows, between 8 and 50 characters."""
    widths = [display_width(header) + 4 for header in headers]
    for row in rows:
        for position, value in enumerate(row[: len(widths)]):
            if value is not None:
                text = value if isinstance(value, str) else number_text(value)
                widths[position] = max(widths[position], display_width(text) + 2)
    return [float(min(max(width, _MIN_WIDTH), _MAX_WIDTH)) for width in widths]


def number_text(value: object) -> str:
    """A number as text without float noise: ``12.0`` -> ``12``, ``12.5`` -> ``12.5``; NaN and
    infinities -> ``""``; anything else -> ``str(value)``."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else ""
    return str(value)


def csv_field(value: object) -> str:
    """One CSV field: ``None`` -> ``""``, numbers as :func:`number_text`, formula-like text with
    a leading apostrophe (numbers, negative ones included, stay numbers)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if formula_like(value) else value
    if isinstance(value, int | float | Decimal):
        return number_text(value)
    return csv_field(str(value))


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A CSV file: UTF-8 with a BOM, CRLF line ends and minimal quoting (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_field(header) for header in headers])
    writer.writerows([csv_field(value) for value in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
