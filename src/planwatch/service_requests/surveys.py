"""Public-service demand surveys (公共服务需求常态化调查): define, publish, close and answer.

A survey is defined in a ``planwatch.survey/v1`` file (YAML or JSON) with single choice, multiple
choice, scale and free-text questions, after Decidim's questionnaire engine. Answers are anonymous
unless the survey sets ``identity_required``: then each person answers once, recognised by a keyed
hash (HMAC-SHA256 with the data key) of their normalised mobile number and the survey's code, so
the phone number itself is never stored and one person's answers to different surveys cannot be
linked by the hash. Results and demand indicators: ``survey_results.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from planwatch.clock import as_utc
from planwatch.config import Settings
from planwatch.crypto import KeyMissingError
from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import DivisionTree, Node
from planwatch.errors import CatalogueError, ConflictError, InvalidValueError, NotFoundError, Problem
from planwatch.models import Indicator, Survey, SurveyQuestion, SurveyResponse
from planwatch.models.enums import (
    DivisionLevel,
    QuestionKind,
    RequestChannel,
    SurveyStatus,
)
from planwatch.plans.reader import _parse, _problem_from_error

__all__ = [
    "FORMAT",
    "TEXT_MAX_CHARS",
    "SurveyIn",
    "check_answers",
    "close_survey",
    "define_survey",
    "get_survey",
    "list_surveys",
    "normalise_phone",
    "publish_survey",
    "read_survey_file",
    "respondent_hash",
    "submit_answers",
    "validate_survey_data",
]

FORMAT: Final = "planwatch.survey/v1"
TEXT_MAX_CHARS: Final = 2000
"""Longest free-text answer accepted."""

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


# ---------------------------------------------------------------- the definition format


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptionIn(_Strict):
    key: Code
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)


class ScaleIn(_Strict):
    min: int = Field(strict=True, ge=-100, le=100)
    max: int = Field(strict=True, ge=-100, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ScaleIn:
        if not self.min < self.max:
            msg = f"min must be below max, got min {self.min}, max {self.max}"
            raise ValueError(msg)
        if self.max - self.min > 20:
            msg = f"a scale has at most 21 points, got {self.min}…{self.max}"
            raise ValueError(msg)
        return self


class DemandIn(_Strict):
    indicator: Code
    """The demand indicator (in the catalogue) the answers feed."""
    options: list[str] = Field(default_factory=list)
    """Choice questions: the options that count as demand (the share of respondents choosing any);
    empty for a scale question (its mean is the value)."""


class QuestionIn(_Strict):
    code: Code
    kind: QuestionKind
    text: str = Field(min_length=1, max_length=1000)
    text_en: str | None = Field(default=None, max_length=1000)
    options: list[OptionIn] = Field(default_factory=list)
    required: bool = True
    scale: ScaleIn | None = None
    demand: DemandIn | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QuestionIn:
        choice = self.kind in (QuestionKind.single, QuestionKind.multiple)
        if choice and len(self.options) < 2:
            msg = f"a {self.kind.value} question needs at least two options"
            raise ValueError(msg)
        if not choice and self.options:
            msg = f"a {self.kind.value} question takes no options; remove them or make it single/multiple"
            raise ValueError(msg)
        keys = [o.key for o in self.options]
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            msg = f"option key(s) {', '.join(duplicated)} used twice; keys must be unique"
            raise ValueError(msg)
        if (self.kind is QuestionKind.scale) != (self.scale is not None):
            msg = "a scale question needs scale: {min, max}, and only a scale question takes one"
            raise ValueError(msg)
        if self.demand is not None:
            if self.kind is QuestionKind.text:
                msg = "a text question cannot feed a demand indicator (only choices and scales can)"
                raise ValueError(msg)
            if choice and not self.demand.options:
                msg = "demand.options must list the option keys that count as demand"
                raise ValueError(msg)
            if not choice and self.demand.options:
                msg = "demand.options belong to choice questions; a scale feeds its mean"
                raise ValueError(msg)
            unknown = [k for k in self.demand.options if k not in keys]
            if unknown:
                msg = f"demand.options {', '.join(unknown)} are not option keys of this question ({', '.join(keys)})"
                raise ValueError(msg)
        return self


SurveyCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
"""A survey's code is a path segment of its public link: letters, digits, ``_`` and ``-``."""


