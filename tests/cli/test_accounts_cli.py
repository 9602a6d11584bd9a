"""``planwatch users``, ``tokens`` and ``audit`` as an operator at the server would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA_KEY

PLANWATCH = [sys.executable, "-m", "planwatch"]


def run(
    url: str, *args: str, stdin: str | None = None, demo: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLANWATCH_DATABASE_URL": url, "PLANWATCH_DATA_KEY": DATA_KEY, "COLUMNS": "200"}
    if demo:
        env["PLANWATCH_DEMO"] = "true"
    return subprocess.run(
        [*PLANWATCH, *args], capture_output=True, text=True, env=env, input=stdin, timeout=300, check=False
    )


@pytest.fixture
def initialised(empty_url: str) -> tuple[str, str]:
    result = run(empty_url, "init")
    assert result.returncode == 0, result.stderr
    return empty_url, result.stdout


def test_init_creates_three_separate_administrators_who_must_change_passwords(
    initialised: tuple[str, str],
) -> None:
    url, output = initialised
    for name in ("sysadmin", "secadmin", "auditadmin"):
        assert name in output
    assert "shown once" in output
    users = json.loads(run(url, "users", "list", "--json").stdout)
    assert {u["username"]: u["must_change_password"] for u in users} == {
        "sysadmin": True,
        "secadmin": True,
        "auditadmin": True,
    }


def test_add_grant_and_list_with_masked_phone(initialised: tuple[str, str]) -> None:
    url, _ = initialised
    added = run(
        url,
        "users",
        "add",
        "张填报",
        "--role",
        "district_reporter",
        "--capture",
        "510104",
        "--phone",
        "13812345678",
    )
    assert added.returncode == 0, added.stderr
    assert "password (shown once)" in added.stdout
    listed = {u["username"]: u for u in json.loads(run(url, "users", "list", "--json").stdout)}
    assert listed["张填报"]["phone"] == "138****5678"
    assert listed["张填报"]["capture"] == ["510104"]
    clash = run(url, "users", "grant", "sysadmin", "--role", "audit_admin")
    assert run(url, "users", "grant", "张填报", "--role", "sys_admin").returncode == 1  # admins hold one role
    assert clash.returncode == 1
    assert "三权分立" in clash.stderr
    unknown = run(url, "users", "grant", "张填报", "--capture", "999999")
    assert unknown.returncode == 1
    assert "no division with code '999999'" in unknown.stderr


def test_weak_password_from_stdin_is_refused(initialised: tuple[str, str]) -> None:
    url, _ = initialised
    result = run(url, "users", "add", "weak", "--password-stdin", stdin="password\n")
    assert result.returncode == 1
    assert "the password is not accepted" in result.stderr


def test_tokens_and_the_log(initialised: tuple[str, str]) -> None:
    url, _ = initialised
    assert (
        run(url, "users", "add", "mzj_system", "--service", "--role", "department_reporter").returncode == 0
    )
    person = run(url, "users", "add", "mzj_person", "--role", "department_reporter")
    assert person.returncode == 0
    refused = run(url, "tokens", "create", "--user", "mzj_person", "--name", "x")
    assert refused.returncode == 1
    assert "service accounts" in refused.stderr
    created = run(url, "tokens", "create", "--user", "mzj_system", "--name", "民政局接口", "--days", "30")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.split("secret (shown once): ")[1].strip()
    assert secret.startswith("pw_")
    listed = run(url, "tokens", "list")
    assert secret not in listed.stdout
    assert run(url, "tokens", "revoke", "1").returncode == 0
    log = json.loads(run(url, "audit", "security-log", "--json", "--limit", "100").stdout)
    actions = {e["action"] for e in log}
    assert {"user.create", "role.grant", "token.create", "token.revoke"} <= actions
    assert secret not in json.dumps(log)
    verified = run(url, "audit", "security-log", "--verify")
    assert verified.returncode == 0
    assert "chain intact" in verified.stdout


def test_purge_refuses_short_retention(initialised: tuple[str, str]) -> None:
    url, _ = initialised
    result = run(url, "audit", "purge", "--retention-days", "30")
    assert result.returncode == 1
    assert "at least 184 days" in result.stderr


def test_demo_accounts_for_every_role(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run(url, "init", demo=True)
    assert result.returncode == 0, result.stderr
    users = {u["username"]: u for u in json.loads(run(url, "users", "list", "--json").stdout)}
    roles = {role for u in users.values() for role in u["roles"]}
    assert roles == {
        "planner",
        "department_reporter",
        "district_reporter",
        "reviewer",
        "sys_admin",
        "security_admin",
        "audit_admin",
    }
    assert not any(u["must_change_password"] for u in users.values())
