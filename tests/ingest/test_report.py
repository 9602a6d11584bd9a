"""The annotated error report: marked cells, the 错误说明 column, the problem list, the round trip."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from planwatch.ingest.readers import FormulaCell, Table, read_table
from planwatch.ingest.report import CellProblem, annotated_xlsx, problems_csv

RED = "00FFC7CE"
YELLOW = "00FFEB9C"
HEADER = ["指标代码", "区划代码", "期间", "数值", "备注"]


def upload_xlsx(rows: list[list[object]], *, header: list[str] = HEADER, text: tuple[str, ...] = ()) -> bytes:
    """An uploaded workbook; values in ``text`` are stored as strings even when they look like formulas."""
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "数据"
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value in text:
                cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def uploaded(rows: list[list[object]], *, header: list[str] = HEADER, text: tuple[str, ...] = ()) -> Table:
    return read_table(upload_xlsx(rows, header=header, text=text), "上报.xlsx")


def sheets(data: bytes) -> tuple[Worksheet, Worksheet]:
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["数据", "问题清单"]
    data_sheet, problem_sheet = workbook["数据"], workbook["问题清单"]
    assert isinstance(data_sheet, Worksheet)
    assert isinstance(problem_sheet, Worksheet)
    return data_sheet, problem_sheet


ROWS: list[list[object]] = [
    ["A01", "510104", "2025", 12.5, None],
    ["A01", "510105", "2025", "abc", None],
    ["A01", "510106", "2025", 150, "偏高"],
    ["A01", "510107", "2025", 10, None],
    ["B01", "510104", "2025Q5", 3, None],
]
PROBLEMS = [
    CellProblem(3, "value", "abc", "不是数字"),
    CellProblem(4, "value", "150", "超出合理范围 0 到 100", "warning"),
    CellProblem(6, None, "", "与第 2 行重复"),
    CellProblem(6, "period", "2025Q5", "期间应为 2025、2025Q2 或 2025-05"),
    CellProblem(0, None, "", "文件没有“单位”列"),
    CellProblem(2, "unit", "", "缺少单位"),
]


def test_problem_cells_are_filled_and_commented() -> None:
    data_sheet, _ = sheets(annotated_xlsx(uploaded(ROWS), PROBLEMS, title="导入检查"))

    assert data_sheet["D3"].fill.fgColor.rgb == RED
    assert data_sheet["D3"].comment is not None
    assert data_sheet["D3"].comment.text == "数值：不是数字"
    assert data_sheet["D4"].fill.fgColor.rgb == YELLOW
    assert data_sheet["D4"].comment is not None
    assert data_sheet["D4"].comment.text == "[警告] 数值：超出合理范围 0 到 100"
    assert data_sheet["C6"].fill.fgColor.rgb == RED
    assert data_sheet["D3"].value == "abc"
    assert data_sheet["D4"].value == 150


def test_last_column_joins_each_rows_messages() -> None:
    data_sheet, _ = sheets(annotated_xlsx(uploaded(ROWS), PROBLEMS, title="导入检查"))

    assert [cell.value for cell in data_sheet[1]] == [*HEADER, "错误说明"]
    assert data_sheet["F2"].value == "单位：缺少单位"  # no 单位 column: the row says it
    assert data_sheet["F3"].value == "数值：不是数字"
    assert data_sheet["F3"].fill.fgColor.rgb == RED
    assert data_sheet["F4"].value == "[警告] 数值：超出合理范围 0 到 100"
    assert data_sheet["F4"].fill.fgColor.rgb == YELLOW
    assert data_sheet["F6"].value == "期间：期间应为 2025、2025Q2 或 2025-05；与第 2 行重复"


def test_rows_without_problems_are_untouched() -> None:
    data_sheet, _ = sheets(annotated_xlsx(uploaded(ROWS), PROBLEMS, title="导入检查"))

    assert [cell.value for cell in data_sheet[5]] == ["A01", "510107", "2025", 10, None, None]
    for cell in data_sheet[5]:
        assert cell.fill.fill_type is None
        assert cell.comment is None
    assert data_sheet["A3"].fill.fill_type is None


def test_problem_list_is_sorted_by_row_with_chinese_severities() -> None:
    _, problem_sheet = sheets(annotated_xlsx(uploaded(ROWS), PROBLEMS, title="2025年度导入检查"))

    assert problem_sheet["A1"].value == "2025年度导入检查"
    assert "错误 5 个，警告 1 个" in str(problem_sheet["A2"].value)
    listed = [tuple(row) for row in problem_sheet.iter_rows(min_row=4, values_only=True)]
    assert listed == [
        ("行号", "列", "值", "级别", "说明"),
        (None, None, None, "错误", "文件没有“单位”列"),
        (2, "单位", None, "错误", "缺少单位"),
        (3, "数值", "abc", "错误", "不是数字"),
        (4, "数值", "150", "警告", "超出合理范围 0 到 100"),
        (6, "期间", "2025Q5", "错误", "期间应为 2025、2025Q2 或 2025-05"),
        (6, None, None, "错误", "与第 2 行重复"),
    ]
    assert problem_sheet["D8"].fill.fgColor.rgb == YELLOW


def test_annotated_file_reads_back_as_the_upload() -> None:
    rows: list[list[object]] = [*ROWS, ["C01", "510104", datetime(2025, 5, 1), "=SUM(D2:D3)", "=cmd"]]
    table = uploaded(rows, text=("=cmd",))
    assert table.rows[-1].cells[3] == FormulaCell("=SUM(D2:D3)")

    again = read_table(annotated_xlsx(table, PROBLEMS, title="导入检查"), "导入检查.xlsx")

    assert again.headers == table.headers
    assert again.fields == table.fields
    assert [row.number for row in again.rows] == [row.number for row in table.rows]
    assert [row.cells for row in again.rows[:-1]] == [row.cells for row in table.rows[:-1]]
    # the formula comes back as its text, which the validator reports as not a number
    assert again.rows[-1].cells == ("C01", "510104", datetime(2025, 5, 1), "=SUM(D2:D3)", "=cmd")


def test_no_formula_cells_anywhere() -> None:
    table = uploaded(
        [["A01", "510104", "2025", "=SUM(D2:D3)", "=cmd|' /C calc'!A0"]], text=("=cmd|' /C calc'!A0",)
    )
    problems = [
        CellProblem(2, "value", "=SUM(D2:D3)", "公式没有计算结果"),
        CellProblem(2, "comment", "=cmd", "+bad"),
    ]
    data = annotated_xlsx(table, problems, title="=标题")

    for sheet in sheets(data):
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), sheet.title
    data_sheet, problem_sheet = sheets(data)
    assert data_sheet["D2"].value == "=SUM(D2:D3)"
    assert data_sheet["D2"].quotePrefix
    assert data_sheet["E2"].value == "=cmd|' /C calc'!A0"
    assert problem_sheet["C5"].value == "=SUM(D2:D3)"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(name), name


def test_datetimes_stay_dates() -> None:
    table = uploaded(
        [
            ["A01", "510104", datetime(2025, 5, 1), 1, None],
            ["A01", "510105", datetime(2025, 5, 1, 8, 30), 1, None],
        ]
    )
    data_sheet, _ = sheets(
        annotated_xlsx(table, [CellProblem(2, "period", "2025-05-01", "期间不能是日期")], title="t")
    )

    assert data_sheet["C2"].is_date
    assert data_sheet["C2"].value == datetime(2025, 5, 1)
    assert data_sheet["C2"].number_format == "yyyy-mm-dd"
    assert data_sheet["C3"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_rows_and_columns_keep_their_place() -> None:
    # a blank row before the header, a blank column between 区划代码 and 期间, a blank data row
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "数据"
    sheet.append([])
    sheet.append(["指标代码", "区划代码", None, "期间", "数值"])
    sheet.append(["A01", "510104", None, "2025", 1])
    sheet.append([])
    sheet.append(["A01", "510105", None, "2025", "x"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue(), "上报.xlsx")
    assert (table.header_row, table.columns, [row.number for row in table.rows]) == (2, (1, 2, 4, 5), [3, 5])

    data_sheet, _ = sheets(annotated_xlsx(table, [CellProblem(5, "value", "x", "不是数字")], title="t"))

    assert [cell.value for cell in data_sheet[2]] == [
        "指标代码",
        "区划代码",
        None,
        "期间",
        "数值",
        "错误说明",
    ]
    assert data_sheet["E5"].value == "x"
    assert data_sheet["E5"].fill.fgColor.rgb == RED
    assert data_sheet["F5"].value == "数值：不是数字"
    assert all(cell.value is None for cell in data_sheet[4])
    assert data_sheet.freeze_panes == "A3"
    again = read_table(annotated_xlsx(table, [], title="t"), "again.xlsx")
    assert [(row.number, row.cells) for row in again.rows] == [(row.number, row.cells) for row in table.rows]


def test_reannotating_replaces_the_old_messages() -> None:
    first = annotated_xlsx(uploaded(ROWS), PROBLEMS, title="t")
    table = read_table(first, "t.xlsx")
    assert "problems" not in table.fields

    data_sheet, _ = sheets(annotated_xlsx(table, [CellProblem(3, "value", "abc", "仍不是数字")], title="t"))

    assert [cell.value for cell in data_sheet[1]] == [*HEADER, "错误说明"]
    assert data_sheet["F3"].value == "数值：仍不是数字"
    assert data_sheet["F4"].value is None


def test_csv_upload_is_annotated_at_its_line_numbers() -> None:
    text = "指标代码,区划代码,期间,值\r\nA01,510104,2025,1\r\n\r\nA01,510105,2025,-\r\n"
    table = read_table(text.encode("utf-8"), "上报.csv")
    data_sheet, _ = sheets(annotated_xlsx(table, [CellProblem(4, "value", "-", "不是数字")], title="t"))

    assert [cell.value for cell in data_sheet[1]] == ["指标代码", "区划代码", "期间", "值", "错误说明"]
    assert data_sheet["D4"].value == "-"
    assert data_sheet["D4"].data_type == "s"
    assert data_sheet["E4"].value == "值：不是数字"


def test_problems_csv_names_columns_as_written() -> None:
    table = uploaded(
        [["A01", "510104", "2025", "=1+1", None]],
        header=["指标代码", "区划代码", "期间", "值", "备注"],
        text=("=1+1",),
    )
    data = problems_csv(
        [CellProblem(2, "value", "=1+1", "不是数字"), CellProblem(0, None, "", "-文件级", "warning")], table
    )

    assert data.startswith(b"\xef\xbb\xbf")
    assert data[3:].decode("utf-8").split("\r\n") == [
        "行号,列,值,级别,说明",
        ",,,警告,'-文件级",
        "2,值,'=1+1,错误,不是数字",
        "",
    ]


def test_problems_csv_without_a_table_uses_the_chinese_field_names() -> None:
    data = problems_csv(
        [CellProblem(5, "denominator", "0", "分母不能为 0"), CellProblem(3, "period", "", "缺少期间")]
    )
    assert data.decode("utf-8-sig").split("\r\n")[1:3] == [
        "3,期间,,错误,缺少期间",
        "5,分母,0,错误,分母不能为 0",
    ]


def test_header_problems_mark_the_header_cell_only() -> None:
    data_sheet, _ = sheets(
        annotated_xlsx(uploaded(ROWS), [CellProblem(1, "comment", "备注", "备注列为空")], title="t")
    )

    assert data_sheet["E1"].value == "备注"
    assert data_sheet["E1"].fill.fgColor.rgb == RED
    assert data_sheet["E1"].comment is not None
    assert data_sheet["F1"].value == "错误说明"


def test_control_characters_in_an_upload_do_not_break_the_report() -> None:
    text = "指标代码,区划代码,期间,数值\r\nA01,510104,2025,1\x01\r\n"
    table = read_table(text.encode("utf-8"), "上报.csv")
    data_sheet, _ = sheets(annotated_xlsx(table, [CellProblem(2, "value", "1\x01", "不是数字")], title="t"))
    assert data_sheet["D2"].value == "1\ufffd"


def test_comments_stop_at_the_cap_but_fills_and_notes_go_on() -> None:
    problems = [CellProblem(n, "value", "", "缺少数值") for n in (2, 3, 4)]
    data_sheet, problem_sheet = sheets(annotated_xlsx(uploaded(ROWS), problems, title="t", max_comments=2))

    assert data_sheet["D2"].comment is not None
    assert data_sheet["D3"].comment is not None
    assert data_sheet["D4"].comment is None
    assert data_sheet["D4"].fill.fgColor.rgb == RED
    assert data_sheet["F4"].value == "数值：缺少数值"
    assert "1 个没有批注" in str(problem_sheet["A3"].value)
