"""Catalogue files: every problem is reported with file, entry and field, and nothing is loaded."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from planwatch.errors import CatalogueError
from planwatch.plans.reader import read_plan_file
from tests.conftest import FIXTURES

RULE: dict[str, Any] = {
    "code": "R1",
    "name": "测试规则",
    "left": "#{test_beds_share}",
    "operator": "<=",
    "right": "100",
    "importance": "high",
    "levels": ["district"],
    "instruction": "核对护理型床位数是否多于床位总数",
}
"""A rule on the mini catalogue's indicators (tests add it; the fixture file has no rules)."""


def mini() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load((FIXTURES / "mini_plan.yaml").read_text(encoding="utf-8")))


def write(tmp_path: Path, data: dict[str, Any], name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        read_plan_file(path)
    return [str(p) for p in info.value.problems]


def test_valid_file_reads(tmp_path: Path) -> None:
    plan = read_plan_file(write(tmp_path, mini()))
    assert plan.plan.code == "TEST-PLAN"
    assert [t.code for t in plan.targets] == ["T1", "T2"]


def test_json_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(mini(), default=str, ensure_ascii=False), encoding="utf-8")
    assert read_plan_file(path).plan.code == "TEST-PLAN"


def test_unknown_field_names_file_entry_and_field(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0]["valeu"] = 60
    path = write(tmp_path, data)
    [message] = problems(path)
    assert str(path) in message
    assert "targets[0] (T1)" in message
    assert "'valeu'" in message
    assert "unknown field" in message


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0]["deadline"] = "soon"
    [message] = problems(write(tmp_path, data))
    assert "targets[0] (T1), field 'deadline'" in message


def test_bad_enum_value_is_reported(tmp_path: Path) -> None:
    data = mini()
    data["indicators"][0]["direction"] = "up"
    [message] = problems(write(tmp_path, data))
    assert "indicators[0] (test_beds_share), field 'direction'" in message
    assert "'up'" in message


def test_duplicate_code(tmp_path: Path) -> None:
    data = mini()
    data["targets"][1]["code"] = "T1"
    [message] = problems(write(tmp_path, data))
    assert "targets[1] (T1), field 'code': duplicate code" in message


def test_target_year_outside_plan_period(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0]["deadline"] = 2030
    [message] = problems(write(tmp_path, data))
    assert "targets[0] (T1), field 'deadline'" in message
    assert "outside the plan period 2021–2025" in message


def test_unknown_reference_inside_the_file(tmp_path: Path) -> None:
    data = mini()
    data["tasks"][0]["lead"] = "NOPE"
    data["targets"][0]["section"] = "S9"
    found = problems(write(tmp_path, data))
    assert any("tasks[0] (A1), field 'lead': unknown code 'NOPE'" in m for m in found)
    assert any("targets[0] (T1), field 'section': unknown code 'S9'" in m for m in found)


def test_number_missing_without_incomplete_flag(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0]["value"] = None
    [message] = problems(write(tmp_path, data))
    assert "set incomplete: true" in message


def test_incomplete_needs_a_reason(tmp_path: Path) -> None:
    data = mini()
    del data["targets"][1]["incomplete_reason"]
    [message] = problems(write(tmp_path, data))
    assert "incomplete_reason" in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0]["valeu"] = 1
    data["targets"][1]["kind"] = "wish"
    assert len(problems(write(tmp_path, data))) == 2


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("format: planwatch.plan/v1\nplan: [unclosed\n", encoding="utf-8")
    [message] = problems(path)
    assert "line" in message
    assert "not valid YAML" in message


def test_wrong_format_marker(tmp_path: Path) -> None:
    data = mini()
    data["format"] = "something/v9"
    [message] = problems(write(tmp_path, data))
    assert "field 'format'" in message


def test_missing_file(tmp_path: Path) -> None:
    [message] = problems(tmp_path / "nope.yaml")
    assert "no such file" in message


def test_whole_entry_rule_names_the_entry(tmp_path: Path) -> None:
    data = mini()
    data["targets"][1]["range"] = [30, 20]
    data["targets"][1]["value"] = None
    [message] = problems(write(tmp_path, data))
    assert "targets[1] (T2)" in message
    assert "range must be [low, high], got [30.0, 20.0]" in message
    assert "{" not in message  # the entry is named, not dumped


def test_bad_element_of_a_pair_names_the_pair(tmp_path: Path) -> None:
    data = mini()
    data["plan"]["period"] = [2021, "later"]
    [message] = problems(write(tmp_path, data))
    assert "plan (TEST-PLAN), field 'period'" in message


