"""The real ``planwatch`` command, run as a user would, against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES

PLANWATCH = [sys.executable, "-m", "planwatch"]


def run(url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLANWATCH_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [*PLANWATCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )


@pytest.fixture
def initialised(empty_url: str) -> str:
    result = run(empty_url, "init")
    assert result.returncode == 0, result.stderr
    return empty_url


def test_demo_no_serve_from_an_empty_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PLANWATCH_DATABASE_URL"}
    result = subprocess.run(
        [*PLANWATCH, "demo", "--no-serve"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "planwatch.db").exists()
    assert "模拟数据 / simulated" in result.stdout
    assert "demo ready in" in result.stdout


def test_targets_json_lists_every_target_with_its_sentence(initialised: str) -> None:
    result = run(initialised, "targets", "--json")
    assert result.returncode == 0, result.stderr
    targets = json.loads(result.stdout)
    assert len(targets) >= 35
    for target in targets:
        for key in (
            "id",
            "indicator",
            "comparator",
            "value",
            "unit",
            "year",
            "kind",
            "scope",
            "incomplete",
            "status",
        ):
            assert key in target
        assert target["source_sentence"]
        if target["incomplete"]:
            assert target["incomplete_reason"]


def test_evaluate_json_after_simulation(initialised: str) -> None:
    assert run(initialised, "simulate").returncode == 0
    result = run(initialised, "evaluate", "--year", "2023", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["year"] == 2023
    assert payload["simulated"] is True
    assert sum(payload["counts"].values()) == len(payload["targets"])
    assert payload["counts"]["not_evaluable"] < len(payload["targets"])


def test_evaluate_unknown_year_is_a_clear_error(initialised: str) -> None:
    result = run(initialised, "evaluate", "--year", "1999")
    assert result.returncode == 1
    assert "choose a year from 2020 to 2025" in result.stderr


def test_evaluate_says_the_data_is_simulated(initialised: str) -> None:
    assert run(initialised, "simulate").returncode == 0
    result = run(initialised, "evaluate", "--year", "2023")
    assert result.returncode == 0, result.stderr
    assert "模拟数据 / simulated" in result.stdout


def test_bad_database_url_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = run("postgresql+psycopg://nobody@127.0.0.1:1/none", "targets")
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_is_a_message(initialised: str) -> None:
    env_url = initialised
    result = subprocess.run(
        [*PLANWATCH, "targets"],
        capture_output=True,
        text=True,
        env={**os.environ, "PLANWATCH_DATABASE_URL": env_url, "PLANWATCH_STATUS_AHEAD": "0.5"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "invalid setting" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_refuses_someone_elses_database(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    result = run(f"sqlite:///{path}", "init")
    assert result.returncode == 1
    assert "no planwatch schema version" in result.stderr


def test_commands_on_an_empty_database_ask_for_init(empty_url: str) -> None:
    result = run(empty_url, "targets")
    assert result.returncode == 1
    assert "planwatch init" in result.stderr


def test_init_twice_changes_nothing(initialised: str) -> None:
    result = run(initialised, "init")
    assert result.returncode == 0, result.stderr
    assert "already up to date, nothing changed" in result.stdout


def test_plans_load_bad_file_names_entry_and_field(initialised: str, tmp_path: Path) -> None:
    data = yaml.safe_load((FIXTURES / "mini_plan.yaml").read_text(encoding="utf-8"))
    data["targets"][0]["deadline"] = 2031
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = run(initialised, "plans", "load", str(path))
    assert result.returncode == 1
    assert "targets[0] (T1), field 'deadline'" in result.stderr
    assert "nothing was loaded" in result.stderr
    listed = run(initialised, "targets", "--json", "--plan", "TEST-PLAN")
    assert listed.returncode == 1
    assert "no plan with code 'TEST-PLAN' is loaded (loaded: CD-14FYP)" in listed.stderr


def test_plans_load_good_file(initialised: str) -> None:
    result = run(initialised, "plans", "load", str(FIXTURES / "mini_plan.yaml"))
    assert result.returncode == 0, result.stderr
    assert "TEST-PLAN" in result.stdout
    listed = json.loads(run(initialised, "targets", "--json", "--plan", "TEST-PLAN").stdout)
    assert [t["code"] for t in listed] == ["T1", "T2"]


def test_administrator_fills_in_a_lost_number(initialised: str) -> None:
    targets = json.loads(run(initialised, "targets", "--json").stdout)
    incomplete = next(
        t for t in targets if t["incomplete"] and t["kind"] in {"level", "cumulative", "increment"}
    )
    result = run(
        initialised,
        "targets",
        "set",
        incomplete["code"],
        "--value",
        "42",
        "--by",
        "planner",
        "--note",
        "test",
    )
    assert result.returncode == 0, result.stderr
    after = {t["code"]: t for t in json.loads(run(initialised, "targets", "--json").stdout)}
    assert after[incomplete["code"]]["value"] == 42
    assert after[incomplete["code"]]["incomplete"] is False
    # the shipped catalogue loaded again keeps the administrator's number
    assert run(initialised, "init").returncode == 0
    again = {t["code"]: t for t in json.loads(run(initialised, "targets", "--json").stdout)}
    assert again[incomplete["code"]]["value"] == 42


def test_unknown_target_is_a_clear_error(initialised: str) -> None:
    result = run(initialised, "targets", "set", "NO-SUCH", "--value", "1")
    assert result.returncode == 1
    assert "no target 'NO-SUCH'" in result.stderr


def test_serve_without_a_database_file_says_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    result = run(url, "serve")
    assert result.returncode == 1
    assert "run `planwatch init`" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_serve_on_a_busy_port_says_so(initialised: str) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(initialised, "serve", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("port", ["0", "99999"])
def test_serve_refuses_impossible_ports(initialised: str, port: str) -> None:
    result = run(initialised, "serve", "--port", port)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "port" in result.stderr.lower()
