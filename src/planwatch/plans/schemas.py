"""The catalogue file format ``planwatch.plan/v1`` as pydantic models (see docs/catalogue-format.md).

Every model forbids unknown fields: a misspelt field must stop the load, not vanish.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from planwatch.ingest.expressions import MISSING_STRATEGIES, OPERATORS, ExpressionError, parse_expression
from planwatch.models.enums import (
    Aggregation,
    Comparator,
    Direction,
    DivisionLevel,
    Frequency,
    Importance,
    MilestoneStatus,
    Nature,
    PeriodAggregation,
    PlanKind,
    PlanStatus,
    TargetKind,
    TaskKind,
)

FORMAT = "planwatch.plan/v1"
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A finite number written as a number: ``true``, ``"60"``, ``.nan`` and ``.inf`` are refused."""
TREND_COMPARATORS = frozenset({Comparator.increase, Comparator.decrease})
NUMBERLESS_KINDS = frozenset({TargetKind.trend, TargetKind.relative, TargetKind.qualitative})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanHeader(_Strict):
    code: Code
    title: str = Field(min_length=1)
    title_en: str | None = None
    kind: PlanKind
    period: tuple[int, int]
    base_year: int | None = None
    vision_year: int | None = None
    parent: Code | None = None
    status: PlanStatus = PlanStatus.draft
    version: int = Field(default=1, ge=1)
    scope: str
    source: str | None = None

    @model_validator(mode="after")
    def _period(self) -> PlanHeader:
        start, end = self.period
        if not 1949 <= start <= end <= 2100:
            msg = f"period must be [first year, last year] with first <= last, got {list(self.period)}"
            raise ValueError(msg)
        if self.vision_year is not None and self.vision_year < end:
            msg = f"vision_year {self.vision_year} lies before the end of the period {end}"
            raise ValueError(msg)
        return self

    @property
    def effective_base_year(self) -> int:
        return self.base_year if self.base_year is not None else self.period[0] - 1


class DepartmentIn(_Strict):
    code: Code
    name: str = Field(min_length=1)
    name_en: str | None = None
    expiry_days: Annotated[int, Field(strict=True, ge=0, le=3660)] | None = None
    """Days after a period ends that the department's indicators stay open for data entry
    (DHIS2's "expiry days", 录入期限); ``None``: the ``PLANWATCH_ENTRY_EXPIRY_DAYS`` default."""


class SectionIn(_Strict):
    code: Code
    title: str = Field(min_length=1)
    title_en: str | None = None
    children: list[SectionIn] = Field(default_factory=list)


class AggregationIn(_Strict):
    method: Aggregation
    factor: Number | None = None
    numerator: str | None = None
    denominator: str | None = None
    weight: Literal["population"] | None = None
    comparator: Comparator | None = None
    threshold: Number | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AggregationIn:
        if self.method is Aggregation.ratio:
            if not self.factor or self.factor <= 0:
                msg = "a ratio needs a positive factor (100 for a percentage, 1 for a plain ratio)"
                raise ValueError(msg)
        elif self.factor is not None or self.numerator or self.denominator:
            msg = f"factor, numerator and denominator belong to method ratio, not {self.method}"
            raise ValueError(msg)
        if self.method is Aggregation.count_meeting:
            if self.comparator is None or self.threshold is None:
                msg = "count_meeting needs a comparator and a threshold (the condition a unit meets)"
                raise ValueError(msg)
        elif self.comparator is not None or self.threshold is not None:
            msg = f"comparator and threshold belong to method count_meeting, not {self.method}"
            raise ValueError(msg)
        return self


class IndicatorIn(_Strict):
    code: Code
    name: str = Field(min_length=1)
    name_en: str | None = None
    unit: str = Field(min_length=1)
    definition: str | None = None
    direction: Direction
    nature: Nature = Nature.expected
    nature_inferred: bool = False
    frequency: Frequency = Frequency.annual
    period_aggregation: PeriodAggregation = PeriodAggregation.last
    aggregation: AggregationIn
    source_department: Code | None = None
    levels: list[DivisionLevel] = Field(min_length=1)
    computed_by: Literal["coverage", "requests", "surveys"] | None = None
    """Values come from a planwatch computation (life-circle coverage, request metrics, survey
    answers), not from reporting: the indicator is left out of data-entry templates."""


class MilestoneIn(_Strict):
    due: dt.date
    deliverable: str = Field(min_length=1)
    status: MilestoneStatus = MilestoneStatus.planned


class TaskIn(_Strict):
    code: Code
    section: Code | None = None
    name: str = Field(min_length=1)
    name_en: str | None = None
    kind: TaskKind = TaskKind.task
    lead: Code | None = None
    lead_inferred: bool = False
    cooperating: list[Code] = Field(default_factory=list)
    implementation_path: str | None = None
    milestones: list[MilestoneIn] = Field(default_factory=list)
    source_sentence: str | None = None
    note: str | None = None


class BaselineIn(_Strict):
    value: Number | None = None
    year: int | None = None


