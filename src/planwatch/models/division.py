"""The effective-dated division tree (市 → 区(市)县 → 街道(镇) → 社区(村) → 小区) and population."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from planwatch.models.base import Base, str_enum
from planwatch.models.enums import DivisionLevel, PopulationSource


class Division(Base):
    """One version of an org unit. A re-zoned unit gets a new row with a new ``valid_from``."""

    __tablename__ = "divisions"
    __table_args__ = (
        UniqueConstraint("code", "valid_from"),
        Index("ix_divisions_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    """Official code (GB/T 2260 for city and districts, statistical codes below)."""
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[DivisionLevel] = mapped_column(str_enum(DivisionLevel, "division_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    valid_from: Mapped[date] = mapped_column(default=date(1900, 1, 1))
    valid_to: Mapped[date | None]
    """Exclusive end of validity; ``None`` while the unit exists."""
    geometry: Mapped[str | None] = mapped_column(Text)
    """GeoJSON geometry (lon/lat), optional."""

    parent: Mapped[Division | None] = relationship(remote_side=[id])

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class Population(Base):
    __tablename__ = "population"
    __table_args__ = (UniqueConstraint("division_id", "year", "age_band"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    age_band: Mapped[str] = mapped_column(String(16))
    """``total``, or a band such as ``0-14``, ``60+``."""
    population: Mapped[int]
    source: Mapped[PopulationSource] = mapped_column(str_enum(PopulationSource, "pop_source"))
    note: Mapped[str | None] = mapped_column(Text)

    division: Mapped[Division] = relationship()
