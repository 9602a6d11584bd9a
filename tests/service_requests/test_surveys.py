"""Demand surveys: the definition format, publishing, answering (anonymous and one per person),
results per division, demand indicators and the simulated demo."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.datasets import chengdu_path
from planwatch.datasets.surveys_demo import install_surveys_demo
from planwatch.errors import CatalogueError, ConflictError, InvalidValueError, NotFoundError
from planwatch.models import DataValue, Facility, Indicator, SurveyResponse
from planwatch.models.enums import (
    Aggregation,
    Direction,
    DivisionLevel,
    Frequency,
    Nature,
    PeriodAggregation,
    QuestionKind,
    RequestChannel,
    SurveyStatus,
    ValueSource,
)
from planwatch.service_requests.survey_results import survey_results, tally, write_survey_indicators
from planwatch.service_requests.surveys import (
    QuestionSpec,
    check_answers,
    close_survey,
    define_survey,
    get_survey,
    list_surveys,
    normalise_phone,
    publish_survey,
    read_survey_file,
    respondent_hash,
    submit_answers,
    validate_survey_data,
)
from tests.conftest import settings_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STREET = "510104017"  # 锦官驿街道, 锦江区
COMMUNITY = "510104017001"  # 水井坊社区
OTHER_STREET = "510104018"  # 东湖街道, 锦江区
WUHOU_STREET = "510107001"  # 浆洗街街道, 武侯区


def definition(**changes: Any) -> dict[str, Any]:
    """A small survey with every question kind and a demand question."""
    data: dict[str, Any] = {
        "format": "planwatch.survey/v1",
        "code": "t-demand",
        "title": "测试调查",
        "title_en": "Test survey",
        "identity_required": False,
        "questions": [
            {
                "code": "care",
                "kind": "single",
                "text": "是否需要养老服务?",
                "options": [
                    {"key": "yes", "name": "需要"},
                    {"key": "no_need", "name": "不需要"},
                ],
                "demand": {"indicator": "survey_elderly_care_demand_share", "options": ["yes"]},
            },
            {
                "code": "needs",
                "kind": "multiple",
                "text": "需要哪些服务?",
                "options": [
                    {"key": "a", "name": "甲"},
                    {"key": "b", "name": "乙"},
                    {"key": "c", "name": "丙"},
                ],
            },
            {"code": "score", "kind": "scale", "text": "满意度", "scale": {"min": 1, "max": 5}},
            {"code": "note", "kind": "text", "text": "意见", "required": False},
        ],
    }
    data.update(changes)
    return data


@pytest.fixture
def settings(requests_url: str) -> Settings:
    return settings_for(requests_url)


def opened(rdb: Session, **changes: Any):  # type: ignore[no-untyped-def]
    survey, _ = define_survey(rdb, validate_survey_data(definition(**changes)), actor="t", now=NOW)
    return publish_survey(rdb, survey, now=NOW)


GOOD = {"care": "yes", "needs": ["b", "a"], "score": 4}


# ---------------------------------------------------------------- the definition format


def test_the_shipped_demo_survey_reads() -> None:
    """The Chengdu demand survey has the five kinds of question the demo needs."""
    survey = read_survey_file(chengdu_path("survey_demand_2025.yaml"))
    kinds = {q.code: q.kind for q in survey.questions}
    assert kinds == {
        "needs": QuestionKind.multiple,
        "elderly_care": QuestionKind.single,
        "childcare": QuestionKind.single,
        "satisfaction": QuestionKind.scale,
        "suggestions": QuestionKind.text,
    }
    assert survey.identity_required is False


def _questions(*edits: tuple[int, str, Any]) -> dict[str, Any]:
    data = definition()
    for index, key, value in edits:
        if value is None:
            data["questions"][index].pop(key, None)
        else:
            data["questions"][index][key] = value
    return data


BAD_DEFINITIONS = [
    (_questions((0, "options", [{"key": "x", "name": "X"}])), "questions[0] (care)", "at least two options"),
    (_questions((1, "optons", [])), "questions[1] (needs), field 'optons'", "unknown field"),
    (
        _questions((2, "scale", {"min": 5, "max": 1})),
        "questions[2] (score), field 'scale'",
        "min must be below max",
    ),
    (_questions((2, "scale", None)), "questions[2] (score)", "needs scale"),
    (
        _questions((3, "options", [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}])),
        "questions[3] (note)",
        "takes no options",
    ),
    (
        _questions((0, "demand", {"indicator": "x", "options": ["maybe"]})),
        "questions[0] (care)",
        "not option keys",
    ),
    (_questions((3, "demand", {"indicator": "x"})), "questions[3] (note)", "text question cannot feed"),
    (
        _questions((1, "options", [{"key": "a", "name": "A"}, {"key": "a", "name": "B"}])),
        "questions[1] (needs)",
        "used twice",
    ),
    (_questions((0, "kind", "ranking")), "questions[0] (care), field 'kind'", "single"),
    (definition(format="planwatch.survey/v2"), "field 'format'", "planwatch.survey/v1"),
    (definition(questions=[]), "field 'questions'", "at least 1"),
    (definition(code="has space"), "field 'code'", "pattern"),
    (definition(opens_at="2025-03-01T00:00:00"), "(top level)", "time zone"),
]


@pytest.mark.parametrize(("data", "where", "what"), BAD_DEFINITIONS)
def test_a_bad_definition_names_the_entry_and_field(data: dict[str, Any], where: str, what: str) -> None:
    """Every problem says which question and field, and what is wrong."""
    with pytest.raises(CatalogueError) as caught:
        validate_survey_data(data, name="s.yaml")
    assert where in caught.value.message
    assert what in caught.value.message


def test_duplicate_question_codes_are_refused() -> None:
    """Two questions with one code: the second is named."""
    data = definition()
    data["questions"][1]["code"] = "care"
    with pytest.raises(CatalogueError, match=r"questions\[1\] \(care\), field 'code': duplicate"):
        validate_survey_data(data)


def test_a_file_that_is_not_yaml_says_where(tmp_path: Path) -> None:
    """Syntax errors carry the line; JSON files read as JSON."""
    bad = tmp_path / "s.yaml"
    bad.write_text("format: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        read_survey_file(bad)
    good = tmp_path / "s.json"
    good.write_text(json.dumps(definition(), ensure_ascii=False), encoding="utf-8")
    assert read_survey_file(good).code == "t-demand"
    with pytest.raises(CatalogueError, match="no such file"):
        read_survey_file(tmp_path / "missing.yaml")


# ---------------------------------------------------------------- define, publish, close


def test_define_is_idempotent_and_a_draft_can_be_replaced(rdb: Session) -> None:
    """Created once, unchanged when repeated, updated while a draft."""
    first, outcome = define_survey(rdb, validate_survey_data(definition()), actor="t", now=NOW)
    assert (outcome, first.status) == ("created", SurveyStatus.draft)
    again, outcome = define_survey(rdb, validate_survey_data(definition()), actor="t", now=NOW)
    assert (again.id, outcome) == (first.id, "unchanged")
    changed = definition(title="新标题")
    changed["questions"] = changed["questions"][:2]
    updated, outcome = define_survey(rdb, validate_survey_data(changed), actor="t", now=NOW)
    assert outcome == "updated"
    assert updated.title_zh == "新标题"
    assert [q.code for q in updated.questions] == ["care", "needs"]


def test_a_published_survey_keeps_its_questions(rdb: Session) -> None:
    """Answers may exist: changing an open survey is a conflict; the same definition is a no-op."""
    survey = opened(rdb)
    assert define_survey(rdb, validate_survey_data(definition()), actor="t", now=NOW)[1] == "unchanged"
    with pytest.raises(ConflictError, match="new code"):
        define_survey(rdb, validate_survey_data(definition(title="改")), actor="t", now=NOW)
    assert survey.status is SurveyStatus.open


def test_a_demand_indicator_must_be_in_the_catalogue(rdb: Session) -> None:
    """The problem names the question and demand.indicator."""
    data = definition()
    data["questions"][0]["demand"]["indicator"] = "no_such_indicator"
    with pytest.raises(CatalogueError, match=r"questions\[0\] \(care\), field 'demand.indicator'"):
        define_survey(rdb, validate_survey_data(data), actor="t", now=NOW)


def test_publish_and_close_follow_the_states(rdb: Session) -> None:
    """draft → open → closed; every other step is a conflict; drafts are hidden from the public."""
    survey, _ = define_survey(rdb, validate_survey_data(definition()), actor="t", now=NOW)
    with pytest.raises(NotFoundError):
        get_survey(rdb, "t-demand")
    assert survey not in list_surveys(rdb)
    assert get_survey(rdb, "t-demand", include_drafts=True) is survey
    with pytest.raises(ConflictError, match="only an open survey"):
        close_survey(rdb, survey, now=NOW)
    publish_survey(rdb, survey, now=NOW)
    with pytest.raises(ConflictError, match="not a draft"):
        publish_survey(rdb, survey, now=NOW)
    close_survey(rdb, survey, now=NOW)
    assert survey.status is SurveyStatus.closed
    assert survey.closes_at == NOW
    assert survey in list_surveys(rdb)


# ---------------------------------------------------------------- answering


def test_an_anonymous_answer_is_stored_cleaned(rdb: Session, settings: Settings) -> None:
    """Options of a multiple choice keep the survey's order; a phone given anyway is not stored."""
    survey = opened(rdb)
    response = submit_answers(
        rdb, survey, {**GOOD, "note": "  很好  "}, division_code=COMMUNITY, identity="13800138000",
        channel=RequestChannel.web, now=NOW, settings=settings,
    )  # fmt: skip
    assert response.answers == {"care": "yes", "needs": ["a", "b"], "score": 4, "note": "很好"}
    assert response.respondent_hash is None
    assert "13800138000" not in json.dumps(response.answers)
    assert response.division.code == COMMUNITY


