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
    Role,
    ScopeKind,
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
    # accounts: sign in, own password, user administration, security log
    "sign_in": {"zh": "登录", "en": "Sign in"},
    "sign_out": {"zh": "退出", "en": "Sign out"},
    "sign_in_note": {
        "zh": "多次输入错误后账户将被暂时锁定。公众无需登录即可查看规划总览。",
        "en": "Repeated failures lock the account for a while. The public plan overview needs no sign-in.",
    },
    "already_signed_in": {"zh": "您已登录为", "en": "You are signed in as"},
    "continue": {"zh": "继续", "en": "Continue"},
    "username": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "change_password": {"zh": "修改密码", "en": "Change password"},
    "must_change_password": {
        "zh": "请先修改密码:初始密码、被重置的密码或已到期的管理员密码需更换后才能继续使用。",
        "en": "Change your password first: an initial, reset or expired administrator password must be replaced before you go on.",
    },
    "current_password": {"zh": "当前密码", "en": "Current password"},
    "new_password": {"zh": "新密码", "en": "New password"},
    "repeat_password": {"zh": "再次输入新密码", "en": "New password again"},
    "passwords_differ": {"zh": "两次输入的新密码不一致", "en": "the two new passwords differ"},
    "password_rules": {
        "zh": "密码至少 {n} 位,不能包含用户名、admin、chengdu、12345 等词。",
        "en": "At least {n} characters, without the user name or words such as admin, chengdu or 12345.",
    },
    "password_rules_dengbao": {
        "zh": "等保模式:须包含大写字母、小写字母、数字、符号中的至少三类。",
        "en": "等保 mode: use at least three of upper case, lower case, digits and symbols.",
    },
    "password_change_ends_sessions": {
        "zh": "修改成功后,您的所有会话都将结束,请用新密码重新登录。",
        "en": "After the change every session of yours ends; sign in again with the new password.",
    },
    "flash.password_changed": {
        "zh": "密码已修改,请用新密码登录。",
        "en": "Password changed; sign in with the new one.",
    },
    "nav_users": {"zh": "用户管理", "en": "Users"},
    "nav_audit": {"zh": "审计日志", "en": "Security log"},
    "create_user": {"zh": "新建用户", "en": "Create a user"},
    "display_name": {"zh": "姓名", "en": "Display name"},
    "phone": {"zh": "手机号", "en": "Phone"},
    "initial_password": {"zh": "初始密码", "en": "Initial password"},
    "initial_password_note": {
        "zh": "用户首次登录时须修改初始密码。请通过安全渠道告知初始密码。",
        "en": "The user must change the initial password at first sign-in. Hand it over by a safe channel.",
    },
    "create": {"zh": "创建", "en": "Create"},
    "roles": {"zh": "角色", "en": "Roles"},
    "role": {"zh": "角色", "en": "Role"},
    "scopes": {"zh": "数据范围", "en": "Scopes"},
    "scope_kind": {"zh": "范围类型", "en": "Scope kind"},
    "scope_code": {"zh": "区划或部门代码", "en": "Division or department code"},
    "account_state": {"zh": "状态", "en": "State"},
    "actions": {"zh": "操作", "en": "Actions"},
    "manage": {"zh": "管理", "en": "Manage"},
    "active": {"zh": "正常", "en": "active"},
    "disabled": {"zh": "已停用", "en": "disabled"},
    "locked": {"zh": "已锁定", "en": "locked"},
    "must_change_tag": {"zh": "须改密码", "en": "must change password"},
    "enable": {"zh": "启用", "en": "Enable"},
    "disable": {"zh": "停用", "en": "Disable"},
    "reset_password": {"zh": "重置密码", "en": "Reset password"},
    "grant": {"zh": "授予", "en": "Grant"},
    "revoke": {"zh": "撤销", "en": "Revoke"},
    "revoked": {"zh": "已撤销", "en": "revoked"},
    "phones_masked": {
        "zh": "手机号已脱敏显示(个人信息保护)。",
        "en": "Phone numbers are shown masked (personal information protection).",
    },
    "api_tokens": {"zh": "API 令牌", "en": "API tokens"},
    "create_token": {"zh": "创建令牌", "en": "Create token"},
    "token_user": {"zh": "所属用户", "en": "Acts as"},
    "token_name": {"zh": "令牌名称", "en": "Token name"},
    "token_days": {"zh": "有效天数", "en": "Valid for (days)"},
    "token_prefix": {"zh": "前缀", "en": "Prefix"},
    "token_created": {"zh": "令牌已创建", "en": "Token created"},
    "token_shown_once": {
        "zh": "令牌只显示这一次,系统仅保存其哈希值。请立即复制并妥善保管。",
        "en": "The token is shown this once; only its hash is kept. Copy it now and keep it safe.",
    },
    "token_usage": {"zh": "调用接口时请放在请求头中:", "en": "Send it with API calls as"},
    "back_to_users": {"zh": "返回用户管理", "en": "Back to users"},
    "created_at": {"zh": "创建时间", "en": "Created"},
    "expires_at": {"zh": "到期时间", "en": "Expires"},
    "last_used_at": {"zh": "最近使用", "en": "Last used"},
    "flash.user_created": {"zh": "已创建用户 {name}", "en": "User {name} created"},
    "flash.user_disabled": {
        "zh": "已停用用户 {name},其会话已结束",
        "en": "User {name} disabled; their sessions ended",
    },
    "flash.user_enabled": {"zh": "已启用用户 {name}", "en": "User {name} enabled"},
    "flash.password_reset": {
        "zh": "已重置 {name} 的密码,其下次登录时须修改",
        "en": "Password of {name} reset; they must change it at next sign-in",
    },
    "flash.role_grant": {"zh": "已授予 {name} 角色:{role}", "en": "Role {role} granted to {name}"},
    "flash.role_revoke": {"zh": "已撤销 {name} 的角色:{role}", "en": "Role {role} revoked from {name}"},
    "flash.scope_grant": {"zh": "已授予 {name} {scope}", "en": "{scope} granted to {name}"},
    "flash.scope_revoke": {"zh": "已撤销 {name} 的 {scope}", "en": "{scope} revoked from {name}"},
    "flash.token_revoked": {"zh": "已撤销令牌 {name}", "en": "Token {name} revoked"},
    "chain_intact": {"zh": "哈希链完整", "en": "Hash chain intact"},
    "chain_broken": {
        "zh": "哈希链已断裂,日志可能被篡改!",
        "en": "Hash chain broken: the log may have been tampered with!",
    },
    "action": {"zh": "事件", "en": "Action"},
    "actor": {"zh": "操作人", "en": "Actor"},
    "limit": {"zh": "条数", "en": "Rows"},
    "filter": {"zh": "筛选", "en": "Filter"},
    "audit_note": {
        "zh": "显示最新的 {n} 条安全事件(时间为 UTC)。",
        "en": "The latest {n} security events (times in UTC).",
    },
    "time_utc": {"zh": "时间 (UTC)", "en": "Time (UTC)"},
    "source_ip": {"zh": "来源地址", "en": "Source address"},
    "object": {"zh": "对象", "en": "Object"},
    "result": {"zh": "结果", "en": "Result"},
    "details": {"zh": "详情", "en": "Details"},
    "request_id": {"zh": "请求编号", "en": "Request id"},
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
_vocabulary(
    "role",
    Role,
    {
        "planner": "planner",
        "department_reporter": "department reporter",
        "district_reporter": "district reporter",
        "reviewer": "reviewer (read-only)",
        "sys_admin": "system administrator",
        "security_admin": "security administrator",
        "audit_admin": "audit administrator",
    },
)
_vocabulary(
    "scope", ScopeKind, {"capture": "capture scope", "view": "view scope", "department": "department scope"}
)


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for templates; unknown keys show themselves so a gap is visible, not silent."""
    lang = lang if lang in LANGUAGES else "zh"

    def t(key: str) -> str:
        entry = MESSAGES.get(key)
        return entry[lang] if entry else key

    return t
