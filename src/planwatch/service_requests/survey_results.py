"""Results of demand surveys (需求调查结果): answers tallied per division, and the demand
indicators they feed.

Results are tallied per division (district, street or community, rolled up the division tree).
Free-text answers are counted for everyone and listed, with phone and ID numbers masked, only to
callers allowed to read citizens' input. A question with a ``demand`` block feeds its demand
indicator: the share of respondents choosing the listed options, or the mean of a scale, written
through the one write path of indicator values (simulated answers give simulated values).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import Node
from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.ingest.writer import ValueChange, Writer, write_values
from planwatch.models import Indicator, Survey, SurveyResponse
from planwatch.models.enums import Channel, DivisionLevel, QuestionKind, ValueSource
from planwatch.pii import mask_text
from planwatch.service_requests.surveys import QuestionSpec, specs_of

__all__ = [
    "DivisionResult",
    "OptionCount",
    "QuestionResult",
    "SurveyResults",
    "demand_cells",
    "survey_results",
    "tally",
    "write_survey_indicators",
]

TEXTS_SHOWN: Final = 100
"""Free-text answers listed per division and question (the newest); all are counted."""
RESULT_LEVELS: Final = (DivisionLevel.district, DivisionLevel.street, DivisionLevel.community)
SIMULATED_NOTE: Final = "模拟数据：由模拟答卷计算 / simulated: computed from simulated answers"


# ---------------------------------------------------------------- results


class OptionCount(BaseModel):
    key: str
    name_zh: str
    name_en: str | None
    count: int
    share: float | None
    """Percent of the question's respondents (multiple choice: shares add up to more than 100)."""


class QuestionResult(BaseModel):
    code: str
    kind: QuestionKind
    text_zh: str
    text_en: str | None
    n: int
    """Respondents who answered this question."""
    options: list[OptionCount]
    """Choices, or each point of a scale (key = the number)."""
    mean: float | None = None
    """Scale questions: the mean answer."""
    texts_count: int = 0
    texts: list[str] | None = None
    """Free-text answers, newest first, phone and ID numbers masked; ``None`` when the caller may
    not read them."""


class DivisionResult(BaseModel):
    division_id: int | None
    code: str
    name_zh: str
    name_en: str | None
    level: str
    n: int
    simulated_n: int
    suppressed: bool = False
    """Fewer answers than the minimum: only N is shown (small groups could identify people)."""
    questions: list[QuestionResult]


class SurveyResults(BaseModel):
    survey: str
    level: str
    n: int
    simulated: bool
    """Some answers are simulated (模拟数据)."""
    min_n: int
    unplaced: int
    """Answers coded above ``level`` (a district when tabulating streets), in the total only."""
    total: DivisionResult
    divisions: list[DivisionResult]


def tally(
    questions: Sequence[QuestionSpec], answers: Iterable[Mapping[str, Any]], *, include_texts: bool = False
) -> list[QuestionResult]:
    """Count the answers to each question (answers newest first, if texts are listed).

    Pure: a share is a percentage of the respondents who answered that question.
    """
    counts: dict[str, dict[str, int]] = {q.code: defaultdict(int) for q in questions}
    answered = dict.fromkeys(counts, 0)
    sums = dict.fromkeys(counts, 0.0)
    texts: dict[str, list[str]] = {q.code: [] for q in questions}
    text_counts = dict.fromkeys(counts, 0)
    kinds = {q.code: q.kind for q in questions}
    for answer in answers:
        for code, value in answer.items():
            kind = kinds.get(code)
            if kind is None or value is None:
                continue  # a question removed from a draft after an early test answer
            answered[code] += 1
            if kind is QuestionKind.single:
                counts[code][str(value)] += 1
            elif kind is QuestionKind.multiple:
                for key in value:
                    counts[code][str(key)] += 1
            elif kind is QuestionKind.scale:
                counts[code][str(value)] += 1
                sums[code] += float(value)
            else:
                text_counts[code] += 1
                if include_texts and len(texts[code]) < TEXTS_SHOWN:
                    texts[code].append(mask_text(str(value)))
    out = []
    for q in questions:
        n = answered[q.code]
        if q.kind is QuestionKind.scale:
            low, high = q.scale
            options: list[tuple[str, str, str | None]] = [
                (str(v), str(v), str(v)) for v in range(low, high + 1)
            ]
        else:
            options = list(q.options)
        out.append(
            QuestionResult(
                code=q.code,
                kind=q.kind,
                text_zh=q.text_zh,
                text_en=q.text_en,
                n=n,
                options=[
                    OptionCount(
                        key=key,
                        name_zh=zh,
                        name_en=en,
                        count=counts[q.code][key],
                        share=100.0 * counts[q.code][key] / n if n else None,
                    )
                    for key, zh, en in options
                ],
                mean=sums[q.code] / n if q.kind is QuestionKind.scale and n else None,
                texts_count=text_counts[q.code],
                texts=texts[q.code] if include_texts and q.kind is QuestionKind.text else None,
            )
        )
    return out


