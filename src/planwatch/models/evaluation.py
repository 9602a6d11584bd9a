"""Published evaluation rounds (年度监测, 中期评估, 总结评估) and qualitative assessments.

All three tables are append-only in the database itself (triggers refuse UPDATE and DELETE,
migration 0004): a published round is a document, and an assessment is an audited record. A
correction is a new row (a round that supersedes another, a later assessment).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from planwatch.models.base import Base, str_enum, utcnow
from planwatch.models.enums import RoundKind
from planwatch.models.indicator import Target
from planwatch.models.plan import Plan


class EvaluationRound(Base):
    """A stored, dated snapshot of the evaluation of every target of a plan for one year.

    ``(plan_id, kind, year)`` is published once; a correction is a new round with the next
    ``revision`` that names the round it ``supersedes``.
    """

    __tablename__ = "evaluation_rounds"
    __table_args__ = (
        UniqueConstraint("plan_id", "kind", "year", "revision"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    kind: Mapped[RoundKind] = mapped_column(str_enum(RoundKind, "round_kind"))
    year: Mapped[int]
    """The evaluation year: data up to this year were used."""
    revision: Mapped[int] = mapped_column(default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_rounds.id", ondelete="RESTRICT"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(150))
    note: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    """Targets per status."""
    simulated: Mapped[bool] = mapped_column(default=False)
    """Some value behind the round is simulated (模拟数据)."""
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The status thresholds the round was evaluated with."""
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    """sha256 over the data every target's evaluation used (the ``data`` of its targets)."""

    plan: Mapped[Plan] = relationship()
    supersedes: Mapped[EvaluationRound | None] = relationship(remote_side=[id])
    targets: Mapped[list[EvaluationRoundTarget]] = relationship(
        back_populates="round", order_by="EvaluationRoundTarget.position"
    )


class EvaluationRoundTarget(Base):
    """One target's evaluation as published in a round, with the data it used."""

    __tablename__ = "evaluation_round_targets"
    __table_args__ = (
        UniqueConstraint("round_id", "target_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("evaluation_rounds.id", ondelete="RESTRICT"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="RESTRICT"))
    target_code: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Every field of the target's evaluation (``TargetEvaluation``), NaN and infinities as null."""
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The values the evaluation used: the judged measure per year at the target's scope, whether
    any of them is simulated, and for a qualitative target the assessment."""

    round: Mapped[EvaluationRound] = relationship(back_populates="targets")
    target: Mapped[Target] = relationship()


class QualitativeAssessment(Base):
    """A manual assessment of a qualitative target for a year, with its evidence.

    Append-only: the history is kept; the latest row for the latest year wins.
    """

    __tablename__ = "qualitative_assessments"
    __table_args__ = (
        Index("ix_qualitative_assessments_target_year", "target_id", "year"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="RESTRICT"))
    year: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))
    """An evaluation status (``evaluation.progress.Status``) other than ``not_evaluable``."""
    evidence: Mapped[str] = mapped_column(Text)
    assessor: Mapped[str] = mapped_column(String(150))
    """Who made the judgement (a person or a body, e.g. 市发改委规划处)."""
    assessed_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(150))
    """The account that entered it."""
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))
    """``cli``, ``api`` or ``page``."""

    target: Mapped[Target] = relationship()
