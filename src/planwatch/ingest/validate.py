"""Row-by-row validation of a data table against the catalogue, the division tree and the
reporter's scope. Nothing is written here; every problem names its row, column and value and
says what to do.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.accounts.principal import Principal
from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import DivisionTree, Node
from planwatch.ingest.numbers import NumberError, ParsedNumber, parse_number
from planwatch.ingest.periods import PeriodError, normalise_period
from planwatch.ingest.readers import FormulaCell, RawRow, Table
from planwatch.ingest.report import CellProblem
from planwatch.ingest.writer import KEEP, ValueChange
from planwatch.models import Indicator
from planwatch.models.enums import Aggregation, DivisionLevel, Frequency

BOOLEAN_UNITS = frozenset({"是/否(1/0)"})
MAX_COMMENT = 2000
RATIO_TOLERANCE = 0.005
"""A value given beside its numerator and denominator may differ from num/den × factor by this
share (or 0.01 absolute), to allow for rounding in the spreadsheet."""


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")


@dataclass(frozen=True)
class IndicatorSpec:
    """What validation needs to know of an indicator (a plain copy, cheap to look up)."""

    id: int
    code: str
    name: str
    unit: str
    frequency: Frequency
    levels: frozenset[DivisionLevel]
    ratio: bool
    factor: float
    department_id: int | None
    low: float | None
    high: float | None
    share: bool
    """A ratio that is a share of a whole (%, factor 100): numerator <= denominator."""
    boolean: bool

    @classmethod
    def of(cls, indicator: Indicator) -> IndicatorSpec:
        ratio = indicator.aggregation is Aggregation.ratio
        factor = indicator.factor or 1.0
        low, high = plausible_range(indicator)
        return cls(
            id=indicator.id,
            code=indicator.code,
            name=indicator.name_zh,
            unit=indicator.unit,
            frequency=indicator.frequency,
            levels=frozenset(indicator.level_enums),
            ratio=ratio,
            factor=factor,
            department_id=indicator.source_department_id,
            low=low,
            high=high,
            share=ratio and factor == 100 and indicator.unit.strip() in {"%", "％"},
            boolean=indicator.unit in BOOLEAN_UNITS,
        )


def plausible_range(indicator: Indicator) -> tuple[float | None, float | None]:
    """Bounds outside which a value is refused: yes/no is 0 or 1, a share 0-100 %, a discount
    (折) 0-10, every other quantity of the catalogue (counts, areas, rates per population) is not
    negative; a percentage that is not a share (a growth rate) is unbounded."""
    unit = indicator.unit.strip()
    if unit in BOOLEAN_UNITS:
        return (0.0, 1.0)
    if unit in {"%", "％"}:
        if indicator.aggregation is Aggregation.ratio and (indicator.factor or 1) == 100:
            return (0.0, 100.0)
        return (None, None)
    if unit == "折":
        return (0.0, 10.0)
    return (0.0, None)


@dataclass
class Catalogue:
    """Indicators and divisions by code, for validating many rows fast."""

    indicators: dict[str, IndicatorSpec]
    names: dict[str, str]
    """Normalised indicator name → code, to suggest the code when a name was written."""
    tree: DivisionTree
    division_names: dict[str, list[Node]]

    @classmethod
    def load(cls, session: Session) -> Catalogue:
        indicators = {i.code: IndicatorSpec.of(i) for i in session.scalars(select(Indicator))}
        tree = division_tree(session)
        names: dict[str, list[Node]] = {}
        for node in tree.nodes.values():
            names.setdefault(node.name_zh, []).append(node)
        return cls(indicators, {_norm(s.name): s.code for s in indicators.values()}, tree, names)


@dataclass
class Validated:
    changes: list[ValueChange] = field(default_factory=list)
    problems: list[CellProblem] = field(default_factory=list)
    blank: int = 0
    """Rows with no value at all (unfilled template rows): skipped."""

    @property
    def errors(self) -> list[CellProblem]:
        return [p for p in self.problems if p.severity == "error"]


def _cached_period(
    cache: dict[tuple[type, object, Frequency], str], raw: object, frequency: Frequency
) -> str:
    """``normalise_period``, remembered per (type, cell, frequency): the type keeps 2025 apart from
    2025.0 (and True from 1), which are quoted differently when wrong."""
    if raw.__hash__ is None:
        return normalise_period(raw, frequency)
    key = (type(raw), raw, frequency)
    period = cache.get(key)
    if period is None:
        period = cache[key] = normalise_period(raw, frequency)
    return period


def _cached_norm(cache: dict[str, str], text: str) -> str:
    normalised = cache.get(text)
    if normalised is None:
        normalised = cache[text] = _norm(text)
    return normalised


def _text(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, FormulaCell):
        return raw.formula
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    if isinstance(raw, float):
        return f"{raw:g}"
    return str(raw).strip()


class _Row:
    """Problems of one row, collected with the row number."""

    def __init__(self, row: RawRow, problems: list[CellProblem]) -> None:
        self.number = row.number
        self.problems = problems
        self.failed = False

    def error(self, column: str | None, raw: object, message: str) -> None:
        self.problems.append(CellProblem(self.number, column, _text(raw), message))
        self.failed = True


def _number(row: _Row, column: str, raw: object, spec: IndicatorSpec) -> float | None:
    if isinstance(raw, FormulaCell):
        row.error(
            column,
            raw,
            f"公式 {raw.formula} 没有保存计算结果，请在 Excel 中打开文件并保存，或选择性粘贴为数值。"
            f"the formula {raw.formula} has no stored result; open the file in Excel and save it, "
            "or paste the values (选择性粘贴为数值)",
        )
        return None
    try:
        parsed: ParsedNumber | None = parse_number(raw)
    except NumberError as exc:
        row.error(column, raw, exc.message)
        return None
    if parsed is None:
        return None
    if parsed.percent and spec.unit.strip() not in {"%", "％"}:
        row.error(
            column,
            raw,
            f"{spec.code} 的单位是 {spec.unit}，不是百分比，请直接填写数字，不要带 %。"
            f"written as a percentage but {spec.code} is measured in {spec.unit}; write the plain number",
        )
        return None
    return parsed.value


MAX_MAGNITUDE = 1e15
"""No indicator of a city plan comes near this: a larger number is a slip (an ID, a pasted total)."""


def _check_bounds(row: _Row, column: str, raw: object, value: float, spec: IndicatorSpec) -> None:
    if abs(value) >= MAX_MAGNITUDE:
        row.error(
            column,
            raw,
            f"{value:g} 远超 {spec.code}（{spec.unit}）的合理数值，请检查该单元格。"
            f"{value:g} is implausibly large for {spec.code} ({spec.unit}); check the cell",
        )
    elif spec.boolean and value not in (0.0, 1.0):
        row.error(
            column,
            raw,
            f"{spec.code} 是“是/否”指标（{spec.unit}），请填写 1（是）或 0（否）。"
            f"{spec.code} is yes/no ({spec.unit}): write 1 for yes or 0 for no",
        )
    elif spec.low is not None and value < spec.low:
        what = "a count or amount" if spec.low == 0 else f"{spec.code}"
        what_zh = "计数或数量" if spec.low == 0 else f"{spec.code} "
        row.error(
            column,
            raw,
            f"{what_zh}不能小于 {spec.low:g}（{spec.unit}），请检查正负号。"
            f"{what} cannot be below {spec.low:g} ({spec.unit}); check the sign",
        )
    elif spec.high is not None and value > spec.high:
        row.error(
            column,
            raw,
            f"{spec.code} 不能超过 {spec.high:g} {spec.unit}，请检查数字和单位。"
            f"{spec.code} cannot exceed {spec.high:g} {spec.unit}; check the number and unit",
        )


def validate_table(
    table: Table,
    catalogue: Catalogue,
    *,
    principal: Principal,
) -> Validated:
    """Check every row; collect changes for the good rows and problems for the rest."""
    out = Validated()
    idx = {
        name: table.index(name)
        for name in (
            "indicator",
            "division",
            "period",
            "value",
            "numerator",
            "denominator",
            "unit",
            "comment",
        )
    }
    has_comment = idx["comment"] is not None
    seen: dict[tuple[int, int, str], int] = {}
    # a file repeats a few periods and units over many rows: each is read once
    periods: dict[tuple[type, object, Frequency], str] = {}
    units: dict[str, str] = {}

    def cell(raw_row: RawRow, name: str) -> Any:
        i = idx[name]
        return raw_row.cells[i] if i is not None and i < len(raw_row.cells) else None

    for raw_row in table.rows:
        raw_value, raw_num, raw_den = (
            cell(raw_row, "value"),
            cell(raw_row, "numerator"),
            cell(raw_row, "denominator"),
        )
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in (raw_value, raw_num, raw_den)):
            out.blank += 1
            continue
        row = _Row(raw_row, out.problems)
        spec = _indicator(row, cell(raw_row, "indicator"), catalogue)
        node = _division(row, cell(raw_row, "division"), catalogue)
        period = None
        if spec is not None:
            raw_period = cell(raw_row, "period")
            try:
                period = (
                    _cached_period(periods, raw_period, spec.frequency)
                    if raw_period not in (None, "")
                    else None
                )
                if period is None:
                    row.error(
                        "period",
                        raw_period,
                        "缺少期间，请按 2025 的格式填写。the period is missing; write it like 2025",
                    )
            except PeriodError as exc:
                row.error("period", raw_period, exc.message)
            raw_unit = cell(raw_row, "unit")
            if raw_unit not in (None, "") and _cached_norm(units, str(raw_unit)) != _cached_norm(
                units, spec.unit
            ):
                row.error(
                    "unit",
                    raw_unit,
                    f"{spec.code} 的单位应为 {spec.unit}，不是 {raw_unit}，请将数值换算为 {spec.unit} 并更正单位"
                    "（或保留模板中的单位）。"
                    f"{spec.code} is reported in {spec.unit}, not {raw_unit}; convert the value to {spec.unit} "
                    "and correct the unit (or leave 单位 as the template has it)",
                )
        if spec is not None and node is not None:
            if node.level not in spec.levels:
                levels = "/".join(level.zh for level in sorted(spec.levels, key=lambda lv: lv.depth))
                row.error(
                    "division",
                    cell(raw_row, "division"),
                    f"{spec.code} 按{levels}填报，{node.name_zh}（{node.code}）是{node.level.zh}，"
                    f"请填写{levels}代码。"
                    f"{spec.code} is reported per {levels}, and {node.name_zh} ({node.code}) is a "
                    f"{node.level.zh}; use a {levels} code",
                )
            elif not principal.may_report(node.id, spec.department_id):
                row.error(
                    "division",
                    cell(raw_row, "division"),
                    f"{node.name_zh}（{node.code}）不在您的填报范围内，不能填报 {spec.code}；"
                    "请联系安全管理员，或删除该行。"
                    f"you may not report {spec.code} for {node.name_zh} ({node.code}): it is outside your "
                    "scope (填报范围); ask the security administrator, or remove the row",
                )
        value = numerator = denominator = None
        if spec is not None:
            value = _number(row, "value", raw_value, spec)
            numerator = _number(row, "numerator", raw_num, spec)
            denominator = _number(row, "denominator", raw_den, spec)
            value = _ratio(row, spec, raw_row, cell, value, numerator, denominator)
            if value is not None and not row.failed:
                _check_bounds(row, "value", raw_value if raw_value not in (None, "") else "", value, spec)
        comment: str | object | None = KEEP
        if has_comment:
            raw_comment = cell(raw_row, "comment")
            comment = _text(raw_comment) or None
            if comment is not None and len(str(comment)) > MAX_COMMENT:
                row.error(
                    "comment",
                    "",
                    f"备注有 {len(str(comment))} 个字符，请精简到 {MAX_COMMENT} 个字符以内。"
                    f"the comment has {len(str(comment))} characters; keep it under {MAX_COMMENT}",
                )
        if spec is None or node is None or period is None:
            continue
        key = (spec.id, node.id, period)
        if key in seen:  # also when either copy has other problems: one round trip shows both
            row.error(
                "period",
                cell(raw_row, "period"),
                f"{spec.code} / {node.code} / {period} 已在第 {seen[key]} 行填报，请只保留其中一行。"
                f"{spec.code} / {node.code} / {period} is already given in row {seen[key]}; keep one of the two rows",
            )
            continue
        seen[key] = raw_row.number
        if row.failed:
            continue
        out.changes.append(
            ValueChange(
                indicator_id=spec.id,
                indicator_code=spec.code,
                division_id=node.id,
                division_code=node.code,
                period=period,
                value=value,
                numerator=numerator,
                denominator=denominator,
                comment=comment,  # type: ignore[arg-type]
                row=raw_row.number,
            )
        )
    return out


def _indicator(row: _Row, raw: object, catalogue: Catalogue) -> IndicatorSpec | None:
    code = _text(raw)
    if not code:
        row.error(
            "indicator",
            raw,
            "缺少指标代码，请从模板中复制。the indicator code (指标代码) is missing; copy it from the template",
        )
        return None
    spec = catalogue.indicators.get(code)
    if spec is not None:
        return spec
    by_name = catalogue.names.get(_norm(code))
    hint = (
        f"that is the name of {by_name}; write the code {by_name}"
        if by_name
        else "use a code from the template (指标代码)"
    )
    hint_zh = f"这是 {by_name} 的名称，请填写代码 {by_name}" if by_name else "请使用模板中的指标代码"
    row.error(
        "indicator", raw, f"不存在代码为 {code!r} 的指标，{hint_zh}。no indicator with code {code!r}; {hint}"
    )
    return None


def _division(row: _Row, raw: object, catalogue: Catalogue) -> Node | None:
    code = _text(raw)
    if not code:
        row.error(
            "division",
            raw,
            "缺少区划代码，请从模板中复制。the division code (区划代码) is missing; copy it from the template",
        )
        return None
    node = catalogue.tree.by_code.get(code)
    if node is not None:
        return node
    named = catalogue.division_names.get(code, [])
    if len(named) == 1:
        hint = f"that is the name of {named[0].code}; write the code {named[0].code}"
        hint_zh = f"这是 {named[0].code} 的名称，请填写代码 {named[0].code}"
    elif named:
        hint = f"several divisions are called {code}: {', '.join(n.code for n in named[:5])}; write the code"
        hint_zh = f"有多个区划名为 {code}（{', '.join(n.code for n in named[:5])}），请填写代码"
    else:
        hint_zh = "请从模板中复制区划代码（区（市）县为 6 位，街道（镇）为 9 位，社区（村）为 12 位）"
        hint = (
            "copy the code from the template (区划代码: 6 digits for a district, 9 for a street or town, "
            "12 for a community)"
        )
    row.error(
        "division", raw, f"不存在代码为 {code!r} 的区划，{hint_zh}。no division with code {code!r}; {hint}"
    )
    return None


def _ratio(
    row: _Row,
    spec: IndicatorSpec,
    raw_row: RawRow,
    cell: Callable[[RawRow, str], Any],
    value: float | None,
    numerator: float | None,
    denominator: float | None,
) -> float | None:
    if not spec.ratio:
        for name, number in (("numerator", numerator), ("denominator", denominator)):
            if number is not None:
                row.error(
                    name,
                    cell(raw_row, name),
                    f"{spec.code} 不是比值类指标，请将分子和分母留空。"
                    f"{spec.code} is not a ratio; leave 分子 and 分母 empty",
                )
        return value
    if numerator is None or denominator is None:
        if row.failed:
            return value
        missing = "分子 (numerator)" if numerator is None else "分母 (denominator)"
        missing_zh = "分子" if numerator is None else "分母"
        row.error(
            "numerator" if numerator is None else "denominator",
            "",
            f"{spec.code} 是比值类指标，须同时填写分子和分母，以便跨区划汇总（Σ分子/Σ分母）；"
            f"现缺少{missing_zh}，请补填。"
            f"{spec.code} is a ratio: give both 分子 and 分母 so it adds up across divisions "
            f"(Σ分子/Σ分母); {missing} is missing",
        )
        return value
    if numerator < 0:
        row.error(
            "numerator",
            cell(raw_row, "numerator"),
            "分子不能为负数，请检查正负号。the numerator cannot be negative",
        )
    if denominator <= 0:
        row.error(
            "denominator",
            cell(raw_row, "denominator"),
            "分母必须大于 0，请检查分母。the denominator must be greater than 0",
        )
        return value
    if spec.share and numerator > denominator:
        row.error(
            "numerator",
            cell(raw_row, "numerator"),
            f"分子（{numerator:g}）大于分母（{denominator:g}），占比不能超过 100%，请检查。"
            f"the numerator ({numerator:g}) exceeds the denominator ({denominator:g}); a share cannot pass 100 %",
        )
    computed = numerator / denominator * spec.factor
    if value is None:
        return computed
    if not math.isclose(value, computed, rel_tol=RATIO_TOLERANCE, abs_tol=0.01):
        row.error(
            "value",
            cell(raw_row, "value"),
            f"数值 {value:g} 与 分子/分母 × {spec.factor:g} = {computed:.4g} 不符，请更正其中一项，"
            "或将数值留空由系统计算。"
            f"the value {value:g} does not match 分子/分母 × {spec.factor:g} = {computed:.4g}; correct one of "
            "them, or leave 数值 empty to have it computed",
        )
    return value