def _responses(session: Session, survey: Survey) -> list[tuple[int | None, dict[str, Any], bool]]:
    rows = session.execute(
        select(SurveyResponse.division_id, SurveyResponse.answers, SurveyResponse.simulated)
        .where(SurveyResponse.survey_id == survey.id)
        .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())
    )
    return [(division_id, answers, simulated) for division_id, answers, simulated in rows]


def _division_result(
    node: Node | None,
    questions: Sequence[QuestionSpec],
    rows: list[tuple[dict[str, Any], bool]],
    *,
    include_texts: bool,
    min_n: int,
    label: tuple[str, str] = ("全部", "All"),
) -> DivisionResult:
    suppressed = len(rows) < min_n
    return DivisionResult(
        division_id=node.id if node else None,
        code=node.code if node else "",
        name_zh=node.name_zh if node else label[0],
        name_en=node.name_en if node else label[1],
        level=node.level.value if node else "all",
        n=len(rows),
        simulated_n=sum(1 for _, simulated in rows if simulated),
        suppressed=suppressed,
        questions=[] if suppressed else tally(questions, (a for a, _ in rows), include_texts=include_texts),
    )


def survey_results(
    session: Session,
    survey: Survey,
    *,
    level: DivisionLevel = DivisionLevel.district,
    include_texts: bool = False,
    min_n: int = 1,
) -> SurveyResults:
    """Tally a survey per division at ``level`` (answers given in a community count for its street
    and district), plus the whole survey.

    Parameters
    ----------
    include_texts
        List free-text answers (masked); only for callers allowed to read citizens' input.
    min_n
        Divisions with fewer answers show their N only (``suppressed``).
    """
    if level not in RESULT_LEVELS:
        raise InvalidValueError(
            f"level: results are tabulated by district, street or community, not {level.value}"
        )
    tree = division_tree(session)
    questions = specs_of(survey)
    rows = _responses(session, survey)
    groups: dict[int, list[tuple[dict[str, Any], bool]]] = defaultdict(list)
    unplaced = 0
    for division_id, answers, simulated in rows:
        node = tree.ancestor_at(division_id, level) if division_id is not None else None
        if node is None:
            unplaced += 1
        else:
            groups[node.id].append((answers, simulated))
    divisions = sorted(
        (
            _division_result(tree.nodes[i], questions, group, include_texts=include_texts, min_n=min_n)
            for i, group in groups.items()
        ),
        key=lambda d: d.code,
    )
    everything = [(answers, simulated) for _, answers, simulated in rows]
    return SurveyResults(
        survey=survey.code,
        level=level.value,
        n=len(rows),
        simulated=any(simulated for _, _, simulated in rows),
        min_n=min_n,
        unplaced=unplaced,
        total=_division_result(None, questions, everything, include_texts=include_texts, min_n=min_n),
        divisions=divisions,
    )


# ---------------------------------------------------------------- demand indicators


@dataclass(frozen=True)
class _Cell:
    numerator: float
    denominator: int
    simulated: bool


