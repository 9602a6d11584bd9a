"""Reading uploaded CSV and XLSX files into tables, and refusing whole files with a useful message."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime

import pytest
from openpyxl import Workbook

from planwatch.errors import ImportFileError
from planwatch.ingest.readers import FIELDS, REQUIRED_FIELDS, FormulaCell, RawRow, read_table
from planwatch.ingest.template import csv_bytes

HEADER = ("指标代码", "区划代码", "期间", "数值")
CSV_HEADER = ",".join(HEADER)


def xlsx(
    rows: Sequence[Sequence[object]],
    *,
    title: str = "Sheet1",
    others: Sequence[str] = (),
    merge: Sequence[str] = (),
) -> bytes:
    """A workbook with ``rows`` on its first sheet (named ``title``) and empty ``others`` after it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for cells in merge:
        sheet.merge_cells(cells)
    for name in others:
        book.create_sheet(name)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewrite(data: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The zip ``data`` with every member passed through ``change(name, content)``."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, change(info.filename, source.read(info.filename)))
    return out.getvalue()


def in_sheet(old: bytes, new: bytes) -> Callable[[str, bytes], bytes]:
    def change(name: str, content: bytes) -> bytes:
        return content.replace(old, new) if name == "xl/worksheets/sheet1.xml" else content

    return change


def refused(data: bytes, filename: str = "data.csv", **options: int) -> str:
    with pytest.raises(ImportFileError) as info:
        read_table(data, filename, **options)
    assert info.value.file == filename
    return info.value.detail


def csv_of(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


# --- the fields table ---------------------------------------------------------------------------------


def test_every_required_field_has_aliases_and_no_alias_is_shared() -> None:
    assert set(REQUIRED_FIELDS) <= set(FIELDS)
    aliases = [alias.casefold() for names in FIELDS.values() for alias in names]
    assert len(aliases) == len(set(aliases))


# --- CSV -----------------------------------------------------------------------------------------------


def test_csv_utf8() -> None:
    table = read_table(csv_of(CSV_HEADER, "GDP,510100,2024,12.5", "GDP,510104,2024,"), "data.csv")
    assert (table.kind, table.encoding, table.sheet) == ("csv", "utf-8", None)
    assert table.headers == tuple(HEADER)
    assert table.fields == ("indicator", "division", "period", "value")
    assert table.rows == [
        RawRow(2, ("GDP", "510100", "2024", "12.5")),
        RawRow(3, ("GDP", "510104", "2024", None)),
    ]
    assert table.notices == []


def test_csv_utf8_with_bom() -> None:
    table = read_table(b"\xef\xbb\xbf" + csv_of(CSV_HEADER, "GDP,510100,2024,1"), "data.csv")
    assert table.encoding == "utf-8-sig"
    assert table.headers[0] == "指标代码"


def test_csv_gbk_is_read_with_a_notice() -> None:
    table = read_table(csv_of(CSV_HEADER + ",备注", "GDP,510100,2024,1,全市口径", encoding="gbk"), "data.csv")
    assert table.encoding == "gb18030"
    assert table.rows[0].cells[-1] == "全市口径"
    assert any("GB18030 (GBK)" in notice for notice in table.notices)


def test_csv_in_no_known_encoding_is_refused() -> None:
    message = refused(
        csv_of("indicator,division,period,value", "G\xffP,510100,2024,1").replace(b"\xc3\xbf", b"\xff")
    )
    assert "neither UTF-8 nor GBK" in message
    assert "line 2" in message
    assert "CSV UTF-8" in message


def test_damaged_utf8_is_not_read_as_gbk() -> None:
    data = csv_of(CSV_HEADER + ",备注", "GDP,510100,2024,1,全市口径说明文字")
    message = refused(data[:-4] + b"\xff" + data[-3:])
    assert "UTF-8 text with damaged characters" in message


def test_utf16_is_refused_with_advice() -> None:
    message = refused(b"\xff\xfe" + CSV_HEADER.encode("utf-16-le"))
    assert "UTF-16" in message
    assert "CSV UTF-8" in message


def test_csv_tab_delimited() -> None:
    table = read_table(csv_of("\t".join(HEADER), "GDP\t510100\t2024\t1,234.5"), "data.csv")
    assert table.rows[0].cells == ("GDP", "510100", "2024", "1,234.5")


def test_csv_with_semicolons_is_refused() -> None:
    assert "separated by semicolons" in refused(csv_of(";".join(HEADER), "GDP;510100;2024;1"))


def test_csv_quoted_newlines_and_commas() -> None:
    data = csv_of(
        CSV_HEADER + ",备注", 'GDP,510100,2024,"1,234","first line', 'second line"', "GDP,510104,2024,2,x"
    )
    table = read_table(data, "data.csv")
    assert table.rows[0].cells == ("GDP", "510100", "2024", "1,234", "first line\nsecond line")
    assert [row.number for row in table.rows] == [2, 3]


def test_csv_blank_rows_are_skipped_and_rows_keep_their_numbers() -> None:
    table = read_table(
        csv_of("", CSV_HEADER, "GDP,510100,2024,1", ",,,", "  , ,", "", "GDP,510104,2024,2"), "data.csv"
    )
    assert table.header_row == 2
    assert [row.number for row in table.rows] == [3, 7]


def test_csv_short_rows_are_padded_and_blank_extra_cells_ignored() -> None:
    table = read_table(csv_of(CSV_HEADER, "GDP,510100", "GDP,510104,2024,2,,"), "data.csv")
    assert table.rows[0].cells == ("GDP", "510100", None, None)
    assert table.rows[1].cells == ("GDP", "510104", "2024", "2")


def test_csv_row_with_more_cells_than_the_header_is_refused() -> None:
    message = refused(csv_of(CSV_HEADER, "GDP,510100,2024,1", "GDP,510104,2024,1,234"))
    assert "line 3 has 5 cells but the header row has 4" in message
    assert "quotes" in message


def test_csv_formula_escapes_are_removed() -> None:
    table = read_table(
        csv_of(CSV_HEADER + ",备注", "GDP,510100,2024,'-5,'=SUM(A1)", "GDP,510104,2024,1,'quoted'"),
        "data.csv",
    )
    assert table.rows[0].cells[3:] == ("-5", "=SUM(A1)")
    assert table.rows[1].cells[4] == "'quoted'"


def test_csv_export_escapes_round_trip() -> None:
    texts = ["=SUM(A1)", "+86 28", "-", "@home", "\tindented", "'quoted", "plain"]
    data = csv_bytes([*HEADER, "备注"], [["GDP", "510100", "2024", -5, text] for text in texts])
    table = read_table(data, "data.csv")
    assert [row.cells[3:] for row in table.rows] == [("-5", text) for text in texts]


def test_csv_broken_quoting_is_refused_naming_the_line() -> None:
    message = refused(csv_of(CSV_HEADER, "GDP,510100,2024,1", 'GDP,510104,2024,"' + "x" * 200_000))
    assert "line 3" in message
    assert "quote" in message


# --- what kind of file ---------------------------------------------------------------------------------


def test_old_xls_is_refused() -> None:
    message = refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "data.xlsx")
    assert "Excel 97–2003" in message
    assert "save it as an Excel workbook (.xlsx" in message
    assert "Excel 97–2003" in refused(b"whatever", "data.xls")


def test_csv_named_xlsx_is_refused() -> None:
    message = refused(csv_of(CSV_HEADER, "GDP,510100,2024,1"), "data.xlsx")
    assert "is text (CSV), not an Excel workbook" in message
    assert "rename it to .csv" in message


def test_xlsx_named_csv_is_read_as_a_workbook() -> None:
    table = read_table(xlsx([HEADER, ["GDP", "510100", 2024, 1]]), "data.csv")
    assert table.kind == "xlsx"
    assert any("read as a workbook" in notice for notice in table.notices)


def test_binary_file_is_refused() -> None:
    assert "binary data" in refused(b"%PDF-1.7\n\x00\x01\x02", "data.csv")


@pytest.mark.parametrize("filename", ["data.txt", "data.json", "data", "data.xlsm"])
def test_unknown_extension_is_refused(filename: str) -> None:
    message = refused(csv_of(CSV_HEADER, "GDP,510100,2024,1"), filename)
    assert ".xlsx" in message
    assert ".csv" in message


def test_extension_is_case_insensitive() -> None:
    assert read_table(csv_of(CSV_HEADER, "GDP,510100,2024,1"), "DATA.CSV").kind == "csv"


@pytest.mark.parametrize("filename", ["data.csv", "data.xlsx"])
def test_empty_file_is_refused(filename: str) -> None:
    assert "the file is empty" in refused(b"", filename)


def test_only_blank_lines_is_refused() -> None:
    assert "only blank lines" in refused(b"\n \n\r\n")


# --- the header row ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_header_only_is_refused(kind: str) -> None:
    data = csv_of(CSV_HEADER, ",,,") if kind == "csv" else xlsx([HEADER])
    message = refused(data, f"data.{kind}")
    assert "header row (row 1) but no data rows" in message


def test_missing_required_header_lists_accepted_names() -> None:
    message = refused(csv_of("指标代码,期间,数值", "GDP,2024,1"))
    assert "the required column 区划代码 (division) is missing" in message
    assert "区划代码, 行政区划代码, 区划, 区域代码, division, division_code" in message


def test_renamed_header_reports_the_unknown_column_and_the_missing_one() -> None:
    message = refused(
        xlsx([["指标代码", "区划代码", "期间", "数据"], ["GDP", "510100", 2024, 1]]), "data.xlsx"
    )
    assert "column D '数据' is not a column we know" in message
    assert "the required column 数值 (value) is missing" in message
    assert "rename its header to 数值" in message


def test_duplicated_header_names_both_columns() -> None:
    message = refused(csv_of(CSV_HEADER + ",指标", "GDP,510100,2024,1,GDP"))
    assert "column 1 '指标代码' and column 5 '指标' both mean indicator" in message


def test_unknown_column_is_refused_naming_it_and_the_accepted_names() -> None:
    message = refused(xlsx([[*HEADER, "负责人"], ["GDP", "510100", 2024, 1, "张三"]]), "data.xlsx")
    assert "column E '负责人' is not a column we know" in message
    assert "指标代码 (indicator)" in message
    assert "备注 (comment)" in message


def test_title_row_above_the_header_gets_a_hint() -> None:
    message = refused(xlsx([["2024年指标数据"], HEADER, ["GDP", "510100", 2024, 1]]), "data.xlsx")
    assert "delete any title rows above it" in message


def test_header_spellings_are_normalised() -> None:
    header = ["*指标代码（必填）", " 区划 代码 ", "YEAR", "Value*", "ｕｎｉｔ", "错误说明", "Note"]
    table = read_table(xlsx([header, ["GDP", "510100", 2024, 1, "元", "old problem", "x"]]), "data.xlsx")
    assert table.fields == ("indicator", "division", "period", "value", "unit", "comment")
    assert table.headers == ("*指标代码（必填）", " 区划 代码 ", "YEAR", "Value*", "ｕｎｉｔ", "Note")
    assert table.columns == (1, 2, 3, 4, 5, 7)
    assert table.rows[0].cells == ("GDP", "510100", 2024, 1, "元", "x")
    assert table.column_label("comment") == "G (Note)"


def test_blank_header_over_an_empty_column_is_ignored() -> None:
    table = read_table(csv_of("指标代码,,区划代码,期间,数值,,", "GDP,,510100,2024,1,,"), "data.csv")
    assert table.fields == ("indicator", "division", "period", "value")
    assert table.column_label("value") == "数值 (column 5)"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_values_under_a_blank_header_are_refused(kind: str) -> None:
    rows: list[Sequence[object]] = [
        ["指标代码", None, "区划代码", "期间", "数值"],
        ["GDP", None, "510100", 2024, 1],
        ["GDP", "x", "510104", 2024, 2],
    ]
    if kind == "csv":
        data = csv_of(*(",".join("" if c is None else str(c) for c in row) for row in rows))
    else:
        data = xlsx(rows)
    message = refused(data, f"data.{kind}")
    column = "column 2" if kind == "csv" else "column B"
    assert f"{column} has values (first in row 3) but no header" in message


def test_xlsx_values_right_of_the_header_are_refused() -> None:
    message = refused(xlsx([HEADER, ["GDP", "510100", 2024, 1, None, None, "stray"]]), "data.xlsx")
    assert "column G has values (first in row 2) but no header" in message


# --- XLSX ------------------------------------------------------------------------------------------------


def test_xlsx_values_keep_their_types() -> None:
    when = datetime(2024, 6, 30)
    rows: list[Sequence[object]] = [
        [*HEADER, "备注"],
        ["GDP", "510100", 2024, 12.5, when],
        ["GDP", 510104, "2024", "1,234", ""],
        [None] * 5,
    ]
    table = read_table(xlsx(rows, title="数据"), "data.xlsx")
    assert (table.kind, table.encoding, table.sheet) == ("xlsx", None, "数据")
    assert table.rows == [
        RawRow(2, ("GDP", "510100", 2024, 12.5, when)),
        RawRow(3, ("GDP", 510104, "2024", "1,234", None)),
    ]
    assert table.column_label("value") == "D (数值)"
    assert table.index("value") == 3
    assert table.index("unit") is None
    assert table.column_label("unit") == "单位"


def test_xlsx_numbers_stored_as_text_are_counted() -> None:
    rows: list[Sequence[object]] = [
        [*HEADER, "分子"],
        ["GDP", "510100", "2024", "12.5", "3"],
        ["GDP", "510104", "2024", 7, "n/a"],
    ]
    table = read_table(xlsx(rows), "data.xlsx")
    assert table.rows[0].cells == ("GDP", "510100", "2024", "12.5", "3")
    assert table.notices == [
        "2 number(s) were stored as text (first at D2); they are read as numbers, but check them (文本格式的数字)"
    ]


@pytest.mark.parametrize("name", ["数据", "Data"])
def test_xlsx_sheet_named_data_is_read_without_a_notice(name: str) -> None:
    table = read_table(xlsx([HEADER, ["GDP", "510100", 2024, 1]], title=name, others=["说明"]), "data.xlsx")
    assert table.sheet == name
    assert table.notices == []


def test_xlsx_first_of_several_sheets_is_read_with_a_notice() -> None:
    table = read_table(xlsx([HEADER, ["GDP", "510100", 2024, 1]], title="填报", others=["说明"]), "data.xlsx")
    assert table.sheet == "填报"
    assert table.notices == [
        "the workbook has 2 sheets and none is named 数据 (or data); the first, '填报', was read"
    ]


def test_xlsx_data_sheet_is_found_when_not_first() -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "说明"
    first.append(["请在“数据”表中填写"])
    data_sheet = book.create_sheet("数据")
    for row in (HEADER, ["GDP", "510100", 2024, 1]):
        data_sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    assert read_table(buffer.getvalue(), "data.xlsx").sheet == "数据"


def test_xlsx_empty_sheet_is_refused() -> None:
    assert "the sheet 'Sheet1' is empty" in refused(xlsx([]), "data.xlsx")


def test_xlsx_merged_cells_are_refused_naming_the_ranges() -> None:
    rows: list[Sequence[object]] = [
        HEADER,
        ["GDP", "510100", 2024, 1],
        [None, "510104", 2024, 2],
        [None, "510105", 2024, 3],
    ]
    message = refused(xlsx(rows, merge=["A2:A4", "C3:C4"]), "data.xlsx")
    assert "merged cells (A2:A4, C3:C4)" in message
    assert "unmerge them" in message


def test_xlsx_formula_without_a_stored_result_is_a_formula_cell() -> None:
    rows: list[Sequence[object]] = [
        [*HEADER, "备注"],
        ["GDP", "510100", 2024, "=SUM(1,2)", None],
        ["GDP", "510104", 2024, 5, "=A2"],
    ]
    table = read_table(xlsx(rows), "data.xlsx")
    assert table.rows[0].cells == ("GDP", "510100", 2024, FormulaCell("=SUM(1,2)"), None)
    assert table.rows[1].cells[4] == FormulaCell("=A2")


def test_xlsx_formula_with_a_stored_result_reads_the_result() -> None:
    data = xlsx([HEADER, ["GDP", "510100", 2024, "=SUM(1,2)"]])
    data = rewrite(data, in_sheet(b"<f>SUM(1,2)</f><v />", b"<f>SUM(1,2)</f><v>3</v>"))
    assert read_table(data, "data.xlsx").rows[0].cells[3] == 3


def test_xlsx_shared_formulas_are_translated() -> None:
    data = xlsx([HEADER, ["GDP", "510100", 2024, "=B2*2"], ["GDP", "510104", 2024, None]])
    shared = b'<c r="D2"><f t="shared" ref="D2:D3" si="0">B2*2</f></c>'
    dependent = b'<c r="D3"><f t="shared" si="0"/></c>'
    data = rewrite(data, in_sheet(b'<c r="D2"><f>B2*2</f><v /></c>', shared))
    data = rewrite(
        data, in_sheet(b'<c r="C3" t="n"><v>2024</v></c>', b'<c r="C3" t="n"><v>2024</v></c>' + dependent)
    )
    table = read_table(data, "data.xlsx")
    assert [row.cells[3] for row in table.rows] == [FormulaCell("=B2*2"), FormulaCell("=B3*2")]


def test_xlsx_xml_entities_are_refused() -> None:
    data = xlsx([HEADER, ["GDP", "510100", 2024, 1]])
    entities = b'<!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
    data = rewrite(data, lambda name, content: entities + content if name == "xl/workbook.xml" else content)
    message = refused(data, "data.xlsx")
    assert "XML entity or DTD declarations are not allowed" in message


def test_damaged_xlsx_is_refused() -> None:
    data = xlsx([HEADER, ["GDP", "510100", 2024, 1]])
    assert "the workbook is damaged" in refused(data[: len(data) // 2], "data.xlsx")
    broken = rewrite(data, in_sheet(b"<sheetData>", b"<sheetData><row"))
    assert "the workbook is damaged" in refused(broken, "data.xlsx")


def test_zip_that_is_not_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "zip archive but not an Excel workbook" in refused(out.getvalue(), "data.xlsx")


def test_opendocument_spreadsheet_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<x/>")
    assert "OpenDocument file (.ods or .odt)" in refused(out.getvalue(), "data.xlsx")


def test_too_many_zip_members_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for index in range(10_001):
            archive.writestr(f"x/{index}", b"")
    assert "it holds 10,001 parts (the limit is 10,000)" in refused(out.getvalue(), "data.xlsx")


def test_too_large_uncompressed_is_refused() -> None:
    data = xlsx([HEADER, ["GDP", "510100", 2024, 1]])
    message = refused(data, "data.xlsx", max_uncompressed_bytes=1000)
    assert re.search(r"unpacks to [\d,]+ bytes, more than the limit of 1,000", message)


def test_zip_bomb_member_is_refused() -> None:
    data = xlsx([HEADER, ["GDP", "510100", 2024, 1]])
    data = rewrite(
        data, lambda name, content: content + b" " * (4 << 20) if name == "xl/styles.xml" else content
    )
    message = refused(data, "data.xlsx")
    assert "the part 'xl/styles.xml' unpacks" in message
    assert "the limit is 100:1" in message


@pytest.mark.parametrize("member", ["../evil.xml", "/etc/passwd", "xl/../../evil", "C:\\evil"])
def test_unsafe_member_names_are_refused(member: str) -> None:
    data = xlsx([HEADER, ["GDP", "510100", 2024, 1]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(zipfile.ZipInfo(member), b"x")
    assert "it holds a part with the path" in refused(out.getvalue(), "data.xlsx")


# --- the row limit -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_row_limit(kind: str) -> None:
    rows: list[Sequence[object]] = [HEADER, *(["GDP", "510100", 2024, n] for n in range(4))]
    data = csv_of(*(",".join(map(str, row)) for row in rows)) if kind == "csv" else xlsx(rows)
    assert len(read_table(data, f"data.{kind}", max_rows=4).rows) == 4
    message = refused(data, f"data.{kind}", max_rows=3)
    assert "more than 3 data rows (the limit, PLANWATCH_IMPORT_MAX_ROWS)" in message
    assert "split it" in message


def test_real_row_limit_on_a_200001_row_csv() -> None:
    body = "".join(f"GDP,5101{n % 100:02d},2024,{n}\n" for n in range(200_001))
    data = (CSV_HEADER + "\n" + body).encode()
    message = refused(data)
    assert "more than 200,000 data rows" in message
    table = read_table(data[: data.rindex(b"GDP")], "data.csv")
    assert len(table.rows) == 200_000
    assert table.rows[-1].number == 200_001
