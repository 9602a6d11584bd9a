"""The demo's public-service demand survey and its supply side, all **simulated (模拟数据)**.

``install_surveys_demo`` defines and opens the shipped survey (``chengdu/survey_demand_2025.yaml``),
answers it with simulated households spread over the real communities (streets drawn by their 2020
population, a community of the street drawn evenly), writes the demand indicators, and imports the
coverage demo's facilities of the supply–demand pairs' types as supply. Every answer is labelled
``simulated`` with channel ``simulation``; every value written from them is simulated.

How a simulated household answers (plausible shapes, not statistics):

* It has someone aged 60+ with a probability that grows with its district's 60+ share (2.2 × the
  share, between 0.2 and 0.8); such a household needs home services, day care or a care home with
  probabilities 0.25, 0.20 and 0.08, each scaled by a street effect (log-normal, σ 0.35).
* It has a child under 3 with probability 2.6 × the district's 0–14 share × 3/15 (between 0.03
  and 0.2); such a household wants full-day, half-day or occasional childcare with 0.30, 0.15, 0.15.
* Other needs are drawn independently; satisfaction (1–5) centres on 3.6 with a street effect; one
  in seven writes a comment from a set of templates (some contain a phone number, to show masking).

The coverage demo leaves day-care centres and canteens without a capacity; the supply file gives
them a simulated one (day-care beds 10–40, canteen seats 30–120) so they count as supply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from planwatch.datasets import chengdu_path
from planwatch.divisions.service import division_tree, population_by_division
from planwatch.models import Survey, SurveyResponse
from planwatch.models.enums import DivisionLevel, RequestChannel, SurveyStatus
from planwatch.service_requests.facilities import FacilityImportReport, import_facilities
from planwatch.service_requests.matching import PAIRS
from planwatch.service_requests.survey_results import write_survey_indicators
from planwatch.service_requests.surveys import (
    check_answers,
    define_survey,
    publish_survey,
    read_survey_file,
    specs_of,
)

__all__ = ["DEMO_SURVEY", "SurveysDemoReport", "install_surveys_demo", "supply_file"]

DEMO_SURVEY: Final = "survey_demand_2025.yaml"
ACTOR: Final = "demo"
CHINA: Final = timezone(timedelta(hours=8))
FILLED_CAPACITY: Final = {"elderly_day_care": (10, 40, 5), "community_canteen": (30, 120, 10)}
"""Facility type → (low, high, step) of the simulated capacity given where the file has none."""
OTHER_NEEDS: Final = {
    "education": 0.22,
    "health": 0.35,
    "canteen": 0.12,
    "culture_sports": 0.25,
    "employment": 0.12,
}
COMMENTS: Final = (
    "希望社区增设老年食堂,方便老人就近用餐。",
    "小区附近缺少托育机构,双职工家庭接送困难。",
    "建议延长社区卫生服务站的服务时间。",
    "希望增加儿童活动场地和健身设施。",
    "社区养老服务站床位紧张,排队时间较长。",
    "希望有上门助浴、助洁服务,联系电话13800138000。",
    "幼儿园学位紧张,希望就近入园。",
    "社区活动中心开放时间太短,建议周末也开放。",
    "我母亲行动不便,需要上门医疗服务,请联系13912345678。",
    "希望多组织就业技能培训。",
)


@dataclass
class SurveysDemoReport:
    survey: str
    responses: int
    """Simulated answers written by this run (0 when the survey had answers already)."""
    indicators: dict[str, dict[str, int]]
    facilities: FacilityImportReport | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _households(
    session: Session, rng: np.random.Generator, n: int, year: int
) -> list[tuple[int, float, float, float]]:
    """``n`` (division id, district 60+ share, district 0–14 share, street effect) draws: a street by
    its population, then one of its communities (or the street itself if it has none)."""
    tree = division_tree(session)
    totals = population_by_division(session, year)
    elderly = population_by_division(session, year, age_band="60+")
    children = population_by_division(session, year, age_band="0-14")
    streets = [
        node for node in tree.nodes.values() if node.level is DivisionLevel.street and node.id in totals
    ]
    streets.sort(key=lambda node: node.code)
    if not streets:
        return []
    weights = np.array([totals[s.id][0] for s in streets], dtype=np.float64)
    picks = rng.choice(len(streets), size=n, p=weights / weights.sum())
    effects = rng.lognormal(0.0, 0.35, len(streets))
    out = []
    for pick in picks:
        street = streets[int(pick)]
        district = tree.ancestor_at(street.id, DivisionLevel.district)
        d = district.id if district is not None else street.id
        total = totals.get(d, (1, None))[0] or 1
        communities = tree.descendants(street.id, level=DivisionLevel.community)
        place = communities[int(rng.integers(len(communities)))].id if communities else street.id
        out.append(
            (
                place,
                elderly.get(d, (0, None))[0] / total,
                children.get(d, (0, None))[0] / total,
                float(effects[int(pick)]),
            )
        )
    return out


def _answers(
    rng: np.random.Generator, elderly_share: float, child_share: float, effect: float
) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    needs = []
    if rng.random() < np.clip(2.2 * elderly_share, 0.2, 0.8):
        p = np.array([0.25, 0.20, 0.08]) * effect
        p = np.append(p, max(0.0, 1 - p.sum()))
        answers["elderly_care"] = str(
            rng.choice(["home", "day_care", "institution", "not_needed"], p=p / p.sum())
        )
        if answers["elderly_care"] != "not_needed":
            needs.append("elderly_care")
    else:
        answers["elderly_care"] = "no_elderly"
    if rng.random() < np.clip(2.6 * child_share * 3 / 15, 0.03, 0.2):
        answers["childcare"] = str(
            rng.choice(["full_day", "half_day", "temporary", "not_needed"], p=[0.30, 0.15, 0.15, 0.40])
        )
        if answers["childcare"] != "not_needed":
            needs.append("childcare")
    else:
        answers["childcare"] = "no_child"
    needs += [key for key, p in OTHER_NEEDS.items() if rng.random() < p]
    answers["needs"] = needs or ["none"]
    centre = 3.6 - 0.8 * (effect - 1.0)
    answers["satisfaction"] = int(np.clip(np.rint(rng.normal(centre, 0.9)), 1, 5))
    if rng.random() < 1 / 7:
        answers["suggestions"] = COMMENTS[int(rng.integers(len(COMMENTS)))]
    return answers


def supply_file(facilities: Path, out: Path, *, seed: int = 14) -> Path:
    """Write the facilities of the supply–demand pairs' types from a coverage facility file to
    ``out``, giving day-care centres and canteens without a capacity a simulated one."""
    frame = pd.read_csv(facilities, dtype=str, keep_default_na=False)
    types = {t for pair in PAIRS.values() for t in pair.facility_types}
    frame = frame[frame["type"].isin(types)].copy()
    rng = np.random.default_rng([seed, 7])
    for kind, (low, high, step) in FILLED_CAPACITY.items():
        empty = (frame["type"] == kind) & (frame["capacity"].str.strip() == "")
        drawn = rng.integers(low // step, high // step + 1, int(empty.sum())) * step
        frame.loc[empty, "capacity"] = [str(v) for v in drawn]
    frame["simulated"] = "true"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return out


def install_surveys_demo(
    session: Session,
    *,
    seed: int = 14,
    year: int = 2025,
    n_responses: int = 3000,
    facilities: Path | None = None,
    now: datetime | None = None,
) -> SurveysDemoReport:
    """Define and open the demo survey, answer it ``n_responses`` times with simulated households
    (once: a survey that has answers keeps them), write its demand indicators for ``year`` and, with
    ``facilities`` (the coverage demo's ``facilities.csv``), import the pairs' facilities as
    simulated supply (the supply file is written beside it as ``supply_facilities.csv``).

    Re-running with the same arguments changes nothing.
    """
    started = datetime.now(UTC)
    now = now or started
    definition = read_survey_file(chengdu_path(DEMO_SURVEY))
    survey = session.scalar(select(Survey).where(Survey.code == definition.code))
    if survey is None or survey.status is SurveyStatus.draft:
        survey, _ = define_survey(
            session, definition, actor=ACTOR, now=now, simulated=True, source=DEMO_SURVEY
        )
    # a published demo survey keeps its questions, even if a newer planwatch ships other wording
    if survey.status is SurveyStatus.draft:
        publish_survey(session, survey, now=now)
    report = SurveysDemoReport(survey=survey.code, responses=0, indicators={})
    answered = session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey.id)) or 0
    if answered == 0 and n_responses > 0:
        rng = np.random.default_rng([seed, year])
        questions = specs_of(survey)
        start = datetime(year, 3, 1, tzinfo=CHINA)
        span = (datetime(year, 7, 1, tzinfo=CHINA) - start).total_seconds()
        rows = []
        for place, elderly_share, child_share, effect in _households(session, rng, n_responses, year):
            moment = min(start + timedelta(seconds=float(rng.uniform(0, span))), now)
            rows.append(
                {
                    "survey_id": survey.id,
                    "submitted_at": moment.astimezone(UTC),
                    "division_id": place,
                    "respondent_hash": None,
                    "answers": check_answers(questions, _answers(rng, elderly_share, child_share, effect)),
                    "channel": RequestChannel.simulation,
                    "simulated": True,
                }
            )
        if rows:
            session.execute(insert(SurveyResponse), rows)
        report.responses = len(rows)
    report.indicators = write_survey_indicators(session, survey, year=year, actor=ACTOR, now=now)
    if facilities is not None:
        supply = supply_file(facilities, facilities.with_name("supply_facilities.csv"), seed=seed)
        report.facilities = import_facilities(session, supply, simulated=True)
    report.seconds = (datetime.now(UTC) - started).total_seconds()
    return report
