"""Masking of personal data (PIPL, GB/T 35273 展示限制): applied on the server to every response
that carries a phone or ID number. Unmasking is a separate, permitted and audited act.

Citizens write numbers the way they say them: ``138 1234 8000``, ``138-1234-8000``,
``+86 13812348000``, ``028-85551234``, ``(028)85551234``, ``510104 19900307 123X``. The patterns
below accept a space or a hyphen between the groups people use, so that none of these survives."""

from __future__ import annotations

import re
from typing import Any

_SEP = r"[ \u3000\-]?"
PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
"""A mainland mobile number written as 11 digits."""
MOBILE_IN_TEXT = re.compile(rf"(?<![\d+])(?:\+?86{_SEP})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?!\d)")
"""A mobile number in free text: with or without +86, groups of 3-4-4 apart or not."""
ID_NUMBER = re.compile(rf"(?<![0-9Xx])(\d{{3}})(\d{{3}}{_SEP}\d{{8}}){_SEP}(\d{{3}}[0-9Xx])(?![0-9Xx])")
"""A resident ID number (18 characters), contiguous or grouped 6-8-4."""
_AREA = r"(?:0[12]\d|0[3-9]\d{2})"
LANDLINE = re.compile(rf"(?<![\d*])([(（]{_AREA}[)）]|{_AREA})([ \u3000\-]?)(\d{{3,4}})(\d{{4}})(?!\d)")
"""A landline with its area code (010 and 02x have 3 digits, the others 4): 028-85551234,
(028)85551234, 02885551234."""


def mask_phone(phone: str | None) -> str | None:
    """138****8000 for a mainland mobile number; other numbers keep only their last 4 digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    match = PHONE.fullmatch(digits)
    if match:
        return f"{match.group(1)}****{match.group(3)}"
    return "*" * max(0, len(digits) - 4) + digits[-4:]


def mask_id_number(number: str | None) -> str | None:
    """The first 3 and last 4 characters of a resident ID number, the rest starred."""
    if not number:
        return number
    return number[:3] + "*" * max(0, len(number) - 7) + number[-4:]


def mask_text(text: str) -> str:
    """Mask every phone and ID number inside free text (citizens write them into descriptions,
    addresses and answers): ID numbers keep their first 3 and last 4 characters, mobiles become
    138****8000 and landlines keep their area code and last 4 digits (028-****1234)."""
    text = ID_NUMBER.sub(lambda m: m.group(1) + "*" * 11 + m.group(3), text)
    text = MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return LANDLINE.sub(lambda m: m.group(1) + m.group(2) + "*" * len(m.group(3)) + m.group(4), text)


def mask_value(value: Any) -> Any:
    """mask_text applied to every string inside a JSON-like value (a request's attributes)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    return value
