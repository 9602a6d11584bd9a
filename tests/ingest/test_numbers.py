"""Reading cell values as numbers: what is accepted, what is refused and what the message says."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwatch.ingest.numbers import NumberError, ParsedNumber, parse_number

FULL_WIDTH = str.maketrans("0123456789.,-+e%", "０１２３４５６７８９．，－＋ｅ％")


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n", "\u3000", "\ufeff "])
def test_empty_is_missing(raw: object) -> None:
    assert parse_number(raw) is None


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("12", 12.0),
        (" 12.5 ", 12.5),
        ("+3", 3.0),
        ("-3.25", -3.25),
        ("\u22125", -5.0),
        ("－１２．５", -12.5),
        ("１２３", 123.0),
        ("1,234,567.5", 1234567.5),
        ("１，２３４", 1234.0),
        ("-1,234", -1234.0),
        ("1e5", 100000.0),
        ("1.5E-3", 0.0015),
        (".5", 0.5),
        ("5.", 5.0),
        ("007", 7.0),
    ],
)
def test_text_numbers(raw: str, value: float) -> None:
    assert parse_number(raw) == ParsedNumber(value, percent=False, from_text=True)


@pytest.mark.parametrize(
    ("raw", "value"), [("12.5%", 12.5), ("12.5 %", 12.5), ("-3％", -3.0), ("1e1%", 10.0)]
)
def test_percent_keeps_the_number_as_written(raw: str, value: float) -> None:
    assert parse_number(raw) == ParsedNumber(value, percent=True, from_text=True)


@pytest.mark.parametrize(
    ("raw", "value"), [(3, 3.0), (2.5, 2.5), (-0.0, 0.0), (Decimal("1.25"), 1.25), (Fraction(1, 4), 0.25)]
)
def test_real_numbers(raw: object, value: float) -> None:
    assert parse_number(raw) == ParsedNumber(value, percent=False, from_text=False)


@pytest.mark.parametrize("raw", ["1,2", "12,34", "1,234,5", "1,2345", "１，２", "1,"])
def test_commas_that_do_not_group_thousands_are_ambiguous(raw: str) -> None:
    with pytest.raises(NumberError, match="ambiguous: use a point for decimals"):
        parse_number(raw)


@pytest.mark.parametrize("raw", ["无", "-", "—", "——", "/", "N/A", "n/a", "#N/A", "暂无", "NULL", "nan"])
def test_missing_markers_say_leave_the_cell_empty(raw: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert f"'{raw}'" in info.value.message
    assert "leave the cell empty" in info.value.message


@pytest.mark.parametrize(
    ("raw", "example"),
    [
        ("12.5万", "12.5 if the unit is 万元, 125000 if it is 元"),
        ("3亿元", "3 if the unit is 亿元, 300000000 if it is 元"),
        ("2千", "2000"),
    ],
)
def test_magnitude_words_ask_for_the_plain_number(raw: str, example: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert "write the plain number in the indicator's unit" in info.value.message
    assert example in info.value.message


def test_magnitude_word_alone() -> None:
    with pytest.raises(NumberError, match="magnitude word 万"):
        parse_number("万")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("abc", "'abc' is not a number"),
        ("12.5元", "remove the unit or note"),
        ("1 234", "without spaces"),
        ("#DIV/0!", "Excel error #DIV/0!"),
        ("1e999", "not a finite number"),
        ("١٢٣", "is not a number"),
        ("1.2.3", "is not a number"),
        ("x" * 100, "…"),
    ],
)
def test_other_text_is_refused_quoting_it(raw: str, fragment: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (True, "TRUE is a yes/no value"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (10**400, "out of range"),
        (Decimal("NaN"), "not a finite number"),
        (date(2024, 1, 1), "is a date"),
        (datetime(2024, 1, 1, 8), "is a date"),
        (b"12", "bytes value is not a number"),
        ([1], "list value is not a number"),
    ],
)
def test_non_numbers_are_refused(raw: object, fragment: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_number(raw)
    assert fragment in info.value.message
    assert str(info.value) == info.value.message


def outcome(raw: object) -> ParsedNumber | NumberError | None:
    """What ``parse_number`` answers; any exception other than NumberError propagates."""
    try:
        return parse_number(raw)
    except NumberError as exc:
        return exc


@given(st.text())
def test_any_text_parses_or_is_refused(raw: str) -> None:
    result = outcome(raw)
    if isinstance(result, NumberError):
        assert result.message
    else:
        assert result is None or math.isfinite(result.value)


@given(st.from_type(object) | st.integers() | st.floats() | st.decimals() | st.fractions() | st.datetimes())
def test_any_object_parses_or_is_refused(raw: object) -> None:
    result = outcome(raw)
    assert result is None or isinstance(result, ParsedNumber) or result.message


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(finite)
def test_grouped_floats_round_trip(x: float) -> None:
    assert parse_number(f"{x:,}") == ParsedNumber(x, percent=False, from_text=True)


@given(finite)
def test_full_width_floats_round_trip(x: float) -> None:
    assert parse_number(f"{x:,}".translate(FULL_WIDTH)) == ParsedNumber(x, percent=False, from_text=True)


@given(finite)
def test_percent_floats_round_trip(x: float) -> None:
    assert parse_number(f"{x}%") == ParsedNumber(x, percent=True, from_text=True)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_grouped_integers_round_trip(n: int) -> None:
    parsed = parse_number(f"{n:,}")
    assert parsed is not None
    assert parsed.value == n
