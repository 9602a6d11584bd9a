"""Public-service demand surveys (公共服务需求常态化调查) and the facilities whose capacity is the
supply side of supply–demand matching (供需对接)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from planwatch.models.base import Base, str_enum, utcnow
from planwatch.models.division import Division
from planwatch.models.enums import QuestionKind, RequestChannel, SurveyStatus


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    """The survey's link is ``/surveys/{code}``."""
    title_zh: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SurveyStatus] = mapped_column(str_enum(SurveyStatus, "survey_status"))
    identity_required: Mapped[bool] = mapped_column(default=False)
    """One answer per person (by a keyed hash of the phone number); otherwise anonymous."""
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    simulated: Mapped[bool] = mapped_column(default=False)

    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey", order_by="SurveyQuestion.position", cascade="all, delete-orphan"
    )


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("survey_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    position: Mapped[int]
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind, "question_kind"))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """``[{"key", "zh", "en"}]`` for choice questions; ``[]`` otherwise."""
    required: Mapped[bool] = mapped_column(default=True)
    scale_min: Mapped[int | None]
    scale_max: Mapped[int | None]
    demand: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Which demand indicator the answers feed: ``{"indicator": code, "options": [keys]}`` (the
    share of respondents choosing any of those options) or ``{"indicator": code}`` for a scale
    question (the mean)."""

    survey: Mapped[Survey] = relationship(back_populates="questions")


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("survey_id", "respondent_hash"),
        Index("ix_survey_responses_survey_division", "survey_id", "division_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    submitted_at: Mapped[datetime]
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    respondent_hash: Mapped[str | None] = mapped_column(String(64))
    """HMAC of the respondent's identity where one answer per person is required; ``None`` when
    anonymous (then no uniqueness is enforced)."""
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Question code → option key, list of keys, scale integer or text."""
    channel: Mapped[RequestChannel] = mapped_column(str_enum(RequestChannel, "survey_channel"))
    simulated: Mapped[bool] = mapped_column(default=False)

    division: Mapped[Division | None] = relationship()


class Facility(Base):
    """A service facility with its capacity (nursing beds, childcare places, canteen seats …):
    the supply side of supply–demand matching. Same columns as coverage's facility files."""

    __tablename__ = "facilities"
    __table_args__ = (Index("ix_facilities_type_division", "type", "division_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    """A facility type code of ``coverage/standards/facility_types.yaml``."""
    name: Mapped[str] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    capacity: Mapped[float | None] = mapped_column(Float)
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    simulated: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(300))

    division: Mapped[Division] = relationship()
