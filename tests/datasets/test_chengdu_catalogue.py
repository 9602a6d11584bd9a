"""The shipped Chengdu catalogue, checked against the seed document sentence by sentence."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from planwatch.datasets import chengdu_path
from planwatch.models.enums import TargetKind
from planwatch.plans.reader import read_plan_file
from planwatch.plans.schemas import PlanFile
from tests.conftest import SEED_PATH


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def catalogue() -> PlanFile:
    return read_plan_file(chengdu_path("plan.yaml"))


@pytest.fixture(scope="module")
def seed() -> str:
    return squash(chengdu_path("seed.txt").read_text(encoding="utf-8"))


SEED_SHA256 = "a0c12b2a2f60558d4f1147c9993d09bd83fed0c337e6ebe7215c7d5f669f0f99"
"""sha256 of shared/seeds/000_eae1a0beed5f6aab.txt, the source document the catalogue was read from."""


def test_packaged_seed_is_the_source_document() -> None:
    assert hashlib.sha256(chengdu_path("seed.txt").read_bytes()).hexdigest() == SEED_SHA256
    if SEED_PATH.exists():  # beside a checkout with shared/, the copy is byte for byte the original
        assert chengdu_path("seed.txt").read_bytes() == Path(SEED_PATH).read_bytes()


def test_every_target_sentence_is_in_the_seed(catalogue: PlanFile, seed: str) -> None:
    missing = [t.code for t in catalogue.targets if squash(t.source_sentence) not in seed]
    assert missing == []


def test_every_task_sentence_is_in_the_seed(catalogue: PlanFile, seed: str) -> None:
    missing = [t.code for t in catalogue.tasks if t.source_sentence and squash(t.source_sentence) not in seed]
    assert missing == []


def test_about_forty_quantitative_targets(catalogue: PlanFile) -> None:
    assert 35 <= len(catalogue.targets) <= 60


def _number_forms(value: float) -> set[str]:
    forms = {f"{value:g}"}
    if value >= 10_000 and value % 1000 == 0:
        forms.add(f"{value / 10_000:g}万")
    return forms


def test_no_value_is_invented(catalogue: PlanFile) -> None:
    """Every number in the catalogue appears, as written, in its own source sentence.

    Yes/no indicators (unit 是/否) encode "meets it" as 1; that 1 is not a number of the source.
    """
    invented = []
    for target in catalogue.targets:
        if target.unit.startswith("是/否"):
            continue
        numbers = [target.value] if target.value is not None else list(target.range or [])
        for number in numbers:
            if not any(form in target.source_sentence for form in _number_forms(number)):
                invented.append((target.code, number))
    assert invented == []


def test_lost_numbers_are_incomplete_not_guessed(catalogue: PlanFile) -> None:
    lost = [t for t in catalogue.targets if "新增普惠性养老床位张" in t.source_sentence]
    assert lost, "the 新增普惠性养老床位张 target is missing"
    beds = next(t for t in lost if "床位" in t.indicator or t.kind is TargetKind.increment)
    assert beds.incomplete
    assert beds.value is None
    disabled = [t for t in catalogue.targets if "康养资助覆盖率达%" in t.source_sentence]
    assert any(t.incomplete and t.value is None for t in disabled)


def test_incomplete_targets_say_why(catalogue: PlanFile) -> None:
    for target in catalogue.targets:
        if target.incomplete:
            assert target.incomplete_reason
            assert target.value is None


@pytest.mark.parametrize(
    ("fragment", "value"),
    [
        ("护理型床位占比超过60%", 60),
        ("康养服务率达80%", 80),
        ("邻里人家”50个", 50),
        ("发展社区连锁店1.2万个", 12000),
        ("社区用房不低于每百户30平方米", 30),
        ("不少于30个", 30),
        ("社区社会企业40个", 40),
        ("每年新增10万名社区志愿者", 100000),
        ("23个一类应急避难场所", 23),
        ("人均应急避难场所面积不低于2平方米", 2),
        ("地震监测和预警信息覆盖率达到80%", 80),
        ("监测监控率达到95%", 95),
        ("抽验合格率达到99%以上", 99),
    ],
)
def test_known_targets_carry_the_seed_number(catalogue: PlanFile, fragment: str, value: float) -> None:
    matches = [t for t in catalogue.targets if fragment in t.source_sentence and t.value == value]
    assert matches, f"no target with value {value} from a sentence containing {fragment!r}"


@pytest.mark.parametrize(
    "name",
    [
        "养老服务能力提升行动",
        "育幼服务能力提升行动",
        "青年发展凝心聚力行动",
        "促进妇女全面发展行动",
        "未成年人关爱服务体系建设行动",
        "儿童活动空间建设行动",
        "残疾人权益保障行动",
        "退役军人服务保障行动",
        "高品质公共服务倍增工程",
        "社区场景营造赋能行动",
        "自治活力提升工程",
        "智慧韧性安全城市建设工程",
        "公共卫生应急基础设施建设提能行动",
        "食品药品安全保障行动",
    ],
)
def test_named_actions_are_tasks(catalogue: PlanFile, name: str) -> None:
    assert any(name in task.name for task in catalogue.tasks)


def test_every_target_has_a_lead_department_through_its_task_or_indicator(catalogue: PlanFile) -> None:
    tasks = {t.code: t for t in catalogue.tasks}
    indicators = {i.code: i for i in catalogue.indicators}
    orphans = [
        t.code
        for t in catalogue.targets
        if not (t.task and tasks[t.task].lead) and not indicators[t.indicator].source_department
    ]
    assert orphans == []
