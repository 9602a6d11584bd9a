"""Data quality: validation rules (DHIS2-style, stored as data) and the outlier check.

Both warn and never block: a rule can fail for a real reason (a district that reports more cases
than alerts may have had a data-entry change) and z-scores suit roughly normal data only. The
import report shows them as warnings; ``planwatch ingest check --year Y`` lists them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree
from planwatch.ingest.expressions import check_rule, parse_expression
from planwatch.ingest.outliers import outliers_many
from planwatch.ingest.report import CellProblem
from planwatch.ingest.writer import ValueChange
from planwatch.models import DataValue, Indicator, ValidationRule
from planwatch.models.enums import DivisionLevel


@dataclass(frozen=True)
class Violation:
    kind: str
    """``rule`` or ``outlier``."""
    code: str
    """The rule's code, or the indicator's code for an outlier."""
    importance: str
    division_code: str
    division_name: str
    period: str
    message: str


SAMPLE_MIN = 5
"""Fewest other values a sample needs before a value is judged against it. Small samples flag
ordinary data often (measured on normal data, excluding the value: 14 % at 5 values, 4.5 % at 10,
1.2 % at 20), which is one more reason the check only warns."""

Values = dict[tuple[int, str], dict[str, float]]
"""(division id, period) → indicator code → value."""


def _values(session: Session, years: Iterable[int], codes: set[str] | None = None) -> Values:
    """Stored values of ``years`` (of the indicators ``codes`` only, if given)."""
    out: Values = defaultdict(dict)
    query = (
        select(DataValue.division_id, DataValue.period, DataValue.value, Indicator.code)
        .join(Indicator, Indicator.id == DataValue.indicator_id)
        .where(DataValue.year.in_(list(years)), DataValue.deleted.is_(False), DataValue.value.is_not(None))
    )
    if codes is not None:
        query = query.where(Indicator.code.in_(codes))
    rows = session.execute(query)
    for division_id, period, value, code in rows:
        if value is not None:
            out[(division_id, period)][code] = value
    return out


def _overlay(values: Values, changes: Iterable[ValueChange]) -> Values:
    for change in changes:
        if change.value is not None:
            values[(change.division_id, change.period)][change.indicator_code] = change.value
    return values


def rule_violations(
    session: Session,
    values: Values,
    *,
    only: set[tuple[int, str]] | None = None,
    touching: set[str] | None = None,
) -> list[Violation]:
    """Every failing rule per (division, period) at the rule's levels (optionally only the keys
    in ``only``)."""
    tree = division_tree(session)
    found: list[Violation] = []
    for rule in session.scalars(select(ValidationRule).order_by(ValidationRule.code)):
        left, right = parse_expression(rule.left), parse_expression(rule.right)
        levels = {DivisionLevel(level) for level in rule.levels}
        refs = left.refs | right.refs
        if touching is not None and refs.isdisjoint(touching):
            continue  # about other indicators than the ones being written
        for (division_id, period), by_code in values.items():
            if refs.isdisjoint(by_code) and rule.missing != "never_skip":
                continue  # none of its values: skipped, or for pairs passed
            node = tree.nodes.get(division_id)
            if (
                node is None
                or node.level not in levels
                or (only is not None and (division_id, period) not in only)
            ):
                continue
            outcome = check_rule(left, rule.operator, right, by_code, missing=rule.missing)
            if outcome.passed is False:
                shown = f"{_num(outcome.left)} {rule.operator} {_num(outcome.right)}"
                advice = f"; {rule.instruction}" if rule.instruction else ""
                found.append(
                    Violation(
                        "rule",
                        rule.code,
                        rule.importance.value,
                        node.code,
                        node.name_zh,
                        period,
                        f"未通过校验规则 {rule.code}「{rule.name_zh}」（{shown}），请核对（仅为提示，不影响导入）。"
                        f"validation rule {rule.code} ({rule.name_zh}) fails: {rule.left} {rule.operator} "
                        f"{rule.right} is {shown}{advice}",
                    )
                )
    return found


def _num(value: float | None) -> str:
    return "missing" if value is None else f"{value:g}"


def outlier_violations(
    session: Session, values: Values, *, threshold: float, only: set[tuple[int, str, str]] | None = None
) -> list[Violation]:
    """Values far from the division's own history (its other periods of the same kind) or from its
    siblings (the other units under the same parent, same period), by modified z-score, for the
    whole batch at once; ``only`` limits the findings to (division, period, code) keys.

    The message shows the division's own median, never its siblings' values (a district reporter
    must not learn other districts' figures from a warning).
    """
    tree = division_tree(session)
    keys = [(d, p, code) for (d, p), by_code in values.items() for code in by_code]
    if not keys:
        return []
    frame = pd.DataFrame(keys, columns=["division", "period", "code"])
    frame["value"] = [values[(d, p)][code] for d, p, code in keys]
    parents = {node.id: node.parent_id if node.parent_id is not None else -1 for node in tree.nodes.values()}
    frame["parent"] = frame["division"].map(parents).fillna(-2).astype(int)
    frame["kind"] = frame["period"].str.len()  # 2025, 2025Q2, 2025-05: compare like with like
    numbers = frame["value"].to_numpy(dtype=float)
    history = outliers_many(
        numbers, frame[["division", "code", "kind"]].to_numpy(dtype=object), min_n=SAMPLE_MIN
    )
    siblings = outliers_many(
        numbers, frame[["parent", "period", "code"]].to_numpy(dtype=object), min_n=SAMPLE_MIN
    )
    with np.errstate(invalid="ignore"):
        flagged = np.flatnonzero((np.abs(history) > threshold) | (np.abs(siblings) > threshold))
    found: list[Violation] = []
    series: dict[tuple[int, str, int], list[tuple[str, float]]] = defaultdict(list)
    if len(flagged):
        for d, p, code in keys:
            series[(d, code, len(p))].append((p, values[(d, p)][code]))
    for i in flagged:
        division_id, period, code = keys[i]
        node = tree.nodes.get(division_id)
        if node is None or (only is not None and (division_id, period, code) not in only):
            continue
        value = float(numbers[i])
        reasons: list[str] = []
        reasons_zh: list[str] = []
        if abs(history[i]) > threshold:
            own = [v for p, v in series[(division_id, code, len(period))] if p != period]
            median = float(np.median(own))
            reasons.append(f"its own other periods (median {median:g}, modified z = {history[i]:.1f})")
            reasons_zh.append(f"本单位其他期数据（中位数 {median:g}）")
        if abs(siblings[i]) > threshold:
            reasons.append(f"the other units under the same parent (modified z = {siblings[i]:.1f})")
            reasons_zh.append("同级其他单位的数据")
        found.append(
            Violation(
                "outlier",
                code,
                "medium",
                node.code,
                node.name_zh,
                period,
                f"{code} = {value:g} 明显偏离{'和'.join(reasons_zh)}，疑似异常值，请核对数值和单位"
                f"（仅为提示，不影响导入）。{code} = {value:g} is far from {' and from '.join(reasons)}; check "
                "it is right and in the right unit (a warning: nothing is refused)",
            )
        )
    return found


def check_year(
    session: Session, year: int, *, threshold: float, view: frozenset[int] | None = None
) -> list[Violation]:
    """Every rule violation and outlier among the values of ``year`` (history from ten years on
    either side), in the divisions of ``view`` (None: everywhere, for the operator at the server)."""
    values = _values(session, range(year - 10, year + 11))
    in_year = {key for key in values if key[1][:4] == str(year) and (view is None or key[0] in view)}
    rules = rule_violations(session, values, only=in_year)
    only = {(d, p, code) for (d, p) in in_year for code in values[(d, p)]}
    return rules + outlier_violations(session, values, threshold=threshold, only=only)


def warnings_for(session: Session, changes: list[ValueChange], *, threshold: float) -> list[CellProblem]:
    """Warnings for a batch about to be written, on the rows they concern: rules and outliers
    judged on the database's values with the batch laid over them."""
    if not changes:
        return []
    tree = division_tree(session)
    years = {int(c.period[:4]) for c in changes}
    written = {c.indicator_code for c in changes}
    codes = set(written)
    for rule in session.scalars(select(ValidationRule)):  # rules on these indicators need their partners
        refs = parse_expression(rule.left).refs | parse_expression(rule.right).refs
        if not refs.isdisjoint(written):
            codes |= refs
    values = _overlay(_values(session, range(min(years) - 10, max(years) + 11), codes), changes)
    rows_by_key = {(c.division_id, c.period, c.indicator_code): c for c in changes}
    first: dict[tuple[int, str], ValueChange] = {}
    for change in changes:
        first.setdefault((change.division_id, change.period), change)
    out: list[CellProblem] = []
    for v in rule_violations(session, values, only=set(first), touching=written):
        change = first[(tree.by_code[v.division_code].id, v.period)]
        out.append(CellProblem(change.row or 0, None, "", v.message, "warning"))
    for v in outlier_violations(session, values, threshold=threshold, only=set(rows_by_key)):
        change = rows_by_key[(tree.by_code[v.division_code].id, v.period, v.code)]
        shown = "" if change.value is None else f"{change.value:g}"
        out.append(CellProblem(change.row or 0, "value", shown, v.message, "warning"))
    return sorted(out, key=lambda p: p.row)
