"""GET /api/warnings over HTTP against the running app."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield http


def test_warnings_name_level_rules_department_and_units(client: httpx.Client) -> None:
    body = client.get("/api/warnings", params={"year": 2024}).json()
    assert body["year"] == 2024
    assert body["simulated"] is True
    warnings = body["warnings"]
    assert sum(body["counts"].values()) == len(warnings) > 0
    first = warnings[0]
    assert {"code", "level", "top_level", "rules", "department", "evaluation", "units"} <= set(first)
    assert all(w["department"] is not None for w in warnings)
    assert all(w["rules"] or w["units"] for w in warnings)


def test_level_filter(client: httpx.Client) -> None:
    yellow = client.get("/api/warnings", params={"year": 2024, "level": "yellow"}).json()
    assert all(w["top_level"] == "yellow" for w in yellow["warnings"])
    assert client.get("/api/warnings", params={"level": "orange"}).status_code == 422


def test_year_outside_the_plan_is_404(client: httpx.Client) -> None:
    response = client.get("/api/warnings", params={"year": 1990})
    assert response.status_code == 404
    assert "choose a year from 2020 to 2025" in response.text


def test_targets_carry_their_forecast(client: httpx.Client) -> None:
    forecast_holders = [
        t
        for t in client.get("/api/targets", params={"year": 2024}).json()
        if t["evaluation"] and t["evaluation"]["forecast"]
    ]
    assert forecast_holders, "targets with 5 simulated years have forecasts"
    forecast = forecast_holders[0]["evaluation"]["forecast"]
    assert forecast["lower"] <= forecast["projected"] <= forecast["upper"]
    assert 0 <= forecast["probability"] <= 1
