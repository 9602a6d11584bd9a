"""The request-templates file (``planwatch.request-templates/v1``) of the simulated request
history: texts per request type, volume and kind shares, seasons and hours, and the lifecycle
parameters (模拟数据). See ``chengdu/request_templates.yaml`` and ``requests_demo``."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planwatch.datasets import chengdu_path
from planwatch.errors import CatalogueError, Problem
from planwatch.models.enums import RequestChannel, RequestKind

__all__ = [
    "Factors",
    "Lifecycle",
    "Notes",
    "RequestTemplates",
    "TypeTemplates",
    "read_request_templates",
    "shipped_templates",
]

Probability = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TypeTemplates(_Strict):
    """How one request type is simulated: volume, kinds, season, hours and its texts."""

    weight: float = Field(gt=0)
    kinds: dict[RequestKind, float]
    season: list[float] = Field(min_length=12, max_length=12)
    hours: str
    rural: float = Field(default=1.0, ge=0)
    """Weight of villages (村) against urban communities for this type."""
    neighbours: list[str] = []
    """Types whose texts this one's borderline cases read like (小区停水: water or property?)."""
    objects: list[str] = Field(min_length=1)
    details: list[str] = Field(min_length=1)
    templates: list[str] = Field(min_length=1)
    questions: list[str] = []
    suggestions: list[str] = []
    short: list[str] = []


class Factors(_Strict):
    """A department's or district's handling compared with the rest: ``late`` and ``overdue``
    multiply the probabilities, ``resolved`` and ``satisfied`` shift them."""

    late: float = Field(default=1.0, ge=0)
    overdue: float = Field(default=1.0, ge=0)
    resolved: float = Field(default=0.0, ge=-0.5, le=0.5)
    satisfied: float = Field(default=0.0, ge=-0.5, le=0.5)


class Notes(_Strict):
    replied: list[str] = Field(min_length=1)
    replied_consultation: list[str] = Field(min_length=1)
    progress: list[str] = Field(min_length=1)
    returned: list[str] = Field(min_length=1)
    transferred: list[str] = Field(min_length=1)
    reopened: list[str] = Field(min_length=1)


class Lifecycle(_Strict):
    dispatch_minutes: dict[Literal["hotline", "online"], float]
    direct_consultation: Probability = Field(ge=0, le=1)
    duplicate: Probability = Field(ge=0, le=1)
    late_response: Probability = Field(ge=0, le=1)
    overdue: Probability = Field(ge=0, le=1)
    stalled: Probability = Field(ge=0, le=1)
    returned: Probability = Field(ge=0, le=1)
    transferred: Probability = Field(ge=0, le=1)
    callback: Probability = Field(ge=0, le=1)
    callback_direct: Probability = Field(ge=0, le=1)
    resolved: Probability = Field(ge=0, le=1)
    satisfied_if_resolved: list[float] = Field(min_length=3, max_length=3)
    satisfied_if_unresolved: list[float] = Field(min_length=3, max_length=3)
    reopen_if_unresolved: Probability = Field(ge=0, le=1)
    named_reporter: Probability = Field(ge=0, le=1)
    confirmed_online: Probability = Field(ge=0, le=1)
    two_topics: Probability = Field(ge=0, le=1)
    short: Probability = Field(ge=0, le=1)
    vague: Probability = Field(ge=0, le=1)
    borderline: Probability = Field(ge=0, le=1)
    phone_in_text: Probability = Field(ge=0, le=1)
    departments: dict[str, Factors] = {}
    districts: dict[str, Factors] = {}
    notes: Notes


class Names(_Strict):
    first: list[str] = Field(min_length=2)
    second: list[str] = Field(min_length=2)
    estate: list[str] = Field(min_length=1)
    road: list[str] = Field(min_length=1)


_TEXT_SLOTS: Final = frozenset(
    {"place", "time", "object", "detail", "request", "question", "suggest", "reason", "unit",
     "community", "street", "estate", "road"}
)  # fmt: skip
_PLACE_SLOTS: Final = frozenset(
    {"community", "street", "estate", "road", "road2", "building", "unit_no", "number"}
)