def demand_cells(
    question: QuestionSpec,
    rows: Iterable[tuple[Node, Mapping[str, Any], bool]],
) -> dict[Node, _Cell]:
    """Per division: respondents choosing any demand option (or the sum of scale answers) over
    the respondents who answered. Pure."""
    assert question.demand is not None  # noqa: S101 - only demand questions come here
    wanted = set(question.demand.get("options") or ())
    numerator: dict[Node, float] = defaultdict(float)
    denominator: dict[Node, int] = defaultdict(int)
    simulated: dict[Node, bool] = defaultdict(bool)
    for node, answers, is_simulated in rows:
        value = answers.get(question.code)
        if value is None:
            continue
        denominator[node] += 1
        simulated[node] |= is_simulated
        if question.kind is QuestionKind.scale:
            numerator[node] += float(value)
        elif question.kind is QuestionKind.single:
            numerator[node] += value in wanted
        else:
            numerator[node] += bool(wanted.intersection(value))
    return {node: _Cell(numerator[node], n, simulated[node]) for node, n in denominator.items()}


def write_survey_indicators(
    session: Session,
    survey: Survey,
    *,
    year: int,
    actor: str,
    now: datetime,
    entry_expiry_days: int = 90,
) -> dict[str, dict[str, int]]:
    """Write each demand question's indicator for ``year`` at the indicator's deepest level: the
    percentage of respondents choosing the demand options (factor 100 unless the indicator says
    otherwise), or the mean of a scale, with numerator and denominator so upper levels aggregate
    as ratios. Values from simulated answers are written as simulated (模拟数据).

    Returns, per indicator, how many values were created, updated and left unchanged.
    """
    tree = division_tree(session)
    rows = _responses(session, survey)
    report: dict[str, dict[str, int]] = {}
    for question in specs_of(survey):
        if question.demand is None:
            continue
        code = str(question.demand["indicator"])
        indicator = session.scalar(select(Indicator).where(Indicator.code == code))
        if indicator is None:
            raise NotFoundError(
                f"survey {survey.code}, question {question.code}: demand indicator {code} is not in the"
                " catalogue; load the plan file that defines it"
            )
        level = (
            max(indicator.level_enums, key=lambda lv: lv.depth) if indicator.levels else DivisionLevel.city
        )
        placed = []
        for division_id, answers, simulated in rows:
            node = tree.ancestor_at(division_id, level) if division_id is not None else None
            if node is not None:
                placed.append((node, answers, simulated))
        scale = question.kind is QuestionKind.scale
        factor = indicator.factor if indicator.factor is not None else (1.0 if scale else 100.0)
        changes: dict[bool, list[ValueChange]] = {True: [], False: []}
        for node, cell in sorted(demand_cells(question, placed).items(), key=lambda item: item[0].code):
            what = "均值 / mean" if scale else "需求占比 / demand share"
            comment = f"需求调查 {survey.code} {question.code} {what}, N={cell.denominator}"
            if cell.simulated:
                comment += f"；{SIMULATED_NOTE}"
            changes[cell.simulated].append(
                ValueChange(
                    indicator.id,
                    indicator.code,
                    node.id,
                    node.code,
                    str(year),
                    value=factor * cell.numerator / cell.denominator,
                    numerator=cell.numerator,
                    denominator=float(cell.denominator),
                    comment=comment,
                )
            )
        counts = {"created": 0, "updated": 0, "unchanged": 0, "kept_reported": 0, "kept_locked": 0}
        for is_simulated, batch in changes.items():
            writer = Writer(
                actor=actor,
                channel=Channel.simulation if is_simulated else Channel.file,
                now=now,
                source=ValueSource.simulated if is_simulated else ValueSource.computed,
            )
            result = write_values(session, batch, writer, default_expiry_days=entry_expiry_days)
            counts["created"] += result.inserted
            counts["updated"] += result.updated
            counts["unchanged"] += result.unchanged
            counts["kept_reported"] += result.kept_reported
            counts["kept_locked"] += result.kept_locked
        report[code] = counts
    return report
