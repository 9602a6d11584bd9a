"""UI strings in Chinese (default) and English. Domain names come from the data (name_zh/name_en)."""

from __future__ import annotations

from collections.abc import Callable

from planwatch.models.enums import (
    Aggregation,
    ApprovalState,
    ApprovalUnitKind,
    AuditAction,
    Channel,
    Comparator,
    DivisionLevel,
    LabelledEnum,
    Nature,
    PlanKind,
    Role,
    RoundKind,
    ScopeKind,
    TargetKind,
    ValueSource,
    ValueStatus,
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
    # data collection: template and upload, import outcome, one value, approval
    "nav_data": {"zh": "数据填报", "en": "Data reporting"},
    "nav_approvals": {"zh": "审核", "en": "Approval"},
    "data_title": {"zh": "数据填报", "en": "Data reporting"},
    "data_intro": {
        "zh": "下载本单位的填报模板,填写后上传。系统逐行检查,全部通过才写入;有任何错误则一行都不写入。",
        "en": "Download your unit's template, fill it in and upload it. Every row is checked; the file is written only when all rows pass, otherwise nothing is written.",
    },
    "step_template": {"zh": "1. 下载填报模板", "en": "1. Download the template"},
    "step_upload": {"zh": "2. 上传填好的文件", "en": "2. Upload the filled-in file"},
    "step_more": {"zh": "3. 逐项更正与上报", "en": "3. Corrections and submission"},
    "report_year": {"zh": "填报年度", "en": "Reporting year"},
    "reporting_unit": {"zh": "填报单位", "en": "Reporting unit"},
    "file_format": {"zh": "格式", "en": "Format"},
    "download_template": {"zh": "下载模板", "en": "Download template"},
    "template_note": {
        "zh": "模板每行是一项应报数据(指标 × 区划 × 期间),已填入当前数值;只填写数值、分子、分母、备注。",
        "en": "Each template row is one value owed (indicator × division × period), pre-filled with the current value; fill in only value, numerator, denominator and comment.",
    },
    "no_reporting_units": {
        "zh": "您没有可填报的单位(填报范围为空)。请联系安全管理员授予填报范围。",
        "en": "You have no unit to report for (empty capture scope); ask the security administrator for one.",
    },
    "upload_file": {"zh": "文件 (CSV 或 XLSX)", "en": "File (CSV or XLSX)"},
    "dry_run_label": {
        "zh": "试导入 (dry run):只检查,不写入",
        "en": "试导入 dry run: check only, write nothing",
    },
    "upload": {"zh": "上传", "en": "Upload"},
    "upload_note": {
        "zh": "整份文件要么全部写入,要么一行都不写入;同一文件再次上传不会产生任何变化。",
        "en": "A file is written whole or not at all; uploading the same file again changes nothing.",
    },
    "enter_one_value": {"zh": "逐项填报或更正一个数值", "en": "Enter or correct one value"},
    "go_approvals": {"zh": "查看审核状态并上报", "en": "See the approval state and submit"},
    "import_title": {"zh": "导入结果", "en": "Import result"},
    "import_outcome.applied": {"zh": "导入成功", "en": "Imported"},
    "import_outcome.unchanged": {"zh": "无变化", "en": "No change"},
    "import_outcome.rejected": {"zh": "被拒绝", "en": "Rejected"},
    "import_outcome.dry_run": {"zh": "试导入", "en": "Dry run"},
    "next_steps": {"zh": "下一步", "en": "What next"},
    "next.applied": {
        "zh": "数据已保存,状态为“填报中”,上报前仍可修改。本单位全部数据填完后,请在“审核”页上报,由上级审核。",
        "en": "The values are saved as drafts and can still be changed. Once your unit's data is complete, submit it on the Approval page for the level above to approve.",
    },
    "next.unchanged": {
        "zh": "文件中的数值与已保存的完全一致,没有写入任何内容,无需再做什么。",
        "en": "The file's values equal the stored ones; nothing was written and nothing more is needed.",
    },
    "next.rejected": {
        "zh": "没有写入任何数据。请按下表(或带批注的检查报告)逐项更正后重新上传;可先勾选“试导入”检查。",
        "en": "Nothing was written. Correct each cell listed below (or in the annotated report) and upload again; tick dry run to check first.",
    },
    "next.dry_run": {
        "zh": "检查通过,但试导入不写入数据。取消勾选“试导入”后再上传同一文件即可保存。",
        "en": "Every row passes, but a dry run writes nothing. Upload the same file again without dry run to save it.",
    },
    "file": {"zh": "文件", "en": "File"},
    "uploaded_by": {"zh": "上传人", "en": "Uploaded by"},
    "uploaded_at": {"zh": "上传时间", "en": "Uploaded at"},
    "count.rows": {"zh": "数据行", "en": "Rows"},
    "count.inserted": {"zh": "新增", "en": "New"},
    "count.updated": {"zh": "修改", "en": "Changed"},
    "count.unchanged": {"zh": "未变", "en": "Unchanged"},
    "count.blank": {"zh": "空行(跳过)", "en": "Blank (skipped)"},
    "count.errors": {"zh": "错误", "en": "Errors"},
    "count.warnings": {"zh": "警告", "en": "Warnings"},
    "notices": {"zh": "提示", "en": "Notices"},
    "errors": {"zh": "错误", "en": "Errors"},
    "warnings": {"zh": "警告(不影响导入,请核实)", "en": "Warnings (the import goes ahead; please check)"},
    "row": {"zh": "行", "en": "Row"},
    "column": {"zh": "列", "en": "Column"},
    "message": {"zh": "说明", "en": "Message"},
    "whole_file": {"zh": "整个文件", "en": "whole file"},
    "shown_of": {"zh": "仅列出前 {n} 条,共 {total} 条。", "en": "The first {n} of {total} are listed."},
    "annotated_report": {
        "zh": "下载带批注的检查报告 (xlsx)",
        "en": "Download the annotated report (xlsx)",
    },
    "annotated_note": {
        "zh": "报告即上传的表格,错误单元格标红、警告标黄并附说明,改正后可直接重新上传。",
        "en": "The report is your table with errors in red and warnings in yellow, each explained; correct it and upload it again.",
    },
    "written_values": {"zh": "本次写入的数值", "en": "Values written by this import"},
    "upload_another": {"zh": "再上传一个文件", "en": "Upload another file"},
    "entry_title": {"zh": "逐项填报", "en": "Enter one value"},
    "entry_note": {
        "zh": "比值类指标可只填分子和分母,数值由系统计算。每次修改都记入审计记录,与文件导入同样检查。",
        "en": "For a ratio you may give only the numerator and denominator; the value is computed. Every change is checked like a file row and recorded in the audit trail.",
    },
    "period_hint": {"zh": "如 2025、2025Q2、2025-05", "en": "e.g. 2025, 2025Q2, 2025-05"},
    "save": {"zh": "保存", "en": "Save"},
    "annotated_after_upload": {
        "zh": "试导入不保存任何记录。取消“试导入”再上传一次：有错误时同样不会写入任何数据，并可下载带批注的错误报告。",
        "en": "A dry run keeps no record. Upload again without the dry run: with errors nothing is written either, "
        "and the annotated report can be downloaded.",
    },
    "not_saved": {"zh": "未保存,请更正:", "en": "Not saved; please correct:"},
    "entry_result.applied": {"zh": "已保存:{key}", "en": "Saved: {key}"},
    "entry_result.unchanged": {
        "zh": "与已保存的值相同,未作修改:{key}",
        "en": "Same as the stored value; nothing changed: {key}",
    },
    "current_value": {"zh": "当前值", "en": "Current value"},
    "no_current_value": {"zh": "尚无数值", "en": "No value yet"},
    "value_state": {"zh": "数据状态", "en": "State"},
    "recorded": {"zh": "最近填报", "en": "Last recorded"},
    "field.indicator": {"zh": "指标代码", "en": "Indicator code"},
    "field.division": {"zh": "区划代码", "en": "Division code"},
    "field.period": {"zh": "期间", "en": "Period"},
    "field.value": {"zh": "数值", "en": "Value"},
    "field.numerator": {"zh": "分子", "en": "Numerator"},
    "field.denominator": {"zh": "分母", "en": "Denominator"},
    "field.comment": {"zh": "备注", "en": "Comment"},
    "field.unit": {"zh": "单位", "en": "Unit"},
    "history_title": {"zh": "数值修改记录", "en": "History of a value"},
    "history_note": {
        "zh": "每一次新增、修改、删除都记入带哈希链的审计记录,最新的在前(时间为 UTC)。",
        "en": "Every creation, change and deletion is kept in the hash-chained audit trail, newest first (times in UTC).",
    },
    "history_pick": {
        "zh": "输入指标代码和区划代码(可加期间)查看修改记录。",
        "en": "Give an indicator code and a division code (and a period) to see the changes.",
    },
    "no_history": {"zh": "没有修改记录", "en": "No changes recorded"},
    "change": {"zh": "操作", "en": "Change"},
    "old_new": {"zh": "原值 → 新值", "en": "Old → new"},
    "channel": {"zh": "渠道", "en": "Channel"},
    "import_batch": {"zh": "导入批次", "en": "Import"},
    "forced": {"zh": "补录例外", "en": "lock exception"},
    "correct_value": {"zh": "更正此数值", "en": "Correct this value"},
    "see_history": {"zh": "查看修改记录", "en": "See its history"},
    "approvals_title": {"zh": "审核与上报", "en": "Submission and approval"},
    "approvals_note": {
        "zh": "自下而上审核:区(市)县和部门填完后上报,由市级审核;全部审核通过后,市级最后审核。已上报或已审核的数据不能修改,需先撤回或由上级退回。",
        "en": "Bottom-up: districts and departments submit their year, the city approves each, and approves itself once all are approved. Submitted or approved data cannot be changed until it is withdrawn or un-approved.",
    },
    "approval_unit": {"zh": "单位", "en": "Unit"},
    "unit_kind": {"zh": "类别", "en": "Kind"},
    "approval_state": {"zh": "状态", "en": "State"},
    "changed_by": {"zh": "最近操作人", "en": "Last changed by"},
    "no_units": {"zh": "没有可查看的单位", "en": "No units to show"},
    "approval_action.submit": {"zh": "上报", "en": "Submit"},
    "approval_action.withdraw": {"zh": "撤回", "en": "Withdraw"},
    "approval_action.approve": {"zh": "审核通过", "en": "Approve"},
    "approval_action.unapprove": {"zh": "退回", "en": "Un-approve"},
    "flash.approval": {
        "zh": "{unit} {year} 年:{action}完成,当前状态:{state}",
        "en": "{unit} {year}: {action} done; now {state}",
    },
    # evaluation rounds (年度监测, 中期评估, 总结评估) and qualitative assessments
    "nav_rounds": {"zh": "监测评估", "en": "Evaluation rounds"},
    "rounds_title": {"zh": "监测评估轮次", "en": "Evaluation rounds"},
    "rounds_intro": {
        "zh": "年度监测、中期评估和总结评估发布后即存档:之后数据再有变化,也不会改写已发布的结果;更正须发布新版本。评估只使用已审核的数据。",
        "en": "Annual tracking, the mid-term and the final evaluation are stored when published: later data changes never rewrite them, and a correction is published as a new revision. Only approved values are used.",
    },
    "publish_round": {"zh": "发布评估", "en": "Publish a round"},
    "round_kind": {"zh": "评估类型", "en": "Kind"},
    "round_year_hint": {
        "zh": "可留空:年度监测取最新数据年份,中期评估取规划期中间年份,总结评估取规划期末年。",
        "en": "May be left empty: annual tracking takes the latest year with data, the mid-term the middle year of the plan period, the final evaluation its last year.",
    },
    "note": {"zh": "备注", "en": "Note"},
    "supersede_label": {
        "zh": "更正已发布的同类同年评估(发布新版本,原版本保留)",
        "en": "Correct the published round of this kind and year (a new revision; the old one stays)",
    },
    "publish": {"zh": "发布", "en": "Publish"},
    "no_rounds": {"zh": "尚未发布任何评估", "en": "No round is published yet"},
    "round_id": {"zh": "编号", "en": "Round"},
    "revision": {"zh": "版本", "en": "Revision"},
    "published_at": {"zh": "发布时间", "en": "Published"},
    "published_by": {"zh": "发布人", "en": "Published by"},
    "superseded_by": {"zh": "已被第{id}号更正", "en": "superseded by round {id}"},
    "supersedes": {"zh": "更正第{id}号", "en": "corrects round {id}"},
    "compare_rounds": {"zh": "比较两轮评估", "en": "Compare two rounds"},
    "compare_with": {"zh": "与另一轮比较", "en": "Compare with another round"},
    "compare": {"zh": "比较", "en": "Compare"},
    "round_before": {"zh": "较早的一轮", "en": "Earlier round"},
    "round_after": {"zh": "较晚的一轮", "en": "Later round"},
    "round_snapshot_note": {
        "zh": "本页是发布时存档的评估结果,不随数据更新而变化。",
        "en": "This page shows the round as it was published; later data changes do not alter it.",
    },
    "data_fingerprint": {"zh": "数据指纹 (SHA-256)", "en": "Data fingerprint (SHA-256)"},
    "all_rounds": {"zh": "全部评估轮次", "en": "All rounds"},
    "changed_targets": {"zh": "有变化的目标", "en": "Targets that changed"},
    "added_targets": {"zh": "新增的目标", "en": "Targets added"},
    "removed_targets": {"zh": "移除的目标", "en": "Targets removed"},
    "unchanged_targets": {"zh": "其余 {n} 个目标没有变化。", "en": "The other {n} targets did not change."},
    "what_changed": {"zh": "变化内容", "en": "What changed"},
    "no_changes": {"zh": "两轮评估没有差别。", "en": "The two rounds do not differ."},
    "flash.round_published": {
        "zh": "已发布:{kind} {year}(第{id}号)",
        "en": "Published: {kind} {year} (round {id})",
    },
    "assessments_title": {"zh": "定性评估", "en": "Qualitative assessment"},
    "assessments_note": {
        "zh": "定性目标由评估人依据证据作出判断。每次评估都保留;评估某一年时,以该年及以前最近年份中最后录入的一条为准。",
        "en": "A qualitative target is judged by an assessor on evidence. Every assessment is kept; for a year, the latest one recorded for the latest year up to it counts.",
    },
    "evidence": {"zh": "评估依据", "en": "Evidence"},
    "assessor": {"zh": "评估人", "en": "Assessor"},
    "assessed_on": {"zh": "评估日期", "en": "Date"},
    "recorded_by": {"zh": "录入人", "en": "Entered by"},
    "record_assessment": {"zh": "录入评估", "en": "Record the assessment"},
    "no_assessments": {"zh": "尚无定性评估", "en": "No assessment yet"},
    "assessment_counts": {"zh": "当前有效", "en": "counts now"},
    "flash.assessment_recorded": {
        "zh": "已记录 {year} 年的定性评估",
        "en": "The assessment for {year} is recorded",
    },
    # early warnings (预警) and plan-tree scores
    "nav_warnings": {"zh": "预警", "en": "Warnings"},
    "warnings_title": {"zh": "规划目标预警", "en": "Early warnings of the plan's targets,"},
    "warning_level": {"zh": "预警等级", "en": "Warning level"},
    "all": {"zh": "全部", "en": "All"},
    "warnings_rules": {
        "zh": "红色:约束性指标严重滞后、未完成或预测到期完成概率低于50%;黄色:进度滞后,或预期性指标严重滞后、未完成、预测难以完成。",
        "en": "Red: a binding target seriously lagging, missed or forecast to miss (probability below 50 %);"
        " yellow: lagging, or an expected target seriously lagging, missed or forecast to miss.",
    },
    "no_warnings": {"zh": "本年度没有预警。", "en": "No warnings this year."},
    "forecast_probability": {"zh": "到期完成概率", "en": "Probability of meeting it by the deadline"},
    "projected": {"zh": "预测值", "en": "projected"},
    "interval80": {"zh": "80%区间", "en": "80 % interval"},
    "forecast_line": {"zh": "趋势预测", "en": "Forecast"},
    "forecast_summary": {"zh": "趋势预测", "en": "Forecast"},
    "anticipated_gap": {
        "zh": "预计差距(占所需进展)",
        "en": "anticipated gap (share of the required progress)",
    },
    "forecast_of_value": {"zh": "按指标值预测", "en": "of the indicator's value"},
    "responsible": {"zh": "责任单位", "en": "Responsible"},
    "department_role.lead": {"zh": "牵头单位", "en": "lead department of the task"},
    "department_role.source": {"zh": "指标数据来源部门", "en": "the indicator's source department"},
    "units_warn": {"zh": "个单元预警", "en": "units warn"},
    "warning.red": {"zh": "红色预警", "en": "Red"},
    "warning.yellow": {"zh": "黄色预警", "en": "Yellow"},
    "score": {"zh": "评分", "en": "Score"},
    "score_help": {
        "zh": "−5至+5:下属目标评分的加权平均(已实现+5,未完成−5)",
        "en": "−5 to +5: the weighted mean of the scores of the targets below (achieved +5, missed −5)",
    },
    "score_weights": {"zh": "各下级权重", "en": "Weights of the parts"},
    "evaluable": {"zh": "个可评估", "en": "evaluable"},
    "not_evaluable_count": {"zh": "个无法评估", "en": "not evaluable"},
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

_vocabulary("approval", ApprovalState, {"draft": "being filled in"})
_vocabulary("unit_kind", ApprovalUnitKind)
_vocabulary("audit_action", AuditAction, {"create": "new", "update": "changed", "delete": "deleted"})
_vocabulary("value_status", ValueStatus)
_vocabulary("value_source", ValueSource)
_vocabulary("channel", Channel, {"file": "file import", "api": "API", "page": "web form"})
_vocabulary(
    "round_kind",
    RoundKind,
    {"annual": "annual tracking", "midterm": "mid-term evaluation", "final": "final evaluation"},
)


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for templates; unknown keys show themselves so a gap is visible, not silent."""
    lang = lang if lang in LANGUAGES else "zh"

    def t(key: str) -> str:
        entry = MESSAGES.get(key)
        return entry[lang] if entry else key

    return t
