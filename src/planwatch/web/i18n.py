"""UI strings in Chinese (default) and English. Domain names come from the data (name_zh/name_en)."""

from __future__ import annotations

from collections.abc import Callable

from planwatch.models.enums import (
    Aggregation,
    Comparator,
    DivisionLevel,
    LabelledEnum,
    Nature,
    PlanKind,
    TargetKind,
)

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "app_name": {"zh": "规划实施监测评估平台", "en": "Plan implementation monitoring"},
    "overview": {"zh": "规划总览", "en": "Plan overview"},
    "targets": {"zh": "目标指标", "en": "Targets"},
    "api_docs": {"zh": "接口文档", "en": "API docs"},
    "year": {"zh": "评估年份", "en": "Evaluation year"},
    "show": {"zh": "查看", "en": "Show"},
    "simulated_banner": {
        "zh": "模拟数据:本页所有监测数值均由模拟器生成,仅用于演示,不是真实统计数据。",
        "en": "Simulated data: every monitored value on this page comes from the simulator, for demonstration only; none is an official statistic.",
    },
    "simulated": {"zh": "模拟", "en": "simulated"},
    "status_counts": {"zh": "目标状态分布", "en": "Targets by status"},
    "code": {"zh": "编号", "en": "Code"},
    "indicator": {"zh": "指标", "en": "Indicator"},
    "target": {"zh": "目标", "en": "Target"},
    "deadline": {"zh": "目标年", "en": "Deadline"},
    "nature": {"zh": "属性", "en": "Nature"},
    "kind": {"zh": "类型", "en": "Kind"},
    "status": {"zh": "状态", "en": "Status"},
    "actual": {"zh": "实际值", "en": "Actual"},
    "inferred": {"zh": "推断", "en": "inferred"},
    "deadline_inferred": {
        "zh": "原文年份缺失,按“十四五”末推断",
        "en": "year lost in the source; end of the plan period assumed",
    },
    "incomplete": {"zh": "数值缺失", "en": "number missing"},
    "source_sentence": {"zh": "规划原文", "en": "Source sentence"},
    "evaluation": {"zh": "评估", "en": "Evaluation"},
    "time_progress": {"zh": "序时进度 τ", "en": "Time progress τ"},
    "actual_progress": {"zh": "实际进度 π", "en": "Actual progress π"},
    "ratio": {"zh": "进度比 r = π/τ", "en": "Progress ratio r = π/τ"},
    "baseline": {"zh": "基期值", "en": "Baseline"},
    "data_year": {"zh": "数据年份", "en": "Data year"},
    "measure": {"zh": "评估口径", "en": "Judged on"},
    "task": {"zh": "行动/任务", "en": "Action / task"},
    "lead_department": {"zh": "牵头部门", "en": "Lead department"},
    "scope": {"zh": "范围", "en": "Scope"},
    "unit": {"zh": "单位", "en": "Unit"},
    "definition": {"zh": "指标定义", "en": "Definition"},
    "aggregation": {"zh": "汇总方式", "en": "Roll-up"},
    "levels": {"zh": "填报层级", "en": "Reported at"},
    "units_meeting": {"zh": "达标单元", "en": "Units meeting it"},
    "units_reported": {"zh": "有数据的单元", "en": "Units with data"},
    "by_division": {"zh": "分区情况", "en": "By division"},
    "division": {"zh": "区划", "en": "Division"},
    "meets_target": {"zh": "达到目标", "en": "Meets target"},
    "no_data": {"zh": "无数据", "en": "no data"},
    "value": {"zh": "数值", "en": "Value"},
    "chart_title": {
        "zh": "基期、序时进度路径、实际值与目标",
        "en": "Baseline, expected path, actual values and target",
    },
    "expected_path": {"zh": "序时进度路径", "en": "Expected path"},
    "actual_values": {"zh": "实际值", "en": "Actual"},
    "target_line": {"zh": "目标", "en": "Target"},
    "no_chart": {"zh": "暂无可绘制的数据", "en": "No data to chart"},
    "reason": {"zh": "说明", "en": "Note"},
    "back": {"zh": "返回总览", "en": "Back to overview"},
    "period": {"zh": "规划期", "en": "Plan period"},
    "not_found": {"zh": "未找到", "en": "Not found"},
    "error": {"zh": "出错了", "en": "Error"},
    "language": {"zh": "English", "en": "中文"},
    "docs_intro": {
        "zh": "JSON 接口说明(由 OpenAPI 规范生成,离线可用)。机器可读规范:",
        "en": "The JSON API, generated from the OpenAPI specification (works offline). Machine-readable spec:",
    },
    "parameters": {"zh": "参数", "en": "Parameters"},
    "responses": {"zh": "响应", "en": "Responses"},
    "request_body": {"zh": "请求体", "en": "Request body"},
    "targets_total": {"zh": "目标总数", "en": "Targets"},
    "binding": {"zh": "约束性", "en": "binding"},
    "expected": {"zh": "预期性", "en": "expected"},
    "none": {"zh": "无", "en": "none"},
    "incomplete_targets": {"zh": "数值缺失的目标", "en": "Targets with a missing number"},
}


_ENGLISH_COMPARATORS = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "less than",
    "=": "equal to",
    "~": "about",
    "increase": "keeps rising",
    "decrease": "keeps falling",
}
_ENGLISH_LEVELS = {
    "city": "city",
    "district": "district",
    "street": "street/town",
    "community": "community/village",
}


def _vocabulary(prefix: str, enum: type[LabelledEnum], english: dict[str, str] | None = None) -> None:
    """Chinese labels of a closed vocabulary come from the enum itself (one source of truth)."""
    for member in enum:
        en = (english or {}).get(member.value, member.value.replace("_", " "))
        MESSAGES[f"{prefix}.{member.value}"] = {"zh": member.zh, "en": en}


_vocabulary("cmp", Comparator, _ENGLISH_COMPARATORS)
_vocabulary("kind", TargetKind)
_vocabulary(
    "agg", Aggregation, {"ratio": "Σ numerator / Σ denominator", "weighted_mean": "population-weighted mean"}
)
_vocabulary("level", DivisionLevel, _ENGLISH_LEVELS)
_vocabulary("nature", Nature)
_vocabulary(
    "plankind", PlanKind, {"master": "master plan", "district": "district plan", "annual": "annual plan"}
)


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for templates; unknown keys show themselves so a gap is visible, not silent."""
    lang = lang if lang in LANGUAGES else "zh"

    def t(key: str) -> str:
        entry = MESSAGES.get(key)
        return entry[lang] if entry else key

    return t