class TargetIn(_Strict):
    code: Code
    indicator: Code
    section: Code | None = None
    task: Code | None = None
    scope: str
    kind: TargetKind
    comparator: Comparator
    value: Number | None = None
    range: tuple[Number, Number] | None = None
    unit: str = Field(min_length=1)
    per: str | None = None
    per_unit_level: DivisionLevel | None = None
    reference: str | None = None
    reference_indicator: Code | None = None
    """Relative targets: the indicator whose values are the reference series (e.g. the national
    standard, loaded as data like any indicator)."""
    baseline: BaselineIn = Field(default_factory=BaselineIn)
    deadline: int
    deadline_inferred: bool = False
    source_sentence: str = Field(min_length=1)
    incomplete: bool = False
    incomplete_reason: str | None = None
    note: str | None = None

    @field_validator("reference_indicator")
    @classmethod
    def _only_relative(cls, code: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if code is not None and kind is not None and kind is not TargetKind.relative:
            msg = (
                "reference_indicator belongs to relative targets (高于国家和省标准), not to kind "
                f"{kind.value}; remove it or set kind: relative"
            )
            raise ValueError(msg)
        return code

    @model_validator(mode="after")
    def _consistent(self) -> TargetIn:
        if self.range is not None:
            low, high = self.range
            if low > high:
                msg = f"range must be [low, high], got {list(self.range)}"
                raise ValueError(msg)
            if self.value is not None:
                msg = "give either value or range, not both"
                raise ValueError(msg)
        if (self.kind is TargetKind.trend) != (self.comparator in TREND_COMPARATORS):
            msg = (
                "a trend target (持续上升/下降) uses comparator increase or decrease, and only a trend "
                f"target does; got kind {self.kind.value} with comparator {self.comparator.value}"
            )
            raise ValueError(msg)
        if self.kind is TargetKind.trend and (self.value is not None or self.range is not None):
            msg = "a trend target (持续上升/下降) takes no value or range"
            raise ValueError(msg)
        if self.incomplete and not self.incomplete_reason:
            msg = "incomplete targets need incomplete_reason (what is missing and why)"
            raise ValueError(msg)
        needs_number = self.kind not in NUMBERLESS_KINDS and self.comparator not in {
            Comparator.increase,
            Comparator.decrease,
        }
        if needs_number and self.value is None and self.range is None and not self.incomplete:
            msg = (
                f"a {self.kind} target needs a value or range; if the source lost the number, "
                "set incomplete: true and say why in incomplete_reason"
            )
            raise ValueError(msg)
        if self.kind is TargetKind.per_unit_coverage and self.per_unit_level is None:
            msg = "per_unit_coverage targets need per_unit_level (the level every unit of which must meet it)"
            raise ValueError(msg)
        return self


class ValidationRuleIn(_Strict):
    """A DHIS2-style rule ``left operator right`` over indicator values (``#{code}``), checked per
    division and period at ``levels``. Whether the referenced indicators exist is checked on load,
    where the database's indicators are known too."""

    code: Code
    name: str = Field(min_length=1)
    name_en: str | None = None
    left: str
    operator: str
    right: str
    importance: Importance = Importance.medium
    missing: str = "skip_if_any_missing"
    levels: list[DivisionLevel] = Field(min_length=1)
    instruction: str | None = None
    """What a reporter should check when the rule fails."""

    @field_validator("left", "right", mode="before")
    @classmethod
    def _number_is_an_expression(cls, value: object) -> object:
        # ``right: 0`` in YAML is a number, and a number is a whole expression.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("left", "right")
    @classmethod
    def _parses(cls, text: str) -> str:
        try:
            parse_expression(text)
        except ExpressionError as exc:
            msg = f"{exc.message} (in the expression {text!r})"
            raise ValueError(msg) from None
        return text

    @field_validator("operator")
    @classmethod
    def _operator(cls, operator: str) -> str:
        if operator not in OPERATORS:
            msg = f"unknown operator {operator!r}; use one of {', '.join(OPERATORS)}"
            raise ValueError(msg)
        return operator

    @field_validator("missing")
    @classmethod
    def _missing(cls, missing: str) -> str:
        if missing not in MISSING_STRATEGIES:
            msg = f"unknown missing-value strategy {missing!r}; use one of {', '.join(MISSING_STRATEGIES)}"
            raise ValueError(msg)
        return missing

    @model_validator(mode="after")
    def _references_something(self) -> ValidationRuleIn:
        if not any(self.references().values()):
            msg = (
                "the rule references no indicator; a rule of constants is always true or always "
                "false. Reference at least one as #{indicator_code}"
            )
            raise ValueError(msg)
        return self

    def references(self) -> dict[str, frozenset[str]]:
        """The indicator codes each side references, by field name (``left``, ``right``)."""
        return {"left": parse_expression(self.left).refs, "right": parse_expression(self.right).refs}


class PlanFile(_Strict):
    format: Literal["planwatch.plan/v1"]
    plan: PlanHeader
    departments: list[DepartmentIn] = Field(default_factory=list)
    sections: list[SectionIn] = Field(default_factory=list)
    indicators: list[IndicatorIn] = Field(default_factory=list)
    tasks: list[TaskIn] = Field(default_factory=list)
    targets: list[TargetIn] = Field(default_factory=list)
    validation_rules: list[ValidationRuleIn] = Field(default_factory=list)


def walk_sections(
    sections: list[SectionIn], parent: str | None = None, depth: int = 0
) -> list[tuple[SectionIn, str | None, int]]:
    """Flatten the chapter tree into (section, parent code, depth), in reading order."""
    out: list[tuple[SectionIn, str | None, int]] = []
    for section in sections:
        out.append((section, parent, depth))
        out.extend(walk_sections(section.children, section.code, depth + 1))
    return out
