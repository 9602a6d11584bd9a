"""``planwatch evaluate``: the evaluation as before, and rounds published, listed, shown and
compared; qualitative assessments recorded. In-process on a demo database of each backend."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planwatch.cli.main import app
from tests.conftest import DATA_KEY, build_demo_database, database_url


@pytest.fixture(scope="module")
def url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = database_url(backend, tmp_path_factory, "evaluate_cli")
    build_demo_database(url)
    return url


def cli(url: str, *args: str) -> tuple[int, str, str]:
    """Run ``planwatch ARGS`` in-process; (exit code, stdout, stderr)."""
    env = {"PLANWATCH_DATABASE_URL": url, "PLANWATCH_DATA_KEY": DATA_KEY, "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_evaluate_without_a_subcommand_is_unchanged(url: str) -> None:
    code, out, err = cli(url, "evaluate", "--year", "2023", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert (payload["plan"], payload["year"], payload["simulated"]) == ("CD-14FYP", 2023, True)
    assert sum(payload["counts"].values()) == len(payload["targets"])
    code, out, _ = cli(url, "evaluate", "--json")  # no year: the latest year with data
    assert code == 0
    assert json.loads(out)["year"] == 2025
    code, out, _ = cli(url, "evaluate", "--year", "2023")
    assert code == 0
    assert "模拟数据 / simulated" in out


def test_publish_list_show_and_diff_rounds(url: str) -> None:
    code, out, err = cli(url, "evaluate", "round", "--kind", "midterm", "--year", "2023", "--note", "中期")
    assert code == 0, err
    assert "中期评估 mid-term evaluation 2023" in out
    assert "模拟数据 / simulated" in out
    code, _, err = cli(url, "evaluate", "round", "--kind", "midterm", "--year", "2023")
    assert code == 1
    assert "already published" in err
    assert "--supersede" in err

    code, out, err = cli(url, "evaluate", "round", "--kind", "final", "--json")
    assert code == 0, err
    final = json.loads(out)
    assert (final["kind"], final["year"], final["revision"]) == ("final", 2025, 1)
    assert len(final["targets"]) >= 35

    code, out, _ = cli(url, "evaluate", "rounds", "--json")
    assert code == 0
    listed = json.loads(out)
    midterm = next(r for r in listed if r["kind"] == "midterm")
    assert (midterm["year"], midterm["note"], midterm["published_by"][:4]) == (2023, "中期", "cli:")
    code, out, _ = cli(url, "evaluate", "rounds")
    assert "中期评估" in out

    code, out, _ = cli(url, "evaluate", "show", str(midterm["id"]), "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["counts"] == midterm["counts"]
    assert {t["code"] for t in shown["targets"]} == {t["code"] for t in final["targets"]}
    code, out, _ = cli(url, "evaluate", "show", str(midterm["id"]))
    assert "CD14-T05" in out

    code, out, err = cli(url, "evaluate", "diff", str(midterm["id"]), str(final["id"]), "--json")
    assert code == 0, err
    diff = json.loads(out)
    assert (diff["before"]["id"], diff["after"]["id"]) == (midterm["id"], final["id"])
    assert diff["changed"]
    assert diff["unchanged"] + len(diff["changed"]) == len(final["targets"])
    code, out, _ = cli(url, "evaluate", "diff", str(midterm["id"]), str(final["id"]))
    assert "targets changed" in out

    code, _, err = cli(url, "evaluate", "show", "999999")
    assert code == 1
    assert "no evaluation round 999999" in err


def test_a_correction_supersedes(url: str) -> None:
    code, out, err = cli(url, "evaluate", "round", "--kind", "annual", "--year", "2022", "--json")
    assert code == 0, err
    first = json.loads(out)
    code, out, err = cli(
        url, "evaluate", "round", "--kind", "annual", "--year", "2022", "--supersede", "--json"
    )
    assert code == 0, err
    second = json.loads(out)
    assert (second["revision"], second["supersedes"]) == (2, first["id"])
    code, out, _ = cli(url, "evaluate", "diff", str(first["id"]), str(second["id"]))
    assert "unchanged; 0 changed status" in out


def test_assess_a_qualitative_target(url: str) -> None:
    code, out, err = cli(
        url, "evaluate", "assess", "CD14-T27", "--year", "2023", "--status", "on_track",
        "--evidence", "市委政法委2023年工作总结", "--assessor", "市发改委规划处", "--date", "2024-01-15",
    )  # fmt: skip
    assert code == 0, err
    assert "CD14-T27" in out
    assert "基本符合预期" in out
    code, _, err = cli(
        url, "evaluate", "assess", "CD14-T05", "--year", "2023", "--status", "on_track",
        "--evidence", "x", "--assessor", "y",
    )  # fmt: skip
    assert code == 1
    assert "only qualitative targets" in err
    code, _, err = cli(
        url, "evaluate", "assess", "CD14-T27", "--year", "2023", "--status", "on_track",
        "--evidence", " ", "--assessor", "y",
    )  # fmt: skip
    assert code == 1
    assert "give the evidence" in err
