"""Indicators (what is measured, and how it rolls up) and targets (what the plan promises)."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from planwatch.models.base import Base, str_enum
from planwatch.models.division import Division
from planwatch.models.enums import (
    Aggregation,
    Comparator,
    Direction,
    DivisionLevel,
    Frequency,
    Nature,
    PeriodAggregation,
    TargetKind,
)
from planwatch.models.plan import Department, Plan, Section, Task


class Indicator(Base):
    __tablename__ = "indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(32))
    definition: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    nature: Mapped[Nature] = mapped_column(str_enum(Nature, "nature"))
    nature_inferred: Mapped[bool] = mapped_column(default=False)
    frequency: Mapped[Frequency] = mapped_column(str_enum(Frequency, "frequency"))
    period_aggregation: Mapped[PeriodAggregation] = mapped_column(
        str_enum(PeriodAggregation, "period_aggregation")
    )
    aggregation: Mapped[Aggregation] = mapped_column(str_enum(Aggregation, "aggregation"))
    factor: Mapped[float | None] = mapped_column(Float)
    numerator_label: Mapped[str | None] = mapped_column(String(300))
    denominator_label: Mapped[str | None] = mapped_column(String(300))
    condition_comparator: Mapped[Comparator | None] = mapped_column(
        str_enum(Comparator, "condition_comparator")
    )
    condition_threshold: Mapped[float | None] = mapped_column(Float)
    source_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT")
    )
    levels: Mapped[list[str]] = mapped_column(JSON)
    """Division levels where values are reported, e.g. ``["district"]``."""
    computed_by: Mapped[str | None] = mapped_column(String(32))
    """``coverage``, ``requests`` or ``surveys``: planwatch computes the values (no one reports them)."""

    source_department: Mapped[Department | None] = relationship()

    @property
    def level_enums(self) -> list[DivisionLevel]:
        return [DivisionLevel(level) for level in self.levels]


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="RESTRICT"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("plan_sections.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    scope_division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    kind: Mapped[TargetKind] = mapped_column(str_enum(TargetKind, "target_kind"))
    comparator: Mapped[Comparator] = mapped_column(str_enum(Comparator, "comparator"))
    value: Mapped[float | None] = mapped_column(Float)
    range_low: Mapped[float | None] = mapped_column(Float)
    range_high: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    per: Mapped[str | None] = mapped_column(String(64))
    per_unit_level: Mapped[DivisionLevel | None] = mapped_column(str_enum(DivisionLevel, "per_unit_level"))
    reference: Mapped[str | None] = mapped_column(String(300))
    reference_indicator_id: Mapped[int | None] = mapped_column(
        ForeignKey("indicators.id", ondelete="RESTRICT")
    )
    """A relative target (高于国家和省标准): the indicator whose values are the reference series."""
    baseline_value: Mapped[float | None] = mapped_column(Float)
    baseline_year: Mapped[int]
    deadline_year: Mapped[int]
    deadline_inferred: Mapped[bool] = mapped_column(default=False)
    source_sentence: Mapped[str] = mapped_column(Text)
    incomplete: Mapped[bool] = mapped_column(default=False)
    incomplete_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)

    plan: Mapped[Plan] = relationship()
    indicator: Mapped[Indicator] = relationship(foreign_keys=[indicator_id])
    reference_indicator: Mapped[Indicator | None] = relationship(foreign_keys=[reference_indicator_id])
    section: Mapped[Section | None] = relationship()
    task: Mapped[Task | None] = relationship()
    scope: Mapped[Division] = relationship()
