"""A relative target (高于国家和省标准) names the indicator holding its reference series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session

from planwatch.errors import CatalogueError
from planwatch.plans.service import find_target, load_plan_file
from planwatch.plans.views import target_out
from tests.conftest import FIXTURES

STANDARD = {
    "code": "test_ambulance_standard",
    "name": "每万人口救护车配置标准(国家)",
    "unit": "辆/万人",
    "direction": "higher",
    "aggregation": {"method": "max"},
    "levels": ["city"],
}


def relative_target(**extra: Any) -> dict[str, Any]:
    return {
        "code": "T3",
        "indicator": "test_shelters",
        "scope": "510100",
        "kind": "relative",
        "comparator": ">",
        "unit": "个",
        "reference": "国家标准",
        "deadline": 2025,
        "source_sentence": "高于国家标准。",
        **extra,
    }


def write(tmp_path: Path, target: dict[str, Any], *, standard: bool = True) -> Path:
    data = yaml.safe_load((FIXTURES / "mini_plan.yaml").read_text(encoding="utf-8"))
    if standard:
        data["indicators"].append(STANDARD)
    data["targets"].append(target)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_relative_target_loads_its_reference_indicator(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, write(tmp_path, relative_target(reference_indicator=STANDARD["code"])))
    target = find_target(session, "T3", plan_code="TEST-PLAN")
    assert target.reference_indicator is not None
    assert target.reference_indicator.code == STANDARD["code"]
    assert target_out(target, None).reference_indicator == STANDARD["code"]
    again = load_plan_file(session, write(tmp_path, relative_target(reference_indicator=STANDARD["code"])))
    assert not again.changed


def test_a_relative_target_without_one_still_loads(session: Session, tmp_path: Path) -> None:
    load_plan_file(session, write(tmp_path, relative_target(), standard=False))
    assert find_target(session, "T3", plan_code="TEST-PLAN").reference_indicator_id is None


def test_an_unknown_reference_indicator_loads_nothing(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, relative_target(reference_indicator="no_such_standard"), standard=False)
    with pytest.raises(CatalogueError) as refused:
        load_plan_file(session, path)
    [problem] = refused.value.problems
    assert (problem.entry, problem.field) == ("targets[2] (T3)", "reference_indicator")
    assert "unknown indicator 'no_such_standard'" in problem.message


def test_only_relative_targets_take_a_reference_indicator(session: Session, tmp_path: Path) -> None:
    level = relative_target(kind="level", value=3, reference_indicator=STANDARD["code"])
    with pytest.raises(CatalogueError) as refused:
        load_plan_file(session, write(tmp_path, level))
    [problem] = refused.value.problems
    assert (problem.entry, problem.field) == ("targets[2] (T3)", "reference_indicator")
    assert "belongs to relative targets" in problem.message


def test_a_target_is_not_its_own_reference(session: Session, tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot be compared with its own indicator"):
        load_plan_file(session, write(tmp_path, relative_target(reference_indicator="test_shelters")))
