"""Closed vocabularies of the catalogue, with their Chinese names beside the English ones."""

from __future__ import annotations

import enum


class LabelledEnum(enum.StrEnum):
    """A string enum whose members carry a Chinese label (``.zh``)."""

    zh: str

    def __new__(cls, value: str, zh: str = "") -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh = zh or value
        return member


class PlanKind(LabelledEnum):
    master = "master", "规划纲要"
    special = "special", "专项规划"
    regional = "regional", "区域规划"
    spatial = "spatial", "国土空间规划"
    district = "district", "区县规划"
    annual = "annual", "年度计划"


class PlanStatus(LabelledEnum):
    draft = "draft", "草案"
    approved = "approved", "已批准"
    in_force = "in_force", "实施中"
    revised = "revised", "已修订"
    closed = "closed", "已终结"


class TaskKind(LabelledEnum):
    action = "action", "行动"
    project = "project", "工程"
    task = "task", "任务"


class MilestoneStatus(LabelledEnum):
    planned = "planned", "计划中"
    in_progress = "in_progress", "推进中"
    done = "done", "已完成"
    cancelled = "cancelled", "已取消"


class Direction(LabelledEnum):
    higher_better = "higher", "越高越好"
    lower_better = "lower", "越低越好"


class Nature(LabelledEnum):
    binding = "binding", "约束性"
    expected = "expected", "预期性"


class Frequency(LabelledEnum):
    annual = "annual", "年度"
    quarterly = "quarterly", "季度"
    monthly = "monthly", "月度"


class PeriodAggregation(LabelledEnum):
    sum = "sum", "求和"
    last = "last", "取期末值"
    mean = "mean", "取平均"


class Aggregation(LabelledEnum):
    sum = "sum", "求和"
    ratio = "ratio", "分子分母比值"
    weighted_mean = "weighted_mean", "人口加权平均"
    min = "min", "最小值"
    max = "max", "最大值"
    count_meeting = "count_meeting", "达标单元数"


class TargetKind(LabelledEnum):
    level = "level", "水平值"
    increment = "increment", "新增量"
    cumulative = "cumulative", "累计值"
    average_annual_rate = "average_annual_rate", "年均增速"
    rate_of_change = "rate_of_change", "变化率"
    per_unit_coverage = "per_unit_coverage", "单元覆盖"
    trend = "trend", "趋势"
    relative = "relative", "相对标准"
    qualitative = "qualitative", "定性"


class Comparator(LabelledEnum):
    ge = ">=", "不低于"
    gt = ">", "超过"
    le = "<=", "不高于"
    lt = "<", "低于"
    eq = "=", "等于"
    approx = "~", "左右"
    increase = "increase", "持续上升"
    decrease = "decrease", "持续下降"


class DivisionLevel(LabelledEnum):
    city = "city", "市"
    district = "district", "区(市)县"
    street = "street", "街道(镇)"
    community = "community", "社区(村)"
    compound = "compound", "小区"

    @property
    def depth(self) -> int:
        return list(DivisionLevel).index(self)


class ValueSource(LabelledEnum):
    reported = "reported", "填报"
    computed = "computed", "计算"
    simulated = "simulated", "模拟数据"


class ValueStatus(LabelledEnum):
    draft = "draft", "草稿"
    submitted = "submitted", "已提交"
    approved = "approved", "已审核"
    locked = "locked", "已锁定"


class PopulationSource(LabelledEnum):
    census = "census2020", "第七次全国人口普查"
    statistics = "statistics", "统计年鉴"
    simulated = "simulated", "模拟数据"


class Role(LabelledEnum):
    """Built-in roles. The three administrators (三权分立) are mutually exclusive."""

    planner = "planner", "规划处"
    department_reporter = "department_reporter", "部门填报员"
    district_reporter = "district_reporter", "区县填报员"
    reviewer = "reviewer", "审阅人(只读)"
    sys_admin = "sys_admin", "系统管理员"
    security_admin = "security_admin", "安全管理员"
    audit_admin = "audit_admin", "审计管理员"


