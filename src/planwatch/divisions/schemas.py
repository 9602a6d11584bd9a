"""What the API shows of a division."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from planwatch.models import Division


class DivisionOut(BaseModel):
    code: str
    name_zh: str
    name_en: str | None
    level: str
    level_zh: str
    parent_code: str | None
    valid_from: date
    valid_to: date | None
    has_boundary: bool

    @classmethod
    def from_row(cls, division: Division) -> DivisionOut:
        return cls(
            code=division.code,
            name_zh=division.name_zh,
            name_en=division.name_en,
            level=division.level.value,
            level_zh=division.level.zh,
            parent_code=division.parent.code if division.parent else None,
            valid_from=division.valid_from,
            valid_to=division.valid_to,
            has_boundary=division.geometry is not None,
        )
