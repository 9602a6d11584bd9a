"""The data-entry template: layout, protection, validation, formula escaping and the round trip."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from planwatch.ingest.readers import FIELDS, read_table
from planwatch.ingest.template import (
    TEMPLATE_FIELDS,
    TemplateRow,
    csv_field,
    number_text,
    template_csv,
    template_xlsx,
)

HEADERS = [FIELDS[field][0] for field in TEMPLATE_FIELDS]


def make_row(**changes: Any) -> TemplateRow:
    """A percentage indicator with bounds 0..100 for one district; override what a test needs."""
    row = TemplateRow(
        indicator_code="A01",
        indicator_name="常住人口城镇化率",
        division_code="510104",
        division_name="锦江区",
        period="2025",
        unit="%",
        definition="城镇常住人口占常住人口的比重",
        ratio=False,
        numerator_label=None,
        denominator_label=None,
        low=0.0,
        high=100.0,
        boolean=False,
    )
    return replace(row, **changes)


def ratio_row(**changes: Any) -> TemplateRow:
    return make_row(
        indicator_code="B02",
        indicator_name="每千人口医生数",
        unit="人",
        ratio=True,
        numerator_label="执业（助理）医师数（人）",
        denominator_label="常住人口（千人）",
        low=0.0,
        high=None,
        **changes,
    )


def boolean_row(**changes: Any) -> TemplateRow:
    return make_row(
        indicator_code="C03",
        indicator_name="是否建成智慧社区",
        unit="是/否(1/0)",
        low=None,
        high=None,
        boolean=True,
        **changes,
    )


def open_row(**changes: Any) -> TemplateRow:
    return make_row(
        indicator_code="D04", indicator_name="地区生产总值", unit="亿元", low=None, high=None, **changes
    )


def workbook_of(rows: list[TemplateRow], **kwargs: Any) -> Workbook:
    data = template_xlsx(
        rows,
        title=kwargs.get("title", "2025年度数据填报"),
        instructions=kwargs.get("instructions", ["第一行", "第二行"]),
    )
    return load_workbook(io.BytesIO(data))


def data_sheet(rows: list[TemplateRow]) -> Worksheet:
    sheet = workbook_of(rows)["数据"]
    assert isinstance(sheet, Worksheet)
    return sheet


def column(field: str) -> str:
    return "ABCDEFGHIJK"[TEMPLATE_FIELDS.index(field)]


SAMPLE = [
    make_row(value=12.5, comment="已核实"),
    make_row(division_code="510105", division_name="青羊区", value=None),
    ratio_row(value=3.2, numerator=320.0, denominator=100.0),
    boolean_row(value=1.0),
    open_row(value=-3.2, comment="-3.2 为负增长"),
]


# --- header and round trip ---------------------------------------------------------------------


def test_template_fields_have_a_chinese_header_each() -> None:
    assert set(TEMPLATE_FIELDS) <= set(FIELDS)
    assert HEADERS[:7] == ["指标代码", "指标名称", "区划代码", "区划名称", "期间", "单位", "数值"]


def test_xlsx_reads_back_as_the_same_fields_and_rows() -> None:
    table = read_table(template_xlsx(SAMPLE, title="t", instructions=[]), "模板.xlsx")

    assert table.sheet == "数据"
    assert table.fields == TEMPLATE_FIELDS
    assert list(table.headers) == HEADERS
    assert [row.number for row in table.rows] == [2, 3, 4, 5, 6]
    expected = [
        (r.indicator_code, r.indicator_name, r.division_code, r.division_name, r.period, r.unit,
         r.value, r.numerator, r.denominator, r.comment, r.definition)
        for r in SAMPLE
    ]  # fmt: skip
    assert [row.cells for row in table.rows] == expected


def test_csv_reads_back_as_the_same_fields_and_rows() -> None:
    rows = [*SAMPLE, make_row(indicator_name="=1+1", comment='说明, 含"引号"\n和换行')]
    table = read_table(template_csv(rows), "模板.csv")

    assert table.fields == TEMPLATE_FIELDS
    assert list(table.headers) == HEADERS
    assert table.rows[0].cells[:7] == ("A01", "常住人口城镇化率", "510104", "锦江区", "2025", "%", "12.5")
    assert table.rows[2].cells[6:9] == ("3.2", "320", "100")
    assert table.rows[4].cells[6] == "-3.2"
    assert table.rows[4].cells[9] == "-3.2 为负增长"  # the escaping apostrophe is dropped on reading
    assert table.rows[5].cells[1] == "=1+1"
    assert table.rows[5].cells[9] == '说明, 含"引号"\n和换行'


# --- the 数据 sheet ---------------------------------------------------------------------------


def test_data_sheet_comes_first_with_header_frozen_and_widths_set() -> None:
    workbook = workbook_of(SAMPLE)
    assert workbook.sheetnames == ["数据", "填报说明"]
    sheet = workbook["数据"]
    assert [cell.value for cell in sheet[1]] == HEADERS
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width >= 16  # 常住人口城镇化率: 8 wide characters
    assert sheet.column_dimensions["K"].width <= 50
    assert sheet.auto_filter.ref == "A1:K6"


def test_sheet_is_protected_without_a_password() -> None:
    protection = data_sheet(SAMPLE).protection
    assert protection.sheet is True
    assert not protection.password
    assert protection.formatColumns is False  # widening a column stays allowed


def test_informational_cells_are_grey_and_locked_input_cells_unlocked() -> None:
    sheet = data_sheet(SAMPLE)
    for field in ("indicator", "indicator_name", "division", "division_name", "period", "unit", "definition"):
        cell = sheet[f"{column(field)}2"]
        assert cell.protection.locked, field
        assert cell.fill.fgColor.rgb == "00F2F2F2", field
    for field in ("value", "numerator", "denominator", "comment"):
        cell = sheet[f"{column(field)}4"]  # the ratio row: every input applies
        assert not cell.protection.locked, field
        assert cell.fill.fill_type is None, field


def test_numerator_and_denominator_are_greyed_where_they_do_not_apply() -> None:
    sheet = data_sheet(SAMPLE)
    for cell in (sheet["H2"], sheet["I2"]):
        assert cell.protection.locked
        assert cell.fill.fgColor.rgb == "00F2F2F2"
    assert sheet["H4"].value == 320
    assert not sheet["H4"].protection.locked


def test_values_are_prefilled_as_numbers() -> None:
    sheet = data_sheet(SAMPLE)
    assert sheet["G2"].value == 12.5
    assert sheet["G2"].data_type == "n"
    assert sheet["G3"].value is None
    assert sheet["G6"].value == -3.2
    assert sheet["J2"].value == "已核实"


def test_value_header_says_how_to_write_percentages() -> None:
    header = data_sheet(SAMPLE)["G1"]
    assert header.comment is not None
    assert "12.5% 写 12.5" in header.comment.text


def validations(sheet: Worksheet) -> dict[str, Any]:
    return {str(dv.sqref): dv for dv in sheet.data_validations.dataValidation}


def test_one_validation_per_distinct_bounds_over_runs_of_rows() -> None:
    rows = [make_row(), make_row(), ratio_row(), make_row(), boolean_row(), boolean_row(), open_row()]
    found = validations(data_sheet(rows))

    assert set(found) == {"G2:G3 G5", "G4", "G6:G7", "G8", "H4", "I4"}
    percent = found["G2:G3 G5"]
    assert (percent.type, percent.operator, percent.formula1, percent.formula2) == (
        "decimal",
        "between",
        "0",
        "100",
    )
    assert "0 到 100" in percent.error
    assert percent.errorStyle == "warning"
    assert "12.5% 写 12.5" in percent.prompt
    non_negative = found["G4"]
    assert (non_negative.operator, non_negative.formula1, non_negative.formula2) == (
        "greaterThanOrEqual",
        "0",
        None,
    )
    assert "不小于 0" in non_negative.error


def test_boolean_rows_accept_only_one_or_zero() -> None:
    rule = validations(data_sheet([boolean_row(), boolean_row()]))["G2:G3"]
    assert rule.type == "list"
    assert rule.formula1 == '"1,0"'
    assert rule.errorStyle == "stop"
    assert rule.showDropDown is not True  # in OOXML, showDropDown=1 hides the arrow
    assert "1" in rule.error
    assert "0" in rule.error


def test_upper_bound_only_and_open_rows() -> None:
    found = validations(data_sheet([make_row(low=None, high=1e-5), open_row()]))
    capped = found["G2"]
    assert (capped.operator, capped.formula1) == ("lessThanOrEqual", "1E-05")
    assert "不大于 1e-05" in capped.error
    open_rule = found["G3"]
    assert open_rule.type == "decimal"
    assert open_rule.errorStyle == "stop"


def test_numerator_and_denominator_must_not_be_negative_and_show_their_labels() -> None:
    found = validations(data_sheet([ratio_row(), ratio_row(), make_row()]))
    numerator, denominator = found["H2:H3"], found["I2:I3"]
    for rule in (numerator, denominator):
        assert (rule.type, rule.operator, rule.formula1) == ("decimal", "greaterThanOrEqual", "0")
        assert rule.errorStyle == "stop"
    assert numerator.prompt == "执业（助理）医师数（人）"
    assert denominator.prompt == "常住人口（千人）"
    assert "H4" not in found
    assert "I4" not in found


def test_many_rows_still_get_a_handful_of_validations() -> None:
    rows = [make_row(division_code=str(510000 + i)) for i in range(1500)] + [ratio_row() for _ in range(500)]
    found = validations(data_sheet(rows))
    assert set(found) == {"G2:G1501", "G1502:G2001", "H1502:H2001", "I1502:I2001"}


# --- formula injection -----------------------------------------------------------------------

FORMULA_LIKE = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")']


def test_formula_like_text_is_stored_as_text_in_xlsx() -> None:
    rows = [make_row(indicator_name=text, comment=text, definition=text) for text in FORMULA_LIKE]
    data = template_xlsx(rows, title="=标题", instructions=["=说明"])
    workbook = load_workbook(io.BytesIO(data))

    for sheet in workbook.worksheets:
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), sheet.title
    sheet = workbook["数据"]
    assert sheet["B2"].value == "=1+1"
    assert sheet["B2"].data_type == "s"
    assert sheet["B2"].quotePrefix  # Excel keeps it text when the cell is edited
    # XML turns a carriage return into a line feed on reading; the text is still text.
    assert [sheet[f"J{n}"].value for n in range(2, 9)] == [t.replace("\r", "\n") for t in FORMULA_LIKE]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(name), name


def test_error_codes_and_control_characters_stay_plain_text() -> None:
    sheet = data_sheet([make_row(indicator_name="#N/A", comment="响铃\x07字符")])
    assert sheet["B2"].value == "#N/A"
    assert sheet["B2"].data_type == "s"
    assert sheet["J2"].value == "响铃\ufffd字符"


def test_nan_values_are_left_empty() -> None:
    sheet = data_sheet([make_row(value=float("nan"))])
    assert sheet["G2"].value is None


# --- the 填报说明 sheet -----------------------------------------------------------------------


def test_guide_sheet_has_title_instructions_and_each_indicator_once() -> None:
    rows = [make_row(), make_row(division_code="510105"), ratio_row()]
    sheet = workbook_of(rows, title="2025年度填报", instructions=["截止日期：3月31日", "联系人：统计科"])[
        "填报说明"
    ]
    texts = [cell.value for row in sheet.iter_rows() for cell in row if cell.value is not None]

    assert texts[:3] == ["2025年度填报", "截止日期：3月31日", "联系人：统计科"]
    table = [
        tuple(cell.value for cell in row)
        for row in sheet.iter_rows()
        if row[0].value in ("指标代码", "A01", "B02")
    ]
    assert table == [
        ("指标代码", "指标名称", "单位", "定义", "分子", "分母"),
        ("A01", "常住人口城镇化率", "%", "城镇常住人口占常住人口的比重", None, None),
        (
            "B02",
            "每千人口医生数",
            "人",
            "城镇常住人口占常住人口的比重",
            "执业（助理）医师数（人）",
            "常住人口（千人）",
        ),
    ]


# --- CSV ------------------------------------------------------------------------------------


def test_csv_has_bom_crlf_and_the_template_header() -> None:
    data = template_csv(SAMPLE)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data[3:].decode("utf-8").split("\r\n")
    assert lines[0] == ",".join(HEADERS)
    assert lines[1] == "A01,常住人口城镇化率,510104,锦江区,2025,%,12.5,,,已核实,城镇常住人口占常住人口的比重"
    assert lines[-1] == ""
    assert len(lines) == len(SAMPLE) + 2


def test_csv_escapes_formula_like_text_but_not_numbers() -> None:
    data = template_csv([make_row(indicator_name="=1+1", comment="@cmd", value=-3.2)])
    line = data[3:].decode("utf-8").split("\r\n")[1]
    fields = line.split(",")
    assert fields[1] == "'=1+1"
    assert fields[6] == "-3.2"
    assert fields[9] == "'@cmd"


def test_csv_quotes_per_rfc_4180() -> None:
    data = template_csv([make_row(comment='a,b "c"\nd')])
    assert '"a,b ""c""\nd"' in data.decode("utf-8-sig")


@pytest.mark.parametrize(
    ("value", "text"),
    [(12.0, "12"), (12.5, "12.5"), (-3.2, "-3.2"), (0.1 + 0.2, "0.30000000000000004"), (1e20, "1e+20"),
     (-0.0, "0"), (7, "7"), (float("nan"), ""), (float("inf"), "")],
)  # fmt: skip
def test_number_text_drops_float_noise(value: float, text: str) -> None:
    assert number_text(value) == text


@pytest.mark.parametrize(
    ("value", "field"),
    [(None, ""), ("plain", "plain"), ("=x", "'=x"), ("+x", "'+x"), ("-x", "'-x"), ("@x", "'@x"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), (-3.2, "-3.2"), (12.0, "12")],
)  # fmt: skip
def test_csv_field_escapes_text_only(value: object, field: str) -> None:
    assert csv_field(value) == field