@pytest.mark.parametrize(
    ("answers", "question", "what"),
    [
        ({**GOOD, "care": "maybe"}, "care", "option 'maybe' is not one of yes, no_need"),
        ({"needs": ["a"], "score": 3}, "care", "is required"),
        ({**GOOD, "score": 6}, "score", "outside the scale 1–5"),
        ({**GOOD, "score": "4"}, "score", "whole number"),
        ({**GOOD, "score": True}, "score", "whole number"),
        ({**GOOD, "needs": "a"}, "needs", "list of option keys"),
        ({**GOOD, "needs": ["a", "z"]}, "needs", "'z'"),
        ({**GOOD, "needs": ["a", "a"]}, "needs", "twice"),
        ({**GOOD, "note": "字" * 2001}, "note", "2,001 characters"),
        ({**GOOD, "note": 5}, "note", "give text"),
        ({**GOOD, "care": ["yes"]}, "care", "one option key"),
    ],
)
def test_bad_answers_name_the_question(
    rdb: Session, settings: Settings, answers: dict[str, Any], question: str, what: str
) -> None:
    """Unknown option, missing required, out of scale, too long, wrong type: the question is named."""
    survey = opened(rdb)
    with pytest.raises(InvalidValueError) as caught:
        submit_answers(rdb, survey, answers, division_code=STREET, identity=None,
                       channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip
    assert f"question '{question}'" in caught.value.message
    assert what in caught.value.message


def test_unknown_questions_and_divisions_are_refused(rdb: Session, settings: Settings) -> None:
    """An answer to no question, an unknown division and the whole city are all named."""
    survey = opened(rdb)
    with pytest.raises(InvalidValueError, match="unknown question\\(s\\) 'extra'"):
        submit_answers(rdb, survey, {**GOOD, "extra": 1}, division_code=STREET, identity=None,
                       channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip
    flood = {**GOOD, **{f"x{i}": 1 for i in range(50)}}
    with pytest.raises(InvalidValueError, match="and 45 more") as caught:
        check_answers([QuestionSpec.of(q) for q in survey.questions], flood)
    assert len(caught.value.message) < 500  # a flood of unknown keys does not flood the answer
    for code in ("999", "510100", ""):
        with pytest.raises(InvalidValueError, match="division_code"):
            submit_answers(rdb, survey, GOOD, division_code=code, identity=None,
                           channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip


def test_answers_only_while_open(rdb: Session, settings: Settings) -> None:
    """A draft, a closed survey and a time outside opens_at/closes_at all refuse answers."""
    survey, _ = define_survey(
        rdb,
        validate_survey_data(
            definition(opens_at="2026-03-01T00:00:00+08:00", closes_at="2026-03-31T00:00:00+08:00")
        ),
        actor="t",
        now=NOW,
    )
    rdb.expire_all()  # the window as stored (in UTC), not as given (in +08:00)

    def answer(now: datetime) -> None:
        submit_answers(rdb, survey, GOOD, division_code=STREET, identity=None,
                       channel=RequestChannel.web, now=now, settings=settings)  # fmt: skip

    with pytest.raises(ConflictError, match="not open yet"):
        answer(NOW)
    publish_survey(rdb, survey, now=NOW)
    with pytest.raises(ConflictError, match="opens at"):
        answer(datetime(2026, 2, 28, 15, 0, tzinfo=UTC))
    answer(NOW)
    with pytest.raises(ConflictError, match="closed at"):
        answer(datetime(2026, 3, 31, tzinfo=UTC))
    close_survey(rdb, survey, now=NOW + timedelta(hours=1))
    with pytest.raises(ConflictError, match="closed"):
        answer(NOW + timedelta(minutes=30))


def test_one_answer_per_person_by_a_keyed_hash(rdb: Session, settings: Settings) -> None:
    """The same mobile written differently is the same person; the number itself is never stored."""
    survey = opened(rdb, identity_required=True)
    with pytest.raises(InvalidValueError, match="phone"):
        submit_answers(rdb, survey, GOOD, division_code=STREET, identity=None,
                       channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip
    first = submit_answers(rdb, survey, GOOD, division_code=STREET, identity="138 0013 8000",
                           channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip
    assert first.respondent_hash == respondent_hash(settings, survey.code, "13800138000")
    assert len(first.respondent_hash or "") == 64
    with pytest.raises(ConflictError, match="already answered"):
        submit_answers(rdb, survey, GOOD, division_code=OTHER_STREET, identity="+86 138-0013-8000",
                       channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip
    submit_answers(rdb, survey, GOOD, division_code=STREET, identity="13900139000",
                   channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip
    stored = rdb.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).all()
    assert len(stored) == 2
    assert not any("138" in json.dumps(r.answers) or "138" in (r.respondent_hash or "")[:3] for r in stored)


def test_the_hash_depends_on_the_key_and_the_survey(settings: Settings, requests_url: str) -> None:
    """Another survey or another data key gives another hash, so hashes link nobody across surveys."""
    one = respondent_hash(settings, "a", "13800138000")
    assert respondent_hash(settings, "b", "13800138000") != one
    other_key = settings_for(requests_url, data_key="x" * 44)
    assert respondent_hash(other_key, "a", "13800138000") != one
    with pytest.raises(InvalidValueError, match="mobile"):
        normalise_phone("010-12345678")


@given(
    digits=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    prefix=st.sampled_from(["", "+86", "0086", "86", "+86 "]),
    dashes=st.booleans(),
)
def test_phone_forms_normalise_to_the_same_digits(digits: str, prefix: str, dashes: bool) -> None:
    """Prefixes, spaces and dashes do not make another person."""
    written = f"{digits[:3]}-{digits[3:7]}-{digits[7:]}" if dashes else digits
    assert normalise_phone(prefix + written) == digits


# ---------------------------------------------------------------- answer checking, property-based


@st.composite
def questions_and_answers(draw: st.DrawFn) -> tuple[list[QuestionSpec], dict[str, Any]]:
    specs, answers = [], {}
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(list(QuestionKind)))
        keys = [f"o{j}" for j in range(draw(st.integers(2, 6)))]
        low = draw(st.integers(-3, 3))
        high = low + draw(st.integers(1, 10))
        spec = QuestionSpec(
            code=f"q{i}",
            kind=kind,
            text_zh=f"问题{i}",
            text_en=None,
            options=tuple((k, k, None) for k in keys)
            if kind in (QuestionKind.single, QuestionKind.multiple)
            else (),
            required=draw(st.booleans()),
            scale_min=low if kind is QuestionKind.scale else None,
            scale_max=high if kind is QuestionKind.scale else None,
        )
        specs.append(spec)
        if not spec.required and draw(st.booleans()):
            continue
        if kind is QuestionKind.single:
            answers[spec.code] = draw(st.sampled_from(keys))
        elif kind is QuestionKind.multiple:
            answers[spec.code] = draw(st.lists(st.sampled_from(keys), min_size=1, unique=True))
        elif kind is QuestionKind.scale:
            answers[spec.code] = draw(st.integers(low, high))
        else:
            answers[spec.code] = draw(st.text(min_size=1, max_size=50).filter(str.strip))
    return specs, answers


@given(questions_and_answers())
def test_valid_answers_pass_and_come_back_equivalent(case: tuple[list[QuestionSpec], dict[str, Any]]) -> None:
    """Every well-formed answer is accepted; only order of choices and surrounding spaces change."""
    specs, answers = case
    cleaned = check_answers(specs, answers)
    assert set(cleaned) == set(answers)
    for spec in specs:
        if spec.code not in answers:
            continue
        if spec.kind is QuestionKind.multiple:
            assert sorted(cleaned[spec.code]) == sorted(answers[spec.code])
        elif spec.kind is QuestionKind.text:
            assert cleaned[spec.code] == answers[spec.code].strip()
        else:
            assert cleaned[spec.code] == answers[spec.code]


BAD_VALUES = st.one_of(
    st.just("no-such-option"),
    st.integers(100, 10**6),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1),
    st.text(min_size=2001, max_size=2100).filter(lambda s: len(s.strip()) > 2000),
)


@given(case=questions_and_answers(), bad=BAD_VALUES, data=st.data())
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_a_wrong_answer_is_refused_naming_its_question(
    case: tuple[list[QuestionSpec], dict[str, Any]], bad: Any, data: st.DataObject
) -> None:
    """Any value that does not fit its question is refused, and the message names that question."""
    specs, answers = case
    spec = data.draw(st.sampled_from(specs))
    fits = (spec.kind is QuestionKind.text and isinstance(bad, str) and len(bad.strip()) <= 2000) or (
        spec.kind is QuestionKind.single and bad in spec.keys
    )
    if fits:
        return
    answers = {**copy.deepcopy(answers), spec.code: bad}
    with pytest.raises(InvalidValueError) as caught:
        check_answers(specs, answers)
    assert f"question '{spec.code}'" in caught.value.message


@given(questions_and_answers(), st.integers(1, 6))
def test_tally_counts_add_up(case: tuple[list[QuestionSpec], dict[str, Any]], copies: int) -> None:
    """N counts each respondent once; single-choice shares add to 100; a mean lies on the scale."""
    specs, answers = case
    cleaned = check_answers(specs, answers)
    results = {r.code: r for r in tally(specs, [cleaned] * copies)}
    for spec in specs:
        result = results[spec.code]
        assert result.n == (copies if spec.code in cleaned else 0)
        if result.n == 0:
            assert all(o.share is None for o in result.options)
            continue
        if spec.kind is QuestionKind.single:
            assert sum(o.share or 0 for o in result.options) == pytest.approx(100)
        if spec.kind is QuestionKind.multiple:
            assert sum(o.count for o in result.options) == copies * len(cleaned[spec.code])
        if spec.kind is QuestionKind.scale:
            low, high = spec.scale
            assert result.mean is not None
            assert low <= result.mean <= high
        if spec.kind is QuestionKind.text:
            assert result.texts_count == copies
            assert result.texts is None


# ---------------------------------------------------------------- results and indicators


def _answer(rdb: Session, survey: Any, settings: Settings, division: str, **answers: Any) -> None:
    submit_answers(rdb, survey, {**GOOD, **answers}, division_code=division, identity=None,
                   channel=RequestChannel.web, now=NOW, settings=settings)  # fmt: skip


def test_results_roll_up_the_division_tree(rdb: Session, settings: Settings) -> None:
    """Community answers count for their street and district; the total has every answer."""
    survey = opened(rdb)
    _answer(rdb, survey, settings, COMMUNITY, care="yes")
    _answer(rdb, survey, settings, STREET, care="no_need", score=2)
    _answer(rdb, survey, settings, OTHER_STREET, care="yes", score=5)
    _answer(rdb, survey, settings, WUHOU_STREET, care="no_need", needs=["c"])
    districts = survey_results(rdb, survey, level=DivisionLevel.district)
    assert districts.n == 4
    assert {d.code: d.n for d in districts.divisions} == {"510104": 3, "510107": 1}
    jinjiang = next(d for d in districts.divisions if d.code == "510104")
    care = next(q for q in jinjiang.questions if q.code == "care")
    assert [(o.key, o.count) for o in care.options] == [("yes", 2), ("no_need", 1)]
    assert care.options[0].share == pytest.approx(200 / 3)
    score = next(q for q in districts.total.questions if q.code == "score")
    assert score.mean == pytest.approx((4 + 2 + 5 + 4) / 4)
    assert [o.count for o in score.options] == [0, 1, 0, 2, 1]
    streets = survey_results(rdb, survey, level=DivisionLevel.street)
    assert {d.code: d.n for d in streets.divisions} == {STREET: 2, OTHER_STREET: 1, WUHOU_STREET: 1}
    communities = survey_results(rdb, survey, level=DivisionLevel.community)
    assert {d.code: d.n for d in communities.divisions} == {COMMUNITY: 1}
    assert communities.unplaced == 3
    with pytest.raises(InvalidValueError, match="level"):
        survey_results(rdb, survey, level=DivisionLevel.city)


def test_texts_are_masked_and_only_listed_when_allowed(rdb: Session, settings: Settings) -> None:
    """Everyone sees how many comments there are; only permitted readers see them, masked."""
    survey = opened(rdb)
    _answer(rdb, survey, settings, STREET, note="请联系13800138000,身份证510104199001011234")
    public = survey_results(rdb, survey)
    note = next(q for q in public.total.questions if q.code == "note")
    assert (note.texts_count, note.texts) == (1, None)
    staff = survey_results(rdb, survey, include_texts=True)
    (text,) = next(q for q in staff.total.questions if q.code == "note").texts or []
    assert "13800138000" not in text
    assert "138****8000" in text
    assert "199001011234" not in text


def test_small_divisions_show_only_their_count(rdb: Session, settings: Settings) -> None:
    """Below min_n a division keeps N and loses its distribution (small groups identify people)."""
    survey = opened(rdb)
    for _ in range(3):
        _answer(rdb, survey, settings, STREET)
    _answer(rdb, survey, settings, WUHOU_STREET)
    results = survey_results(rdb, survey, level=DivisionLevel.street, min_n=2)
    by_code = {d.code: d for d in results.divisions}
    assert by_code[WUHOU_STREET].suppressed
    assert by_code[WUHOU_STREET].n == 1
    assert by_code[WUHOU_STREET].questions == []
    assert not by_code[STREET].suppressed
    assert not results.total.suppressed


def test_answers_feed_the_demand_indicator(rdb: Session, settings: Settings) -> None:
    """The share choosing the demand options per street, with N; re-writing changes nothing."""
    survey = opened(rdb)
    _answer(rdb, survey, settings, COMMUNITY, care="yes")
    _answer(rdb, survey, settings, STREET, care="no_need")
    _answer(rdb, survey, settings, STREET, care="yes")
    _answer(rdb, survey, settings, STREET, care="yes")
    _answer(rdb, survey, settings, WUHOU_STREET, care="no_need")
    report = write_survey_indicators(rdb, survey, year=2026, actor="t", now=NOW)
    assert report["survey_elderly_care_demand_share"]["created"] == 2
    values = {
        v.division.code: v
        for v in rdb.scalars(
            select(DataValue).join(Indicator).where(Indicator.code == "survey_elderly_care_demand_share")
        )
    }
    assert values[STREET].value == pytest.approx(75.0)
    assert (values[STREET].numerator, values[STREET].denominator) == (3.0, 4.0)
    assert values[STREET].source is ValueSource.computed
    assert "N=4" in (values[STREET].comment or "")
    assert values[WUHOU_STREET].value == 0.0
    again = write_survey_indicators(rdb, survey, year=2026, actor="t", now=NOW)
    assert again["survey_elderly_care_demand_share"] == {
        "created": 0, "updated": 0, "unchanged": 2, "kept_reported": 0, "kept_locked": 0,
    }  # fmt: skip


def test_a_scale_feeds_its_mean_and_simulated_answers_simulated_values(
    rdb: Session, settings: Settings
) -> None:
    """A scale's indicator gets the mean (numerator = sum); simulated answers give simulated values."""
    rdb.add(
        Indicator(
            code="t_satisfaction_score", name_zh="满意度评分", unit="分", direction=Direction.higher_better,
            nature=Nature.expected, frequency=Frequency.annual, period_aggregation=PeriodAggregation.last,
            aggregation=Aggregation.ratio, factor=1.0, levels=["district"],
        )
    )  # fmt: skip
    rdb.flush()
    data = definition()
    data["questions"][2]["demand"] = {"indicator": "t_satisfaction_score"}
    survey, _ = define_survey(rdb, validate_survey_data(data), actor="t", now=NOW)
    publish_survey(rdb, survey, now=NOW)
    for score in (2, 5):
        submit_answers(rdb, survey, {**GOOD, "score": score}, division_code=STREET, identity=None,
                       channel=RequestChannel.simulation, now=NOW, settings=settings, simulated=True)  # fmt: skip
    write_survey_indicators(rdb, survey, year=2026, actor="t", now=NOW)
    value = rdb.scalars(
        select(DataValue).join(Indicator).where(Indicator.code == "t_satisfaction_score")
    ).one()
    assert value.division.code == "510104"
    assert (value.value, value.numerator, value.denominator) == (3.5, 7.0, 2.0)
    assert value.source is ValueSource.simulated
    assert "模拟数据" in (value.comment or "")


# ---------------------------------------------------------------- the demo


def test_the_demo_answers_its_survey_once(rdb: Session, tmp_path: Path) -> None:
    """Simulated answers over real communities, indicators written, supply imported; a re-run is a no-op."""
    facilities = tmp_path / "facilities.csv"
    facilities.write_text(
        "id,type,name,lon,lat,capacity,division_code\n"
        "n1,nursing_home,养老院,104.08,30.64,120,510104017001\n"
        "d1,elderly_day_care,日间照料中心,104.08,30.64,,510104017002\n"
        "k1,kindergarten,幼儿园,104.09,30.65,270,510104018001\n"
        "b1,bus_stop,公交站,104.09,30.65,,510104018001\n",
        encoding="utf-8",
    )
    report = install_surveys_demo(rdb, seed=3, year=2025, n_responses=300, facilities=facilities, now=NOW)
    assert report.responses == 300
    assert report.indicators["survey_elderly_care_demand_share"]["created"] > 50
    assert report.facilities is not None
    assert report.facilities.created == 3  # the bus stop is no supply
    day_care = rdb.scalars(select(Facility).where(Facility.code == "d1")).one()
    assert day_care.simulated
    assert day_care.capacity is not None
    assert 10 <= day_care.capacity <= 40
    responses = rdb.scalars(select(SurveyResponse)).all()
    assert len(responses) == 300
    assert all(r.simulated and r.channel is RequestChannel.simulation for r in responses)
    levels = {r.division.level for r in responses if r.division is not None}
    assert levels == {DivisionLevel.community}
    survey = get_survey(rdb, report.survey)
    assert survey.status is SurveyStatus.open
    results = survey_results(rdb, survey)
    assert results.simulated
    assert len(results.divisions) == 20
    again = install_surveys_demo(rdb, seed=3, year=2025, n_responses=300, facilities=facilities, now=NOW)
    assert again.responses == 0
    assert again.indicators["survey_elderly_care_demand_share"]["created"] == 0
    assert again.facilities is not None
    assert again.facilities.unchanged == 3
