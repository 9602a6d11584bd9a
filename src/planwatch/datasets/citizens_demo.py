"""The citizens' part of the Chengdu demo (模拟数据): a year of simulated 12345 requests on the
coverage demo's address points, their monthly metrics written as indicator values, and a demand
survey answered by simulated households with the coverage demo's facilities as supply.

``planwatch demo`` and the tests' demo database both build it through ``install_citizens_demo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.datasets.requests_demo import RequestsDemoReport, install_requests_demo
from planwatch.datasets.surveys_demo import SurveysDemoReport, install_surveys_demo
from planwatch.service_requests.metrics import write_request_indicators

ACTOR = "demo (模拟数据)"


@dataclass
class CitizensDemoReport:
    requests: RequestsDemoReport
    metrics: dict[str, Any]
    surveys: SurveysDemoReport


def install_citizens_demo(
    session: Session,
    *,
    coverage_dir: Path,
    year: int,
    settings: Settings,
    requests: int = 50_000,
    responses: int = 3_000,
    seed: int = 14,
) -> CitizensDemoReport:
    """Install the simulated requests of ``year``, write their monthly metrics and answer the demo
    survey; re-running changes nothing.

    Parameters
    ----------
    coverage_dir : the coverage demo's directory (its ``origins.csv`` become the address points,
        its ``facilities.csv`` the supply)
    requests, responses : how many requests and survey answers to simulate
    """
    now = datetime.now(UTC)
    history = install_requests_demo(
        session, coverage_dir=coverage_dir, year=year, n=requests, seed=seed, settings=settings
    )
    metrics = write_request_indicators(
        session, start=f"{year}-01", end=f"{year}-12", actor=ACTOR, now=now, settings=settings
    )
    surveys = install_surveys_demo(
        session,
        seed=seed,
        year=year,
        n_responses=responses,
        facilities=coverage_dir / "facilities.csv",
        now=now,
    )
    return CitizensDemoReport(history, metrics, surveys)
