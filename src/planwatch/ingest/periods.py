"""Reporting periods: ``2025`` (annual), ``2025Q2`` (quarterly), ``2025-05`` (monthly)."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime

from planwatch.errors import InvalidValueError
from planwatch.models.enums import Frequency

_ANNUAL = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
EXAMPLES = {Frequency.annual: "2025", Frequency.quarterly: "2025Q2", Frequency.monthly: "2025-05"}


class PeriodError(InvalidValueError, ValueError):
    """A period that does not fit the indicator's frequency: a row problem in a file, a 422 when
    it reaches an adapter."""


def normalise_period(raw: object, frequency: Frequency) -> str:
    """The canonical period text for a cell, or PeriodError saying what is expected.

    Accepts 2025, 2025.0, "2025年", "2025Q2", "2025-Q2", "2025年第2季度", "2025-5", "2025年5月",
    and a date (its year, quarter or month).
    """
    if isinstance(raw, datetime | date):
        year, month = raw.year, raw.month
        text = {
            Frequency.annual: f"{year}",
            Frequency.quarterly: f"{year}Q{(month - 1) // 3 + 1}",
            Frequency.monthly: f"{year}-{month:02d}",
        }[frequency]
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    elif isinstance(raw, int) and not isinstance(raw, bool):
        text = str(raw)
    else:
        text = str(raw).strip().upper().replace(" ", "")
        text = re.sub(r"^(\d{4})年$", r"\1", text)
        text = re.sub(r"^(\d{4})[-年]?(?:第)?Q?([1-4])(?:季度|季)$", r"\1Q\2", text)
        text = re.sub(r"^(\d{4})-Q([1-4])$", r"\1Q\2", text)
        text = re.sub(r"^(\d{4})[-年/.](\d{1,2})月?$", lambda m: f"{m[1]}-{int(m[2]):02d}", text)
    pattern = {Frequency.annual: _ANNUAL, Frequency.quarterly: _QUARTER, Frequency.monthly: _MONTH}[frequency]
    match = pattern.match(text)
    if match is None or not 1949 <= int(match[1]) <= 2100:
        msg = (
            f"'{raw}' 不是有效的{frequency.zh}期间，请按 {EXAMPLES[frequency]} 的格式填写。"
            f"'{raw}' is not a {frequency.value} period ({frequency.zh}); write it like {EXAMPLES[frequency]}"
        )
        raise PeriodError(msg)
    return text


def period_year(period: str) -> int:
    return int(period[:4])


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a canonical period."""
    year = int(period[:4])
    if match := _QUARTER.match(period):
        quarter = int(match[2])
        first_month, last_month = 3 * quarter - 2, 3 * quarter
    elif match := _MONTH.match(period):
        first_month = last_month = int(match[2])
    else:
        first_month, last_month = 1, 12
    return date(year, first_month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])
