"""Read the numbers departments write into cells: plain, grouped, full-width, percent, scientific.

``parse_number`` is the one place that decides what a cell value means as a number. It answers a
``ParsedNumber``, ``None`` for a missing value, or raises ``NumberError`` whose message says what is
wrong and what to write instead; it never raises anything else.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from numbers import Real

__all__ = ["NumberError", "ParsedNumber", "parse_number"]


@dataclass(frozen=True)
class ParsedNumber:
    """A number read from a cell."""

    value: float
    """The number as written: 12.5 for ``12.5%``."""
    percent: bool
    """Written with a trailing ``%`` (or full-width ``％``)."""
    from_text: bool
    """Came from text: every CSV cell, or an Excel number stored as text."""


class NumberError(ValueError):
    """A cell value that is neither a number nor empty."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        """What is wrong and what to write instead."""


_NUMBER = re.compile(
    r"(?P<sign>[+-]?)"
    r"(?:(?P<int>[0-9][0-9,]*)(?:\.(?P<frac>[0-9]*))?|\.(?P<bare_frac>[0-9]+))"
    r"(?:[eE](?P<exp>[+-]?[0-9]+))?"
    r"[ \t]*(?P<percent>%)?",
    re.ASCII,
)
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+", re.ASCII)
_NUMBER_PREFIX = re.compile(r"[+-]?[0-9][0-9,.]*", re.ASCII)
_MAGNITUDE = re.compile(r"(?P<number>.*?)[ \t]*(?P<words>百?[千万亿]+)(?P<rest>.*)")

_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_MINUS_SIGNS = str.maketrans({"\u2212": "-"})
"""NFKC keeps U+2212 MINUS SIGN; full-width －, small ﹣ and ＋ it already maps to ASCII."""

_MISSING_MARKERS = frozenset(
    {
        "无",
        "暂无",
        "空",
        "缺",
        "缺失",
        "不详",
        "未知",
        "-",
        "--",
        "---",
        "—",
        "——",
        "–",
        "/",
        "\\",
        "n/a",
        "na",
        "#n/a",
        "null",
        "none",
        "nan",
        "...",
        "......",
    }
)
_EXCEL_ERRORS = frozenset(
    {"#div/0!", "#value!", "#ref!", "#name?", "#num!", "#null!", "#spill!", "#calc!", "#getting_data"}
)
_MAGNITUDES = {"百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_MISSING_HINT = "leave the cell empty for a missing value (缺失值请留空)"
_MISSING_HINT_ZH = "缺失值请留空"
_FORMAT_HINT_ZH = "请只填写数字，可带正负号、小数点和末尾的 %，例如 1234.5、-3.2 或 12.5%"
_FORMAT_HINT = (
    "write digits only, with an optional sign, decimal point and trailing %, e.g. 1234.5, -3.2 or 12.5%"
)


def parse_number(raw: object) -> ParsedNumber | None:
    """Read one cell value as a number.

    Parameters
    ----------
    raw
        A cell value: ``None``, ``str``, ``int``, ``float`` (or another real number); anything
        else is refused.

    Returns
    -------
    ParsedNumber or None
        ``None`` when the cell is empty (``None``, ``""`` or only spaces).

    Raises
    ------
    NumberError
        For anything that is not a finite number, with a message that quotes the value and says
        what to write instead: markers such as ``无`` or ``-`` (leave the cell empty), magnitude
        words such as ``万`` (write the plain number in the indicator's unit), ``1,2``
        (ambiguous: a comma only groups thousands), TRUE/FALSE, dates, NaN and infinity.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        return _parse_text(raw)
    if isinstance(raw, bool):
        raise NumberError(
            f"{str(raw).upper()} 是逻辑值（是/否），不是数字，请直接填写数字。"
            f"{str(raw).upper()} is a yes/no value, not a number; type the number itself"
        )
    if isinstance(raw, date | time | timedelta):
        raise NumberError(
            f"'{raw}' 是日期或时间，不是数字，请将单元格格式设为“常规”或“数值”后重新填写。"
            f"'{raw}' is a date or time, not a number; format the cell as a number (常规/数值) and type the value"
        )
    if isinstance(raw, Real | Decimal):
        try:
            value = float(raw)
        except (ArithmeticError, ValueError, TypeError):
            raise NumberError(
                f"{_describe(raw)} 超出可处理的数值范围，请检查数值及其单位。"
                f"{_describe(raw)} is out of range; check the value and its unit"
            ) from None
        return ParsedNumber(_finite(value, _describe(raw)), percent=False, from_text=False)
    raise NumberError(
        f"{type(raw).__name__} 类型的值不是数字，请填写普通数字。"
        f"a {type(raw).__name__} value is not a number; type a plain number"
    )


def _parse_text(raw: str) -> ParsedNumber | None:
    text = unicodedata.normalize("NFKC", raw).translate(_MINUS_SIGNS).strip().strip(_INVISIBLE).strip()
    if not text:
        return None
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise NumberError(_why_not(raw.strip(), text))
    digits = match["int"]
    if digits is not None and "," in digits:
        if not _GROUPED.fullmatch(digits):
            raise NumberError(
                f"{_quote(raw.strip())} 有歧义：小数请用小数点（1.2），逗号只用于千位分隔（1,234,567.5），"
                "或去掉逗号直接填写数字。"
                f"{_quote(raw.strip())} is ambiguous: use a point for decimals (1.2) and commas only to"
                " group thousands (1,234,567.5), or write the number without commas"
            )
        digits = digits.replace(",", "")
    if digits is None:
        plain = f"{match['sign']}0.{match['bare_frac']}"
    else:
        plain = f"{match['sign']}{digits}.{match['frac'] or '0'}"
    if match["exp"] is not None:
        plain += f"e{match['exp']}"
    return ParsedNumber(
        _finite(float(plain), _quote(raw.strip())), percent=match["percent"] is not None, from_text=True
    )


def _finite(value: float, described: str) -> float:
    if not math.isfinite(value):
        raise NumberError(
            f"{described} 不是有限数值，请填写普通数字；{_MISSING_HINT_ZH}。"
            f"{described} is not a finite number; type a plain number or {_MISSING_HINT}"
        )
    return value


def _why_not(original: str, text: str) -> str:
    """The message for text that is not a number: the likeliest mistake first."""
    quoted = _quote(original)
    folded = text.casefold()
    if folded in _MISSING_MARKERS:
        return f"{quoted} 不是数字，{_MISSING_HINT_ZH}。{quoted} is not a number; {_MISSING_HINT}"
    if folded in _EXCEL_ERRORS:
        return (
            f"单元格中是 Excel 错误值 {text.upper()}，不是数字，请修正公式或直接填写数值；{_MISSING_HINT_ZH}。"
            f"the cell holds the Excel error {text.upper()}, not a number; fix the formula or type the"
            f" value, or {_MISSING_HINT}"
        )
    magnitude = _MAGNITUDE.fullmatch(text)
    if magnitude is not None:
        return _magnitude_message(quoted, magnitude)
    if "," in text and _NUMBER.fullmatch(text.replace(",", "")) is not None:
        return (
            f"{quoted} 有歧义：小数请用小数点（1.2），逗号只用于千位分隔（1,234,567.5），或去掉逗号直接填写数字。"
            f"{quoted} is ambiguous: use a point for decimals (1.2) and commas only to group thousands"
            " (1,234,567.5), or write the number without commas"
        )
    if _NUMBER.fullmatch("".join(text.split())) is not None:
        return (
            f"{quoted} 不是有效数字，请去掉空格，例如 1234567.5 或 1,234,567.5。"
            f"{quoted} is not a number: write it without spaces, e.g. 1234567.5 or 1,234,567.5"
        )
    prefix = _NUMBER_PREFIX.match(text)
    if prefix is not None and prefix.end() < len(text):
        return (
            f"{quoted} 不是有效数字，请去掉单位或说明文字，只填写数字，例如 1234.5 或 12.5%"
            "（单位填在“单位”列，说明填在“备注”列）。"
            f"{quoted} is not a number: remove the unit or note and write the number alone, e.g. 1234.5"
            " or 12.5% (units go in the 单位 column, notes in 备注)"
        )
    return (
        f"{quoted} 不是数字，{_FORMAT_HINT_ZH}；{_MISSING_HINT_ZH}。"
        f"{quoted} is not a number (不是数字); {_FORMAT_HINT}, or {_MISSING_HINT}"
    )


def _magnitude_message(quoted: str, match: re.Match[str]) -> str:
    words = match["words"]
    factor = 1
    for word in words:
        factor *= _MAGNITUDES[word]
    advice = "write the plain number in the indicator's unit (不要使用“万”“亿”等数量词)"
    advice_zh = "请按指标的单位填写数字，不要使用“万”“亿”等数量词"
    number = _NUMBER.fullmatch(match["number"])
    if number is not None and not number["percent"] and "," not in match["number"]:
        written = Decimal(match["number"])
        if abs(written.adjusted()) <= 20:  # an example with hundreds of digits helps nobody
            scaled = _plain(written * factor)
            example = f"e.g. {_plain(written)} if the unit is {words}{match['rest'] or '元'}, {scaled} if it is {match['rest'] or '元'}"
            advice = f"{advice}, {example}"
            unit = match["rest"] or "元"
            advice_zh = (
                f"{advice_zh}，例如单位为{words}{unit}时填 {_plain(written)}，单位为{unit}时填 {scaled}"
            )
    return f"{quoted} 使用了数量词“{words}”，{advice_zh}。{quoted} uses the magnitude word {words}; {advice}"


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text.removesuffix(".0") if "." in text else text


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f"'{text[:40]}…'" if len(text) > 40 else f"'{text}'"


def _describe(raw: Real | Decimal) -> str:
    try:
        return _quote(str(raw))
    except Exception:  # a real-number type with a broken __str__ still gets an answer
        return f"a {type(raw).__name__} value"