class SurveyIn(_Strict):
    """A survey definition, format ``planwatch.survey/v1``."""

    format: Literal["planwatch.survey/v1"]
    code: SurveyCode
    title: str = Field(min_length=1, max_length=300)
    title_en: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    identity_required: bool = False
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    questions: list[QuestionIn] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _window(self) -> SurveyIn:
        for name in ("opens_at", "closes_at"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                msg = f"{name} needs a time zone, e.g. 2025-03-01T00:00:00+08:00"
                raise ValueError(msg)
        if self.opens_at and self.closes_at and not self.opens_at < self.closes_at:
            msg = "closes_at must come after opens_at"
            raise ValueError(msg)
        return self


def read_survey_file(path: Path) -> SurveyIn:
    """Parse and validate a survey definition file (YAML or JSON).

    Raises
    ------
    CatalogueError
        Listing every problem with the entry (``questions[2] (needs)``) and field it is in;
        nothing is defined.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogueError([Problem(name, "", "", "no such file; check the path")]) from None
    except OSError as exc:
        raise CatalogueError([Problem(name, "", "", f"not a readable file ({exc.strerror})")]) from None
    except UnicodeDecodeError as exc:
        raise CatalogueError(
            [Problem(name, "", "", f"not UTF-8 text ({exc.reason}); save it as UTF-8")]
        ) from None
    return validate_survey_data(_parse(name, text, json_only=path.suffix.lower() == ".json"), name=name)


def validate_survey_data(raw: Any, *, name: str = "survey") -> SurveyIn:
    """Validate a parsed definition (a mapping); ``CatalogueError`` lists every problem."""
    if not isinstance(raw, dict):
        raise CatalogueError(
            [Problem(name, "", "", "a survey must be a mapping with format, code, title, questions")]
        )
    try:
        survey = SurveyIn.model_validate(raw)
    except ValidationError as exc:
        raise CatalogueError([_survey_problem(name, raw, err) for err in exc.errors()]) from None
    codes = [q.code for q in survey.questions]
    problems = [
        Problem(name, f"questions[{i}] ({code})", "code", "duplicate question code; codes must be unique")
        for i, code in enumerate(codes)
        if code in codes[:i]
    ]
    if problems:
        raise CatalogueError(problems)
    return survey


def _survey_problem(name: str, raw: dict[str, Any], err: Any) -> Problem:
    problem = _problem_from_error(name, raw, err)
    if err["type"] == "literal_error" and problem.field == "format":
        message = f"must be '{FORMAT}'"
    elif err["type"] == "extra_forbidden":
        message = "unknown field; check the spelling against the survey format (docs: demand surveys)"
    else:
        return problem
    return Problem(problem.file, problem.entry, problem.field, message)


# ---------------------------------------------------------------- defining, publishing, closing


def _question_rows(definition: SurveyIn) -> list[dict[str, Any]]:
    return [
        {
            "code": q.code,
            "position": position,
            "kind": q.kind,
            "text_zh": q.text,
            "text_en": q.text_en,
            "options": [{"key": o.key, "zh": o.name, "en": o.name_en} for o in q.options],
            "required": q.required,
            "scale_min": q.scale.min if q.scale else None,
            "scale_max": q.scale.max if q.scale else None,
            "demand": q.demand.model_dump() if q.demand else None,
        }
        for position, q in enumerate(definition.questions, start=1)
    ]


def _survey_values(definition: SurveyIn) -> dict[str, Any]:
    return {
        "title_zh": definition.title,
        "title_en": definition.title_en,
        "description": definition.description,
        "identity_required": definition.identity_required,
        # stored in UTC: SQLite keeps a datetime's digits and drops its offset
        "opens_at": definition.opens_at.astimezone(UTC) if definition.opens_at else None,
        "closes_at": definition.closes_at.astimezone(UTC) if definition.closes_at else None,
    }


def _same(survey: Survey, definition: SurveyIn) -> bool:
    def moment(value: datetime | None) -> datetime | None:
        return as_utc(value) if value is not None else None

    values = _survey_values(definition)
    for key, value in values.items():
        stored = getattr(survey, key)
        if key in ("opens_at", "closes_at"):
            stored, value = moment(stored), moment(value)
        if stored != value:
            return False
    stored_rows = [{key: getattr(q, key) for key in _question_rows(definition)[0]} for q in survey.questions]
    return stored_rows == _question_rows(definition)


def define_survey(
    session: Session,
    definition: SurveyIn,
    *,
    actor: str,
    now: datetime,
    simulated: bool = False,
    source: str = "survey",
) -> tuple[Survey, Literal["created", "updated", "unchanged"]]:
    """Create a survey as a draft, or replace the definition of a draft with the same code.

    Re-defining an identical survey changes nothing (whatever its status). A survey that is open
    or closed keeps its questions: answers were given to them.

    Raises
    ------
    CatalogueError
        A demand indicator that is not in the catalogue (naming the question and field).
    ConflictError
        The code belongs to a published survey whose definition differs.
    """
    problems = []
    for index, question in enumerate(definition.questions):
        if question.demand is None:
            continue
        indicator = session.scalar(select(Indicator).where(Indicator.code == question.demand.indicator))
        if indicator is None:
            problems.append(
                Problem(
                    source,
                    f"questions[{index}] ({question.code})",
                    "demand.indicator",
                    f"indicator {question.demand.indicator} is not in the catalogue; add it under"
                    " indicators: of the plan file (指标目录中没有该指标)",
                )
            )
    if problems:
        raise CatalogueError(problems)
    existing = session.scalar(
        select(Survey).where(Survey.code == definition.code).options(selectinload(Survey.questions))
    )
    if existing is not None:
        if _same(existing, definition):
            return existing, "unchanged"
        if existing.status is not SurveyStatus.draft:
            raise ConflictError(
                f"survey {definition.code} is {existing.status.value}; its questions cannot change once"
                " answers may have been given. Define the new version under a new code (已发布的调查不能修改)"
            )
        for key, value in _survey_values(definition).items():
            setattr(existing, key, value)
        existing.questions.clear()
        session.flush()
        existing.questions.extend(SurveyQuestion(**row) for row in _question_rows(definition))
        session.flush()
        return existing, "updated"
    survey = Survey(
        code=definition.code,
        status=SurveyStatus.draft,
        created_at=now,
        created_by=actor,
        simulated=simulated,
        questions=[SurveyQuestion(**row) for row in _question_rows(definition)],
        **_survey_values(definition),
    )
    session.add(survey)
    session.flush()
    return survey, "created"


def get_survey(session: Session, code: str, *, include_drafts: bool = False) -> Survey:
    """A survey by code; drafts only for those who manage surveys (others get 404, as if none)."""
    survey = session.scalar(select(Survey).where(Survey.code == code).options(selectinload(Survey.questions)))
    if survey is None or (survey.status is SurveyStatus.draft and not include_drafts):
        raise NotFoundError(f"no survey {code!r}; list them with GET /api/surveys (没有该调查)")
    return survey


def list_surveys(session: Session, *, include_drafts: bool = False) -> list[Survey]:
    """Surveys, newest first; drafts only with ``include_drafts``."""
    query = select(Survey).options(selectinload(Survey.questions)).order_by(Survey.id.desc())
    if not include_drafts:
        query = query.where(Survey.status != SurveyStatus.draft)
    return list(session.scalars(query))


def publish_survey(session: Session, survey: Survey, *, now: datetime) -> Survey:
    """Open a draft for answers (draft → open)."""
    if survey.status is not SurveyStatus.draft:
        raise ConflictError(
            f"survey {survey.code} is {survey.status.value}, not a draft; only a draft can be published"
        )
    survey.status = SurveyStatus.open
    if survey.closes_at is not None and as_utc(survey.closes_at) <= as_utc(now):
        raise ConflictError(
            f"survey {survey.code} closes at {as_utc(survey.closes_at).isoformat()}, already past; change closes_at"
        )
    session.flush()
    return survey


def close_survey(session: Session, survey: Survey, *, now: datetime) -> Survey:
    """Stop taking answers (open → closed); ``closes_at`` becomes now if it was later or unset."""
    if survey.status is not SurveyStatus.open:
        raise ConflictError(
            f"survey {survey.code} is {survey.status.value}; only an open survey can be closed"
        )
    survey.status = SurveyStatus.closed
    if survey.closes_at is None or as_utc(survey.closes_at) > as_utc(now):
        survey.closes_at = now
    session.flush()
    return survey


# ---------------------------------------------------------------- answering


@dataclass(frozen=True)
class QuestionSpec:
    """What answer checking and tallying need of a question (plain data, no session)."""

    code: str
    kind: QuestionKind
    text_zh: str
    text_en: str | None
    options: tuple[tuple[str, str, str | None], ...]
    """(key, name_zh, name_en) in order."""
    required: bool = True
    scale_min: int | None = None
    scale_max: int | None = None
    demand: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, question: SurveyQuestion) -> QuestionSpec:
        return cls(
            code=question.code,
            kind=question.kind,
            text_zh=question.text_zh,
            text_en=question.text_en,
            options=tuple((o["key"], o["zh"], o.get("en")) for o in question.options),
            required=question.required,
            scale_min=question.scale_min,
            scale_max=question.scale_max,
            demand=question.demand,
        )

    @property
    def scale(self) -> tuple[int, int]:
        """(lowest, highest) point of a scale question."""
        if self.scale_min is None or self.scale_max is None:
            msg = f"question {self.code} is not a scale"
            raise InvalidValueError(msg)
        return self.scale_min, self.scale_max

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _, _ in self.options)

    def label(self) -> str:
        text = self.text_zh if len(self.text_zh) <= 30 else self.text_zh[:29] + "…"
        return f"question '{self.code}' ({text})"


def specs_of(survey: Survey) -> list[QuestionSpec]:
    return [QuestionSpec.of(q) for q in survey.questions]


def check_answers(questions: Sequence[QuestionSpec], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Check one respondent's answers and return them cleaned (unanswered questions left out).

    Every problem names its question; all are reported together.

    Raises
    ------
    InvalidValueError
        An unknown question or option, a required question left out, a scale value outside the
        scale or not an integer, a text over 2,000 characters, or a value of the wrong type.
    """
    if not isinstance(answers, Mapping):
        raise InvalidValueError("answers must be an object: question code → answer (答案格式错误)")
    known = {q.code: q for q in questions}
    unknown = [str(code)[:40] for code in answers if code not in known]
    problems = []
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        problems.append(
            f"answers: unknown question(s) {', '.join(repr(c) for c in unknown[:5])}{more};"
            f" this survey asks {', '.join(known)}"
        )
    cleaned: dict[str, Any] = {}
    for question in questions:
        value = answers.get(question.code)
        problem, clean = _check_one(question, value)
        if problem:
            problems.append(f"{question.label()}: {problem}")
        elif clean is None:
            if question.required:
                problems.append(f"{question.label()}: is required; answer it (此题必答)")
        else:
            cleaned[question.code] = clean
    if problems:
        raise InvalidValueError("; ".join(problems))
    return cleaned


def _check_one(question: QuestionSpec, value: Any) -> tuple[str | None, Any]:
    """(problem, cleaned value); a cleaned value of None means "not answered"."""
    if value is None:
        return None, None
    keys = question.keys
    if question.kind is QuestionKind.single:
        if not isinstance(value, str):
            return f"give one option key as text, got {type(value).__name__}", None
        if value == "":
            return None, None
        if value not in keys:
            return f"option '{value[:40]}' is not one of {', '.join(keys)}", None
        return None, value
    if question.kind is QuestionKind.multiple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return f"give a list of option keys, got {type(value).__name__}", None
        unknown = [v for v in value if v not in keys]
        if unknown:
            return (
                f"option(s) {', '.join(repr(v[:40]) for v in unknown[:5])} not among {', '.join(keys)}",
                None,
            )
        if len(set(value)) != len(value):
            return "an option is given twice", None
        return None, [k for k in keys if k in value] or None
    if question.kind is QuestionKind.scale:
        if isinstance(value, bool) or not isinstance(value, int):
            return (
                f"give a whole number from {question.scale_min} to {question.scale_max}, got {value!r:.40}",
                None,
            )
        low, high = question.scale
        if not low <= value <= high:
            return f"{value} is outside the scale {low}–{high}", None
        return None, value
    if not isinstance(value, str):
        return f"give text, got {type(value).__name__}", None
    text = value.strip()
    if len(text) > TEXT_MAX_CHARS:
        return f"{len(text):,} characters; at most {TEXT_MAX_CHARS:,} are accepted (请精简到2000字以内)", None
    return None, text or None


_MOBILE: Final = re.compile(r"1[3-9]\d{9}")


def normalise_phone(phone: str) -> str:
    """A mainland mobile number as its 11 digits: spaces, dashes, brackets and a +86/0086 prefix
    are dropped, so ``+86 138-0013-8000`` and ``13800138000`` are the same person."""
    digits = re.sub(r"[\s\-().]", "", phone)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not _MOBILE.fullmatch(digits):
        raise InvalidValueError(
            "phone: not a mainland mobile number (11 digits starting with 1); this survey allows one"
            " answer per person and recognises people by their mobile number (请填写11位手机号)"
        )
    return digits


def _data_key(settings: Settings) -> bytes:
    # the key material of planwatch.crypto.cipher: the environment's data key, else the key file
    if settings.data_key is not None:
        return settings.data_key.get_secret_value().encode()
    if not settings.key_file.exists():
        msg = f"no data key: set PLANWATCH_DATA_KEY or create the key file {settings.key_file} with `planwatch init`"
        raise KeyMissingError(msg)
    return settings.key_file.read_bytes().strip()


def respondent_hash(settings: Settings, survey_code: str, phone: str) -> str:
    """HMAC-SHA256 (hex) of the normalised phone number, keyed with the data key and bound to the
    survey: the same person hashes differently in different surveys."""
    message = f"planwatch.survey/v1\x00{survey_code}\x00{normalise_phone(phone)}".encode()
    return hmac.new(_data_key(settings), message, hashlib.sha256).hexdigest()


def _answer_division(session: Session, code: str) -> int:
    node = division_tree(session).by_code.get(code.strip()) if code else None
    if node is None:
        raise InvalidValueError(
            f"division_code: {code[:32]!r} is not a current division; pick your street or community (请选择所在街道或社区)"
        )
    if node.level.depth < DivisionLevel.district.depth:
        raise InvalidValueError(
            f"division_code: {node.code} is the whole {node.level.value}; pick your street or community (请选择所在街道或社区)"
        )
    return node.id


def submit_answers(
    session: Session,
    survey: Survey,
    answers: Mapping[str, Any],
    *,
    division_code: str,
    identity: str | None,
    channel: RequestChannel,
    now: datetime,
    settings: Settings,
    simulated: bool = False,
) -> SurveyResponse:
    """Record one respondent's answers.

    Parameters
    ----------
    answers
        Question code → option key (single), list of keys (multiple), integer (scale) or text.
    division_code
        Where the respondent lives: a district, street or community code.
    identity
        The respondent's mobile number; required when the survey sets ``identity_required`` (one
        answer per person), ignored and never stored otherwise.

    Raises
    ------
    ConflictError
        The survey is not open now, or this person has answered it already.
    InvalidValueError
        Answers, division or phone that do not fit (every problem names its question or field).
    """
    moment = as_utc(now)
    if survey.status is not SurveyStatus.open:
        state = "not open yet" if survey.status is SurveyStatus.draft else "closed"
        raise ConflictError(
            f"survey {survey.code} is {state}; answers are taken only while it is open (调查未开放)"
        )
    if survey.opens_at is not None and moment < as_utc(survey.opens_at):
        raise ConflictError(
            f"survey {survey.code} opens at {as_utc(survey.opens_at).isoformat()}; answer then (调查尚未开始)"
        )
    if survey.closes_at is not None and moment >= as_utc(survey.closes_at):
        raise ConflictError(
            f"survey {survey.code} closed at {as_utc(survey.closes_at).isoformat()} (调查已结束)"
        )
    cleaned = check_answers(specs_of(survey), answers)
    division_id = _answer_division(session, division_code)
    digest = None
    if survey.identity_required:
        if not identity or not identity.strip():
            raise InvalidValueError(
                "phone: this survey allows one answer per person; give your mobile number (it is not stored,"
                " only a keyed hash of it) (本调查每人限答一次,请填写手机号)"
            )
        digest = respondent_hash(settings, survey.code, identity)
    response = SurveyResponse(
        survey_id=survey.id,
        submitted_at=now,
        division_id=division_id,
        respondent_hash=digest,
        answers=cleaned,
        channel=channel,
        simulated=simulated,
    )
    if digest is not None:
        already = session.scalar(
            select(SurveyResponse.id).where(
                SurveyResponse.survey_id == survey.id, SurveyResponse.respondent_hash == digest
            )
        )
        if already is not None:
            raise _answered_twice(survey)
    try:
        with session.begin_nested():  # a concurrent second answer hits the unique constraint
            session.add(response)
    except sa_exc.IntegrityError:
        raise _answered_twice(survey) from None
    return response


def _answered_twice(survey: Survey) -> ConflictError:
    return ConflictError(
        f"this phone number has already answered survey {survey.code}; one answer per person (每人限答一次,您已提交过)"
    )


def division_choices(session: Session) -> list[tuple[Node, list[Node]]]:
    """Districts with their streets, for the answering page's division picker."""
    tree = division_tree(session)
    root = tree.root
    if root is None:
        return []
    return [
        (district, tree.descendants(district.id, level=DivisionLevel.street))
        for district in tree.descendants(root.id, level=DivisionLevel.district)
    ]


def communities_of(tree: DivisionTree, street_code: str) -> list[Node]:
    """The communities of a street (empty for an unknown code)."""
    street = tree.by_code.get(street_code)
    if street is None or street.level is not DivisionLevel.street:
        return []
    return tree.descendants(street.id, level=DivisionLevel.community)
