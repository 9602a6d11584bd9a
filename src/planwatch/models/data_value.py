"""Reported, computed and simulated values of indicators per division and period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from planwatch.models.base import Base, str_enum, utcnow
from planwatch.models.division import Division
from planwatch.models.enums import ValueSource, ValueStatus
from planwatch.models.indicator import Indicator


class DataValue(Base):
    __tablename__ = "data_values"
    __table_args__ = (
        UniqueConstraint("indicator_id", "division_id", "period"),
        Index("ix_data_values_indicator_year", "indicator_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="RESTRICT"))
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(16))
    """``2023``, ``2023Q2`` or ``2023-05``."""
    year: Mapped[int]
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    source: Mapped[ValueSource] = mapped_column(str_enum(ValueSource, "value_source"))
    status: Mapped[ValueStatus] = mapped_column(str_enum(ValueStatus, "value_status"))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    indicator: Mapped[Indicator] = relationship()
    division: Mapped[Division] = relationship()