def _slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class RequestTemplates(_Strict):
    """The ``planwatch.request-templates/v1`` file: texts, shares and lifecycle parameters."""

    format: Literal["planwatch.request-templates/v1"]
    names: Names
    places: list[str] = Field(min_length=1)
    times: list[str] = Field(min_length=1)
    requests: dict[RequestKind, list[str]]
    consultation: list[str] = Field(min_length=1)
    suggestion: list[str] = Field(min_length=1)
    praise: list[str] = Field(min_length=1)
    reasons: list[str] = Field(min_length=1)
    units: list[str] = Field(min_length=1)
    phone: list[str] = Field(min_length=1)
    vague: list[str] = Field(min_length=1)
    second_topic: list[str] = Field(min_length=1)
    hours: dict[str, list[float]]
    weekdays: dict[str, list[float]]
    channels: dict[RequestChannel, float]
    lifecycle: Lifecycle
    types: dict[str, TypeTemplates]

    @model_validator(mode="after")
    def _consistent(self) -> RequestTemplates:
        problems = []
        for name, weights in self.hours.items():
            if len(weights) != 24 or min(weights) < 0 or sum(weights) <= 0:
                problems.append(f"hours.{name}: 24 non-negative weights, not all zero")
        for name, weights in self.weekdays.items():
            if len(weights) != 7 or min(weights) < 0 or sum(weights) <= 0:
                problems.append(f"weekdays.{name}: 7 non-negative weights (Monday to Sunday)")
        if RequestChannel.simulation in self.channels:
            problems.append("channels: keep the realistic channel; simulated rows are flagged instead")
        for place in self.places:
            if _slots(place) - _PLACE_SLOTS:
                problems.append(f"places: {place!r} uses an unknown slot; known: {sorted(_PLACE_SLOTS)}")
        shared = [*self.consultation, *self.suggestion, *self.praise, *self.second_topic]
        for code, spec in self.types.items():
            problems += [
                f"types.{code}.neighbours: unknown type {t!r}" for t in spec.neighbours if t not in self.types
            ]
            if spec.hours not in self.hours or spec.hours not in self.weekdays:
                problems.append(f"types.{code}.hours: no profile {spec.hours!r} under hours and weekdays")
            for kind in spec.kinds:
                if kind not in (RequestKind.suggestion, RequestKind.praise) and kind not in self.requests:
                    problems.append(f"types.{code}.kinds: no requests phrases for kind {kind.value!r}")
            for text in [*spec.templates, *spec.questions, *spec.suggestions, *spec.short]:
                if _slots(text) - _TEXT_SLOTS:
                    problems.append(
                        f"types.{code}: {text!r} uses an unknown slot; known: {sorted(_TEXT_SLOTS)}"
                    )
        for text in shared:
            if _slots(text) - _TEXT_SLOTS - {"text"}:
                problems.append(f"{text!r} uses an unknown slot; known: {sorted(_TEXT_SLOTS)}")
        for text in self.phone:
            if _slots(text) != {"text", "phone"}:
                problems.append(f"phone: {text!r} must use exactly {{text}} and {{phone}}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def read_request_templates(path: Path | None = None) -> RequestTemplates:
    """Read and check a request-templates file (default: the shipped Chengdu one).

    Raises
    ------
    CatalogueError
        Naming every problem of the file (entry and field).
    """
    path = path or chengdu_path("request_templates.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RequestTemplates.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError([Problem(path.name, "", "", f"cannot be read as UTF-8 YAML: {exc}")]) from exc
    except ValidationError as exc:
        problems = [
            Problem(path.name, ".".join(str(p) for p in err["loc"][:-1]), str(err["loc"][-1]) if err["loc"] else "",
                    err["msg"])
            for err in exc.errors()
        ]  # fmt: skip
        raise CatalogueError(problems) from None


@cache
def shipped_templates() -> RequestTemplates:
    """The shipped Chengdu templates, read once."""
    return read_request_templates()
