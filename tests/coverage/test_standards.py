"""Life-circle standards as data: the built-in files load, cite their sources, and every problem
in a city's file is reported with file, circle and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from planwatch.coverage import standards as standards_module
from planwatch.coverage.standards import (
    FACILITY_TYPES_FORMAT,
    STANDARD_FORMAT,
    Circle,
    StandardSet,
    builtin_standard_files,
    load_standards,
    register_standard_file,
)
from planwatch.datasets import chengdu_path
from planwatch.errors import CatalogueError, NotFoundError, Problem

FACILITY_CODES = {
    "kindergarten": "幼儿园",
    "nursery": "托儿所",
    "primary_school": "小学",
    "junior_middle_school": "初中",
    "health_station": "社区卫生服务站",
    "health_center": "社区卫生服务中心",
    "elderly_day_care": "老年人日间照料中心",
    "nursing_home": "养老院",
    "community_service_station": "社区服务站",
    "community_service_center": "社区服务中心(街道级)",
    "culture_station": "文化活动站",
    "culture_center": "文化活动中心",
    "sports_small": "小型多功能运动场地",
    "sports_medium": "中型多功能运动场地",
    "sports_large": "大型多功能运动场地",
    "outdoor_fitness": "室外综合健身场地",
    "market": "菜市场或生鲜超市",
    "community_canteen": "社区食堂",
    "public_toilet": "公共厕所",
    "waste_station": "生活垃圾收集站",
    "children_complex": "社区儿童综合体",
    "children_play": "儿童活动场地",
    "community_park": "社区公园",
    "country_park": "郊野公园",
    "fire_station": "消防站",
    "shelter": "应急避难场所",
    "bus_stop": "公交车站",
}
"""The codes other modules are written against: none may change or go missing."""

CHENGDU_INDICATORS = (
    "child_5min_activity_coverage",
    "child_15min_public_space_coverage",
    "child_30min_nature_coverage",
    "life_service_circle_15min_coverage",
    "shelter_area_per_capita",
    "fire_5min_coverage",
)

BUILTIN = load_standards()


def circle(**changes: Any) -> dict[str, Any]:
    """A valid circle as written in a file, with ``changes`` applied (``None`` removes a field)."""
    data: dict[str, Any] = {
        "code": "city_park_10min",
        "name": "十分钟公园圈",
        "name_en": "10-minute park circle",
        "mode": "walk",
        "threshold": {"distance_m": 800},
        "group": "total",
        "rule": "any",
        "facilities": [{"type": "community_park"}],
        "clause": "第3.2条",
        "verified": "checked",
        "source": "市规划局文件",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def standard(*circles: dict[str, Any], code: str = "CITY-PARKS") -> dict[str, Any]:
    return {
        "format": STANDARD_FORMAT,
        "code": code,
        "title": "城市公园布局导则",
        "title_en": "City park siting guide",
        "issued_by": "市规划和自然资源局",
        "effective": "2024-01-01",
        "status": "现行",
        "circles": list(circles) or [circle()],
    }


def write(tmp_path: Path, data: Any, name: str = "city.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(*paths: Path) -> list[Problem]:
    with pytest.raises(CatalogueError) as caught:
        load_standards(list(paths))
    return caught.value.problems


# —— the built-in files ——


@pytest.mark.parametrize("path", builtin_standard_files(), ids=lambda p: p.name)
def test_builtin_file_is_registered_loaded_and_named_by_its_format(path: Path) -> None:
    """Every built-in file exists beside the loader, declares a known format and is in the set."""
    assert path.parent == Path(standards_module.__file__).with_suffix("")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["format"] in (STANDARD_FORMAT, FACILITY_TYPES_FORMAT)
    if raw["format"] == STANDARD_FORMAT:
        assert BUILTIN.files[raw["code"]] == str(path)
        assert [c.code for c in BUILTIN.standards[raw["code"]].circles] == [c["code"] for c in raw["circles"]]


def test_builtin_files_are_the_four_shipped_ones() -> None:
    names = [p.name for p in builtin_standard_files()]
    assert names[:4] == [
        "facility_types.yaml",
        "gb50180-2018.yaml",
        "tdt1062-2021.yaml",
        "chengdu-14fyp.yaml",
    ]
    assert set(BUILTIN.standards) == {"GB50180-2018", "TDT1062-2021", "CD-14FYP"}


def test_facility_type_codes_are_the_agreed_ones() -> None:
    assert {code: t.name for code, t in BUILTIN.facility_types.items()} == FACILITY_CODES
    assert set(BUILTIN.facility_types_used()) == set(FACILITY_CODES)


@pytest.mark.parametrize("circle_obj", BUILTIN.circles.values(), ids=lambda c: c.code)
def test_builtin_circle_names_known_types_and_cites_its_source(circle_obj: Circle) -> None:
    assert set(circle_obj.facility_codes) <= set(BUILTIN.facility_types)
    assert circle_obj.clause.strip()
    assert circle_obj.source.strip()
    # Nobody has read the official texts yet: a `checked` mark would be a false claim.
    assert circle_obj.verified in ("secondary", "unverified")
    assert all(r.verified in ("secondary", "unverified") for r in circle_obj.facilities)


def test_each_chengdu_indicator_has_exactly_one_circle_and_exists_in_the_catalogue() -> None:
    catalogue = yaml.safe_load(chengdu_path("plan.yaml").read_text(encoding="utf-8"))
    indicators = {i["code"] for i in catalogue["indicators"]}
    written = {c.indicator for c in BUILTIN.circles.values() if c.indicator}
    assert written <= indicators
    for code in CHENGDU_INDICATORS:
        (found,) = BUILTIN.circles_for_indicator(code)
        assert BUILTIN.standard_of(found.code).code == "CD-14FYP"


def test_chengdu_circles_follow_the_seed() -> None:
    by_indicator = {c.indicator: c for c in BUILTIN.circles.values() if c.indicator}
    child5 = by_indicator["child_5min_activity_coverage"]
    assert (child5.mode, child5.threshold.minutes, child5.group, child5.rule) == ("walk", 5, "0-14", "any")
    assert set(child5.facility_codes) == {"children_complex", "children_play"}
    assert by_indicator["child_30min_nature_coverage"].mode in ("drive", "bike")
    service = by_indicator["life_service_circle_15min_coverage"]
    assert (service.mode, service.threshold.minutes, service.rule) == ("walk", 15, "all")
    fire = by_indicator["fire_5min_coverage"]
    assert (fire.mode, fire.direction, fire.threshold.minutes, fire.facility_codes) == (
        "drive",
        "from_facility",
        5,
        ("fire_station",),
    )
    shelter = by_indicator["shelter_area_per_capita"]
    assert shelter.measure == "area_per_resident"
    assert shelter.per_resident_m2 == 2.0


def test_gb50180_levels_use_300_500_1000_m() -> None:
    cutoffs = {
        code: BUILTIN.circle(code).cutoff for code in ("gb50180_5min", "gb50180_10min", "gb50180_15min")
    }
    assert cutoffs == {"gb50180_5min": 300, "gb50180_10min": 500, "gb50180_15min": 1000}
    assert BUILTIN.circle("gb50180_15min").range_m == (800, 1000)


def test_threshold_gives_kind_value_weight_and_cutoff_in_network_units() -> None:
    by_distance = BUILTIN.circle("gb50180_5min")
    assert (by_distance.threshold_kind, by_distance.threshold_value, by_distance.weight) == (
        "distance_m",
        300,
        "length",
    )
    by_time = BUILTIN.circle("cd_fire_5min")
    assert (by_time.threshold_kind, by_time.threshold_value, by_time.weight, by_time.cutoff) == (
        "minutes",
        5,
        "time",
        300,
    )


def test_rule_all_counts_required_types_only() -> None:
    service = BUILTIN.circle("cd_life_service_15min")
    assert "nursery" in service.facility_codes
    assert "nursery" not in service.required_codes


def test_unknown_circle_is_not_found_and_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="gb50180_5min"):
        BUILTIN.circle("gb50180_99min")


def test_loaded_objects_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        BUILTIN.circle("gb50180_5min").mode = "drive"  # type: ignore[misc]


# —— a city's own files ——


def test_city_file_replaces_the_builtin_standard_with_the_same_code(tmp_path: Path) -> None:
    path = write(tmp_path, standard(circle(code="gb_strict_15min"), code="GB50180-2018"))
    loaded = load_standards([path])
    assert [c.code for c in loaded.standards["GB50180-2018"].circles] == ["gb_strict_15min"]
    assert "gb50180_15min" not in loaded.circles
    assert loaded.files["GB50180-2018"] == str(path)
    assert "cd_fire_5min" in loaded.circles  # the other built-ins stay


def test_city_file_adds_a_standard_and_reads_a_folder(tmp_path: Path) -> None:
    write(tmp_path, standard(), name="parks.yaml")
    loaded = load_standards([tmp_path])
    assert loaded.standard_of("city_park_10min").code == "CITY-PARKS"
    assert set(BUILTIN.circles) < set(loaded.circles)


def test_city_facility_types_file_adds_a_type_its_circles_can_use(tmp_path: Path) -> None:
    types = {
        "format": FACILITY_TYPES_FORMAT,
        "types": [{"code": "library", "name": "社区图书馆", "name_en": "Community library"}],
    }
    types_path = write(tmp_path, types, name="types.yaml")
    circles_path = write(tmp_path, standard(circle(facilities=[{"type": "library"}])))
    loaded = load_standards([types_path, circles_path])
    assert loaded.facility_types["library"].name == "社区图书馆"
    assert "library" in loaded.facility_types_used()


def test_registered_file_joins_the_builtin_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standards_module, "_BUILTIN_FILES", dict.fromkeys(builtin_standard_files()))
    path = write(tmp_path, standard())
    register_standard_file(path)
    assert "city_park_10min" in load_standards().circles
    # a city file with the same code replaces a registered file just like a shipped one
    replaced = load_standards([write(tmp_path, standard(circle(code="other")), name="again.yaml")])
    assert "city_park_10min" not in replaced.circles


def test_no_paths_and_empty_paths_give_the_builtins() -> None:
    assert isinstance(load_standards([]), StandardSet)
    assert set(load_standards([]).circles) == set(BUILTIN.circles)


# —— every problem names file, circle and field ——

BAD_CIRCLES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "unknown_type",
        circle(facilities=[{"type": "comunity_park"}]),
        "facilities[0].type",
        "did you mean 'community_park'",
    ),
    ("unknown_mode", circle(mode="car"), "mode", "'walk', 'bike' or 'drive'"),
    ("unknown_group", circle(group="children"), "group", "'0-14'"),
    ("unknown_rule", circle(rule="most"), "rule", "'each', 'all' or 'any'"),
    ("unknown_measure", circle(measure="count"), "measure", "'share' or 'area_per_resident'"),
    ("unknown_direction", circle(direction="both"), "direction", "'to_facility' or 'from_facility'"),
    ("unknown_verified", circle(verified="yes"), "verified", "'checked', 'secondary' or 'unverified'"),
    ("both_thresholds", circle(threshold={"distance_m": 800, "minutes": 10}), "threshold", "both given"),
    ("no_threshold", circle(threshold={}), "threshold", "neither given"),
    ("zero_threshold", circle(threshold={"distance_m": 0}), "threshold.distance_m", "positive"),
    ("negative_minutes", circle(threshold={"minutes": -5}), "threshold.minutes", "positive"),
    ("text_threshold", circle(threshold={"distance_m": "800"}), "threshold.distance_m", "valid number"),
    ("unknown_threshold_unit", circle(threshold={"km": 1}), "threshold.km", "unknown field"),
    (
        "area_without_per_resident",
        circle(measure="area_per_resident"),
        "per_resident_m2",
        "needs per_resident_m2",
    ),
    (
        "per_resident_on_share",
        circle(per_resident_m2=2.0),
        "per_resident_m2",
        "only to measure 'area_per_resident'",
    ),
    ("range_not_ending_at_threshold", circle(range_m=[500, 1000]), "range_m", "upper bound"),
    ("range_reversed", circle(range_m=[800, 500]), "range_m", "low to high"),
    ("range_with_minutes", circle(threshold={"minutes": 10}, range_m=[5, 10]), "range_m", "distance_m"),
    ("duplicate_facility", circle(facilities=[{"type": "community_park"}] * 2), "facilities", "listed twice"),
    (
        "all_without_required",
        circle(rule="all", facilities=[{"type": "community_park", "required": False}]),
        "facilities",
        "required: true",
    ),
    (
        "each_with_indicator",
        circle(rule="each", indicator="x", facilities=[{"type": "market"}, {"type": "bus_stop"}]),
        "indicator",
        "one value",
    ),
    ("no_facilities", circle(facilities=[]), "facilities", "at least 1"),
    ("missing_clause", circle(clause=None), "clause", "required field is missing"),
    ("missing_source", circle(source=None), "source", "required field is missing"),
    ("misspelt_field", circle(treshold={"minutes": 5}), "treshold", "unknown field"),
]


@pytest.mark.parametrize(
    ("bad", "field", "fragment"), [case[1:] for case in BAD_CIRCLES], ids=[case[0] for case in BAD_CIRCLES]
)
def test_bad_circle_names_file_circle_and_field(
    tmp_path: Path, bad: dict[str, Any], field: str, fragment: str
) -> None:
    path = write(tmp_path, standard(circle(code="city_ok"), copy.deepcopy(bad)))
    (problem,) = problems_of(path)
    assert problem.file == str(path)
    assert problem.entry == f"circles[1] ({bad['code']})"
    assert problem.field == field
    assert fragment in problem.message


def test_duplicate_circle_code_in_one_file(tmp_path: Path) -> None:
    path = write(tmp_path, standard(circle(), circle()))
    (problem,) = problems_of(path)
    assert (problem.file, problem.entry, problem.field) == (str(path), "circles[1] (city_park_10min)", "code")
    assert "unique across all files" in problem.message


def test_duplicate_circle_code_with_a_builtin_names_both_files(tmp_path: Path) -> None:
    path = write(tmp_path, standard(circle(code="gb50180_5min")))
    (problem,) = problems_of(path)
    assert (problem.file, problem.field) == (str(path), "code")
    assert "gb50180-2018.yaml" in problem.message


def test_two_city_files_with_one_standard_code(tmp_path: Path) -> None:
    first = write(tmp_path, standard(), name="a.yaml")
    second = write(tmp_path, standard(circle(code="other")), name="b.yaml")
    (problem,) = problems_of(first, second)
    assert (problem.file, problem.field) == (str(second), "code")
    assert str(first) in problem.message


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, f"format: {STANDARD_FORMAT}\ncode: X\ncircles:\n  - code: [unclosed\n")
    (problem,) = problems_of(path)
    assert problem.file == str(path)
    assert problem.entry.startswith("line 5")
    assert "not valid YAML" in problem.message


@pytest.mark.parametrize("fmt", ["planwatch.standard/v2", None, "planwatch.plan/v1"])
def test_wrong_format_string(tmp_path: Path, fmt: str | None) -> None:
    data = standard()
    data["format"] = fmt
    path = write(tmp_path, data)
    (problem,) = problems_of(path)
    assert (problem.file, problem.entry, problem.field) == (str(path), "(top level)", "format")
    assert STANDARD_FORMAT in problem.message


def test_bad_header_field(tmp_path: Path) -> None:
    data = standard()
    data["effective"] = "soon"
    path = write(tmp_path, data)
    (problem,) = problems_of(path)
    assert (problem.entry, problem.field) == ("(top level)", "effective")


def test_bad_facility_type_entry(tmp_path: Path) -> None:
    types = {
        "format": FACILITY_TYPES_FORMAT,
        "types": [{"code": "library", "name": "图书馆", "group": "kids"}],
    }
    path = write(tmp_path, types)
    found = {(p.entry, p.field) for p in problems_of(path)}
    assert found == {("types[0] (library)", "name_en"), ("types[0] (library)", "group")}


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    listed = write(tmp_path, "- just\n- a list\n")
    missing = tmp_path / "nowhere.yaml"
    found = problems_of(listed, missing)
    assert [p.file for p in found] == [str(listed), str(missing)]
    assert "no such file" in found[1].message


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    first = write(tmp_path, standard(circle(mode="car")), name="a.yaml")
    second = write(tmp_path, standard(circle(code="x", group="kids"), code="OTHER"), name="b.yaml")
    with pytest.raises(CatalogueError) as caught:
        load_standards([first, second])
    assert [(p.file, p.field) for p in caught.value.problems] == [
        (str(first), "mode"),
        (str(second), "group"),
    ]
    assert str(first) in str(caught.value)
    assert "nothing was loaded" in str(caught.value)
