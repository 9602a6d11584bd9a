"""``planwatch surveys`` and ``planwatch supply``: define, publish, results, indicators, import,
match, and the messages bad input gets (the sub-apps are driven directly)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from planwatch.cli.surveys import supply_app, surveys_app
from planwatch.datasets import chengdu_path
from tests.conftest import DATA_KEY, database_url
from tests.service_requests.conftest import build_requests_database

CODE = "cd-demand-2025"


@pytest.fixture(scope="module")
def url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = database_url(backend, tmp_path_factory, "surveys_cli")
    build_requests_database(url)
    return url


def cli(url: str, app: typer.Typer, *args: str) -> tuple[int, str, str]:
    env = {"PLANWATCH_DATABASE_URL": url, "PLANWATCH_DATA_KEY": DATA_KEY, "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_define_publish_results_and_indicators(url: str) -> None:
    """The demo survey from its file to indicator values; defining it twice changes nothing."""
    survey_file = str(chengdu_path("survey_demand_2025.yaml"))
    code, out, err = cli(url, surveys_app, "define", survey_file)
    assert code == 0, err
    assert f"survey {CODE}: created (draft, 5 questions)" in out
    assert "unchanged" in cli(url, surveys_app, "define", survey_file)[1]
    assert cli(url, surveys_app, "publish", CODE)[0] == 0
    code, out, _ = cli(url, surveys_app, "list", "--json")
    (listed,) = [s for s in json.loads(out) if s["code"] == CODE]
    assert (listed["status"], listed["answers"]) == ("open", 0)
    code, out, err = cli(url, surveys_app, "results", CODE, "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 0
    code, out, err = cli(url, surveys_app, "results", CODE, "--level", "street")
    assert code == 0, err
    assert "0 answers" in out
    code, out, err = cli(url, surveys_app, "write-indicators", CODE, "--year", "2025")
    assert code == 0, err
    assert "survey_elderly_care_demand_share 2025: 0 created" in out
    code, _, err = cli(url, surveys_app, "publish", CODE)
    assert code == 1
    assert "not a draft" in err


def test_bad_input_is_one_clear_line(url: str, tmp_path: Path) -> None:
    """A bad definition names its entry and field; an unknown survey says how to list them."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "format: planwatch.survey/v1\ncode: x\ntitle: t\nquestions:\n  - {code: q, kind: scale, text: t}\n"
    )
    code, _, err = cli(url, surveys_app, "define", str(bad))
    assert code == 1
    assert "questions[0] (q)" in err
    assert "needs scale" in err
    code, _, err = cli(url, surveys_app, "close", "nope")
    assert code == 1
    assert "GET /api/surveys" in err


def test_supply_import_and_match(url: str, tmp_path: Path) -> None:
    """Facilities are upserted once; matching prints the shortest first, or JSON."""
    facilities = tmp_path / "facilities.csv"
    facilities.write_text(
        "id,type,name,lon,lat,capacity,division_code\nn1,nursing_home,养老院,104.08,30.64,120,510104017001\n",
        encoding="utf-8",
    )
    code, out, err = cli(url, supply_app, "import", str(facilities), "--simulated")
    assert code == 0, err
    assert "1 facilities (模拟数据 / simulated): 1 created" in out
    again = " ".join(cli(url, supply_app, "import", str(facilities), "--simulated")[1].split())  # unwrapped
    assert "1 unchanged" in again
    code, out, err = cli(url, supply_app, "match", "--pair", "elderly_beds", "--json")
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["total"]["supply"] == 120
    assert result["rows"][0]["rank"] == 1
    code, out, err = cli(url, supply_app, "match", "--level", "street", "--top", "3")
    assert code == 0, err
    assert "养老床位" in out
    assert "3岁以下婴幼儿" in out
    code, _, err = cli(url, supply_app, "match", "--pair", "spaceships")
    assert code == 1
    assert "elderly_beds" in err
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,type,name,lon,lat,capacity,division_code\nx,nursery,X,104,30.6,1,000\n", encoding="utf-8"
    )
    code, _, err = cli(url, supply_app, "import", str(bad))
    assert code == 1
    assert "row 2, column 'division_code'" in err