ADMIN_ROLES = frozenset({Role.sys_admin, Role.security_admin, Role.audit_admin})


class ScopeKind(LabelledEnum):
    capture = "capture", "填报范围"
    view = "view", "查看范围"
    department = "department", "部门范围"


class ApprovalState(LabelledEnum):
    """Where a unit's data for a year stands (DHIS2 data approval, bottom-up)."""

    draft = "draft", "填报中"
    submitted = "submitted", "已上报"
    approved = "approved", "已审核"


class ApprovalUnitKind(LabelledEnum):
    division = "division", "区划"
    department = "department", "部门"


class AuditAction(LabelledEnum):
    create = "create", "新增"
    update = "update", "修改"
    delete = "delete", "删除"


class Channel(LabelledEnum):
    """How a value reached the database."""

    file = "file", "文件导入"
    api = "api", "接口"
    page = "page", "网页填报"
    simulation = "simulation", "模拟数据生成"


class ImportStatus(LabelledEnum):
    applied = "applied", "已导入"
    unchanged = "unchanged", "无变化"
    rejected = "rejected", "被拒绝"
    dry_run = "dry_run", "试导入"


class RoundKind(LabelledEnum):
    """Evaluation rounds of a plan (规划实施评估): yearly tracking, the mid-term and the final one."""

    annual = "annual", "年度监测"
    midterm = "midterm", "中期评估"
    final = "final", "总结评估"


class Importance(LabelledEnum):
    high = "high", "高"
    medium = "medium", "中"
    low = "low", "低"


class RequestState(LabelledEnum):
    """Where a citizen's request (诉求工单) stands in the 12345 workflow (接-派-办-评)."""

    received = "received", "已受理"
    dispatched = "dispatched", "已派单"
    accepted = "accepted", "已签收"
    in_progress = "in_progress", "办理中"
    replied = "replied", "已答复"
    closed = "closed", "已办结"
    returned = "returned", "已退单"


OPEN311_CLOSED = frozenset({RequestState.closed})
"""Open311's ``closed`` (resolved); every other state is ``open``."""


class RequestAction(LabelledEnum):
    """One step of a request's timeline (every state change and every note is one event)."""

    received = "received", "受理"
    classified = "classified", "确认分类"
    dispatched = "dispatched", "派单"
    accepted = "accepted", "签收"
    contacted = "contacted", "联系诉求人"
    progress = "progress", "办理进展"
    replied = "replied", "答复"
    closed = "closed", "办结"
    returned = "returned", "退单"
    transferred = "transferred", "转办"
    reopened = "reopened", "重办"
    callback = "callback", "回访"
    note = "note", "备注"
    anonymised = "anonymised", "个人信息匿名化"


class RequestKind(LabelledEnum):
    """The ticket types 12345 centres publish (咨询/求助/建议/投诉/举报/感谢/其他)."""

    consultation = "consultation", "咨询"
    help = "help", "求助"
    suggestion = "suggestion", "建议"
    complaint = "complaint", "投诉"
    report = "report", "举报"
    praise = "praise", "感谢"
    other = "other", "其他"


class RequestChannel(LabelledEnum):
    """How a request arrived."""

    hotline = "hotline", "12345热线"
    web = "web", "网页"
    open311 = "open311", "Open311接口"
    wechat = "wechat", "微信"
    simulation = "simulation", "模拟数据"


class Satisfaction(LabelledEnum):
    """The caller's answer at the callback (回访)."""

    satisfied = "satisfied", "满意"
    basically = "basically", "基本满意"
    unsatisfied = "unsatisfied", "不满意"


class SurveyStatus(LabelledEnum):
    draft = "draft", "草稿"
    open = "open", "进行中"
    closed = "closed", "已结束"


class QuestionKind(LabelledEnum):
    """Question types of a demand survey (after Decidim's questionnaire engine)."""

    single = "single", "单选"
    multiple = "multiple", "多选"
    scale = "scale", "量表"
    text = "text", "文本"