@pytest.mark.parametrize("bad", [True, ".nan", ".inf", "'60'"])
def test_numbers_must_be_finite_numbers(tmp_path: Path, bad: str) -> None:
    text = (FIXTURES / "mini_plan.yaml").read_text(encoding="utf-8").replace("value: 60", f"value: {bad}")
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    [message] = problems(path)
    assert "targets[0] (T1), field 'value'" in message


def test_trend_comparator_only_on_trend_targets(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0]["comparator"] = "increase"
    data["targets"][0]["value"] = None
    [message] = problems(write(tmp_path, data))
    assert "targets[0] (T1)" in message
    assert "trend" in message


def test_comparator_against_the_indicators_direction(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0]["comparator"] = "<="
    [message] = problems(write(tmp_path, data))
    assert "targets[0] (T1), field 'comparator'" in message
    assert "contradicts the indicator's direction" in message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    [message] = problems(tmp_path)
    assert "not a readable file" in message


def test_trend_target_takes_no_number(tmp_path: Path) -> None:
    data = mini()
    data["targets"][0].update({"kind": "trend", "comparator": "increase", "value": 5})
    [message] = problems(write(tmp_path, data))
    assert "takes no value or range" in message


def test_exponent_numbers_read_as_numbers(tmp_path: Path) -> None:
    text = (FIXTURES / "mini_plan.yaml").read_text(encoding="utf-8").replace("value: 60", "value: 6e1")
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    assert read_plan_file(path).targets[0].value == 60


def test_a_pair_with_one_number(tmp_path: Path) -> None:
    data = mini()
    data["plan"]["period"] = [2021]
    [message] = problems(write(tmp_path, data))
    assert "plan (TEST-PLAN), field 'period': needs two numbers" in message


def with_rule(**changes: Any) -> dict[str, Any]:
    data = mini()
    data["validation_rules"] = [{**RULE, **changes}]
    return data


def test_rules_and_expiry_days_read(tmp_path: Path) -> None:
    data = with_rule()
    data["departments"][0]["expiry_days"] = 0
    plan = read_plan_file(write(tmp_path, data))
    [rule] = plan.validation_rules
    assert rule.references() == {"left": {"test_beds_share"}, "right": set()}
    assert rule.missing == "skip_if_any_missing"
    assert plan.departments[0].expiry_days == 0


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("#{test_shelters} +", "at character 19: expected a number, #{code} or '('"),
        ("#{test shelters}", "at character 7: expected '}' to close the '#{'"),
        ("100 － #{test_shelters}", "at character 5: expected a number"),
    ],
)
def test_a_bad_expression_names_rule_field_and_position(tmp_path: Path, text: str, position: str) -> None:
    [message] = problems(write(tmp_path, with_rule(right=text)))
    assert "validation_rules[0] (R1), field 'right': " + position in message
    assert repr(text) in message


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"operator": "=>"}, "operator", "unknown operator '=>'; use one of ==, !="),
        ({"missing": "skip"}, "missing", "unknown missing-value strategy 'skip'"),
        ({"importance": "urgent"}, "importance", "'urgent'"),
        ({"levels": []}, "levels", "at least 1"),
    ],
)
def test_bad_rule_fields_are_named(
    tmp_path: Path, changes: dict[str, Any], field: str, expected: str
) -> None:
    [message] = problems(write(tmp_path, with_rule(**changes)))
    assert f"validation_rules[0] (R1), field '{field}'" in message
    assert expected in message


def test_a_number_is_an_expression(tmp_path: Path) -> None:
    plan = read_plan_file(write(tmp_path, with_rule(right=100)))
    assert plan.validation_rules[0].right == "100"


def test_a_rule_of_constants_is_refused(tmp_path: Path) -> None:
    [message] = problems(write(tmp_path, with_rule(left="1", right="2")))
    assert "validation_rules[0] (R1)" in message
    assert "references no indicator" in message


def test_duplicate_rule_code(tmp_path: Path) -> None:
    data = with_rule()
    data["validation_rules"].append({**RULE, "name": "另一条"})
    [message] = problems(write(tmp_path, data))
    assert "validation_rules[1] (R1), field 'code': duplicate code" in message


@pytest.mark.parametrize("bad", [-1, 3661, "30", 1.5, True])
def test_expiry_days_is_a_whole_number_of_days(tmp_path: Path, bad: object) -> None:
    data = mini()
    data["departments"][0]["expiry_days"] = bad
    [message] = problems(write(tmp_path, data))
    assert "departments[0] (D1), field 'expiry_days'" in message
