"""Masking of personal data (PIPL, GB/T 35273 展示限制): applied on the server to every response
that carries a phone or ID number. Unmasking is a separate, permitted and audited act."""

from __future__ import annotations

import re

PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9Xx])(\d{3})(\d{11})(\d{3}[0-9Xx])(?![0-9Xx])")


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
    """Mask every phone and ID number inside free text (citizens write them into descriptions)."""
    text = ID_NUMBER.sub(lambda m: m.group(1) + "*" * 11 + m.group(3), text)
    return PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
