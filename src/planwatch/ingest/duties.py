"""What a department or a district owes for a year (填报任务): one row per (indicator, division,
period), pre-filled with the current values, as a template to fill in and upload."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import Node
from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.ingest.template import TemplateRow, template_csv, template_xlsx
from planwatch.ingest.validate import BOOLEAN_UNITS, plausible_range
from planwatch.models import DataValue, Department, Indicator
from planwatch.models.enums import Aggregation, Frequency, ValueSource

PERIODS = {
    Frequency.annual: lambda y: [f"{y}"],
    Frequency.quarterly: lambda y: [f"{y}Q{q}" for q in range(1, 5)],
    Frequency.monthly: lambda y: [f"{y}-{m:02d}" for m in range(1, 13)],
}


@dataclass(frozen=True)
class Duty:
    title: str
    filename_stem: str
    rows: list[TemplateRow]


def duties(
    session: Session,
    *,
    year: int,
    principal: Principal,
    department: str | None = None,
    division: str | None = None,
) -> Duty:
    """The rows owed by ``department`` (every division where its indicators are measured) or by
    ``division`` (every indicator measured in it or below it), limited to what the principal may
    report."""
    principal.require(Operation.data_write)
    if (department is None) == (division is None):
        raise InvalidValueError(
            "请指定部门代码或区划（区（市）县）代码，二者选其一。"
            "name either a department or a division (district) code"
        )
    if not 1949 <= year <= 2100:
        raise InvalidValueError(
            f"年份 {year} 超出范围，请填写 1949 至 2100 年之间的年份。year {year} is out of range"
        )
    tree = division_tree(session)
    # values planwatch computes (coverage, request metrics, survey answers) are nobody's to report
    indicators = select(Indicator).where(Indicator.computed_by.is_(None)).order_by(Indicator.code)
    if department is not None:
        dept = session.scalar(select(Department).where(Department.code == department))
        if dept is None:
            raise NotFoundError(
                f"不存在代码为 {department!r} 的部门，请检查部门代码。no department with code {department!r}"
            )
        indicators = indicators.where(Indicator.source_department_id == dept.id)
        if tree.root is None:
            raise NotFoundError("no divisions are loaded; run `planwatch init` first")
        scope = tree.root
        title = f"{dept.name_zh} {year} 年数据填报模板"
        stem = f"{dept.code}-{year}"
    else:
        node = tree.by_code.get(division or "")
        if node is None:
            raise NotFoundError(
                f"不存在代码为 {division!r} 的区划，请检查区划代码。no division with code {division!r}"
            )
        scope = node
        title = f"{node.name_zh} {year} 年数据填报模板"
        stem = f"{node.code}-{year}"
    rows: list[TemplateRow] = []
    current = {
        (v.indicator_id, v.division_id, v.period): v
        for v in session.scalars(
            select(DataValue).where(DataValue.year == year, DataValue.deleted.is_(False))
        )
    }
    for indicator in session.scalars(indicators):
        units: list[Node] = []
        for level in sorted(indicator.level_enums, key=lambda lv: lv.depth):
            if level is scope.level:
                units.append(scope)
            elif level.depth > scope.level.depth:
                units.extend(tree.descendants(scope.id, level=level))
        low, high = plausible_range(indicator)
        for unit in units:
            if not principal.may_report(unit.id, indicator.source_department_id):
                continue
            for period in PERIODS[indicator.frequency](year):
                value = current.get((indicator.id, unit.id, period))
                if value is not None and value.source is not ValueSource.reported:
                    value = None  # simulated demo values are not offered as reported ones
                rows.append(
                    TemplateRow(
                        indicator_code=indicator.code,
                        indicator_name=indicator.name_zh,
                        division_code=unit.code,
                        division_name=unit.name_zh,
                        period=period,
                        unit=indicator.unit,
                        definition=indicator.definition,
                        ratio=indicator.aggregation is Aggregation.ratio,
                        numerator_label=indicator.numerator_label,
                        denominator_label=indicator.denominator_label,
                        low=low,
                        high=high,
                        boolean=indicator.unit in BOOLEAN_UNITS,
                        value=value.value if value else None,
                        numerator=value.numerator if value else None,
                        denominator=value.denominator if value else None,
                        comment=value.comment if value else None,
                    )
                )
    if not rows:
        raise NotFoundError(
            f"{department or division} {year} 年在您的填报范围内没有需要填报的数据"
            "（该处不统计任何指标，或不在您的填报范围内）。"
            f"nothing to report for {department or division} in {year} within your scope "
            "(no indicator is measured there, or it is outside your 填报范围)"
        )
    return Duty(title, stem, rows)


INSTRUCTIONS = (
    "每行是一项应报数据：指标 × 区划 × 期间。只填写白色单元格：数值、分子、分母、备注。",
    "百分比直接写数字：12.5% 写 12.5。比值类指标须同时填写分子和分母，数值可留空由系统计算。",
    "没有数据的行留空即可，上传时会跳过；不要删除或改动代码列。",
    "上传前可先“试导入”(dry run)：系统逐行检查并给出带批注的错误报告，不写入任何数据。",
    "Each row is one value owed: indicator × division × period. Fill in only the white cells.",
)


def template_file(duty: Duty, fmt: str) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of the template in ``fmt`` (xlsx or csv)."""
    if fmt == "xlsx":
        return (
            f"{duty.filename_stem}.xlsx",
            template_xlsx(duty.rows, title=duty.title, instructions=INSTRUCTIONS),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if fmt == "csv":
        return f"{duty.filename_stem}.csv", template_csv(duty.rows), "text/csv; charset=utf-8"
    raise InvalidValueError(
        f"不支持的格式 {fmt!r}，请使用 xlsx 或 csv。unknown format {fmt!r}; use xlsx or csv"
    )


__all__ = ["Duty", "duties", "template_file"]
