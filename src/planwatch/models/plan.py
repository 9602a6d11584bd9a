"""Plans, their chapter tree, departments, and the tasks/actions (行动/工程) with milestones."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from planwatch.models.base import Base, str_enum, utcnow
from planwatch.models.enums import MilestoneStatus, PlanKind, PlanStatus, TaskKind

task_cooperators = Table(
    "task_cooperators",
    Base.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="RESTRICT"), primary_key=True),
)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    expiry_days: Mapped[int | None]
    """Days after a period ends that the department's indicators stay open for entry (its data
    set's 录入期限); ``None``: the ``PLANWATCH_ENTRY_EXPIRY_DAYS`` default."""


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    title_zh: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[PlanKind] = mapped_column(str_enum(PlanKind, "plan_kind"))
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus, "plan_status"))
    period_start: Mapped[int]
    period_end: Mapped[int]
    base_year: Mapped[int]
    vision_year: Mapped[int | None]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    scope_division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    source: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Plan | None] = relationship(remote_side=[id])
    sections: Mapped[list[Section]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Section.position"
    )


class Section(Base):
    """One node of the plan's own chapter tree (篇/部分/章/节)."""

    __tablename__ = "plan_sections"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plan_sections.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=0)

    plan: Mapped[Plan] = relationship(back_populates="sections")


class Task(Base):
    """A task, action (行动) or project (工程) the plan commits to, with who leads it."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("plan_sections.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[TaskKind] = mapped_column(str_enum(TaskKind, "task_kind"))
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    lead_inferred: Mapped[bool] = mapped_column(default=False)
    implementation_path: Mapped[str | None] = mapped_column(Text)
    source_sentence: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    lead_department: Mapped[Department | None] = relationship()
    cooperating: Mapped[list[Department]] = relationship(secondary=task_cooperators)
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="Milestone.due"
    )


class Milestone(Base):
    """A time node (时间节点) of a task: what is delivered by when."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    due: Mapped[date]
    deliverable: Mapped[str] = mapped_column(Text)
    status: Mapped[MilestoneStatus] = mapped_column(str_enum(MilestoneStatus, "milestone_status"))

    task: Mapped[Task] = relationship(back_populates="milestones")


class CatalogueChange(Base):
    """Append-only record of every edit made to the catalogue after it was loaded."""

    __tablename__ = "catalogue_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int]
    changes: Mapped[dict[str, list[object]]] = mapped_column(JSON)
    """``{field: [old, new]}``."""
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
