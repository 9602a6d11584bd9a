"""``planwatch evaluate warnings`` and ``planwatch evaluate backtest`` on a demo database."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planwatch.cli.main import app
from tests.conftest import DATA_KEY, build_demo_database, database_url


@pytest.fixture(scope="module")
def url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = database_url(backend, tmp_path_factory, "warnings_cli")
    build_demo_database(url)
    return url


def cli(url: str, *args: str) -> tuple[int, str, str]:
    env = {"PLANWATCH_DATABASE_URL": url, "PLANWATCH_DATA_KEY": DATA_KEY, "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_warnings_json_and_table(url: str) -> None:
    code, out, err = cli(url, "evaluate", "warnings", "--year", "2024", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["year"] == 2024
    assert payload["warnings"]
    assert all(w["department"] for w in payload["warnings"])
    code, out, _ = cli(url, "evaluate", "warnings", "--year", "2024", "--level", "yellow")
    assert code == 0
    assert "黄色预警" in out
    assert "红色预警 red: 0" in out  # filtered to yellow
    assert "模拟数据 / simulated" in out


def test_warnings_for_a_year_outside_the_plan(url: str) -> None:
    code, _, err = cli(url, "evaluate", "warnings", "--year", "2030")
    assert code == 1
    assert "choose a year from 2020 to 2025" in err


def test_backtest_scores_every_year_before_the_deadline(url: str) -> None:
    code, out, err = cli(url, "evaluate", "backtest", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["outcomes"] > 0
    years = {row["year"]: row for row in payload["years"]}
    assert set(years) == {2021, 2022, 2023, 2024}
    assert years[2021]["forecasts"] == 0  # two data points (2020, 2021) are too few to forecast
    for row in payload["years"][1:]:
        assert 0 <= row["status_accuracy"] <= 1
        assert 0 <= row["brier"] <= 1
        assert row["simulated"] is True
    code, out, _ = cli(url, "evaluate", "backtest", "--scope-only")
    assert code == 0
    assert "back-test" in out
