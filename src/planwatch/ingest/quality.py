"""Data quality: validation rules (DHIS2-style, stored as data) and the outlier check.

Both warn and never block: a rule can fail for a real reason (a district that reports more cases
than alerts may have had a data-entry change) and z-scores suit roughly normal data only. The
import report shows them as warnings; ``planwatch ingest check --year Y`` lists them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree
from planwatch.ingest.expressions import check_rule, parse_expression
from planwatch.ingest.outliers import outliers
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


MIN_N = 5
"""Fewest other values a sample needs before a value is judged against it. Small samples flag
ordinary data often (measured on normal data, excluding the value: 14 % at 5 values, 4.5 % at 10,
1.2 % at 20), which is one more reason the check only warns."""

Values = dict[tuple[int, str], dict[str, float]]
"""(division id, period) → indicator code → value."""


def _values(session: Session, years: Iterable[int]) -> Values:
    out: Values = defaultdict(dict)
    rows = session.execute(
        select(DataValue.division_id, DataValue.period, DataValue.value, Indicator.code)
        .join(Indicator, Indicator.id == DataValue.indicator_id)
        .where(DataValue.year.in_(list(years)), DataValue.deleted.is_(False), DataValue.value.is_not(None))
    )
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
    session: Session, values: Values, *, only: set[tuple[int, str]] | None = None
) -> list[Violation]:
    """Every failing rule per (division, period) at the rule's levels (optionally only the keys
    in ``only``)."""
    tree = division_tree(session)
    found: list[Violation] = []
    for rule in session.scalars(select(ValidationRule).order_by(ValidationRule.code)):
        left, right = parse_expression(rule.left), parse_expression(rule.right)
        levels = {DivisionLevel(level) for level in rule.levels}
        for (division_id, period), by_code in values.items():
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
    """Values far from the division's own history or from its siblings (same parent, same
    period), by modified z-score; ``only`` limits the check to (division, period, code) keys."""
    tree = division_tree(session)
    history: dict[tuple[int, str], list[tuple[str, float]]] = defaultdict(list)
    siblings: dict[tuple[int | None, str, str], list[tuple[int, float]]] = defaultdict(list)
    for (division_id, period), by_code in values.items():
        node = tree.nodes.get(division_id)
        parent = node.parent_id if node else None
        for code, value in by_code.items():
            history[(division_id, code)].append((period, value))
            siblings[(parent, period, code)].append((division_id, value))
    found: list[Violation] = []
    for (division_id, period), by_code in values.items():
        node = tree.nodes.get(division_id)
        if node is None:
            continue
        for code, value in by_code.items():
            if only is not None and (division_id, period, code) not in only:
                continue
            own = [v for p, v in history[(division_id, code)] if p != period and len(p) == len(period)]
            others = [v for d, v in siblings[(node.parent_id, period, code)] if d != division_id]
            for outlier in outliers(value, history=own, siblings=others, threshold=threshold, min_n=MIN_N):
                basis = (
                    "its own other periods"
                    if outlier.basis == "history"
                    else "the other units under the same parent"
                )
                found.append(
                    Violation(
                        "outlier",
                        code,
                        "medium",
                        node.code,
                        node.name_zh,
                        period,
                        f"{code} = {value:g} is far from {basis} (median {outlier.median:g}, modified z = "
                        f"{outlier.z:.1f}, n = {outlier.n}); check it is right and in the right unit",
                    )
                )
    return found


def check_year(session: Session, year: int, *, threshold: float) -> list[Violation]:
    """Every rule violation and outlier among the values of ``year`` (history from all years)."""
    values = _values(session, range(year - 10, year + 11))
    in_year = {key for key in values if key[1][:4] == str(year)}
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
    values = _overlay(_values(session, range(min(years) - 10, max(years) + 11)), changes)
    rows_by_key = {(c.division_id, c.period, c.indicator_code): c for c in changes}
    first: dict[tuple[int, str], ValueChange] = {}
    for change in changes:
        first.setdefault((change.division_id, change.period), change)
    out: list[CellProblem] = []
    for v in rule_violations(session, values, only=set(first)):
        change = first[(tree.by_code[v.division_code].id, v.period)]
        out.append(CellProblem(change.row or 0, None, "", v.message, "warning"))
    for v in outlier_violations(session, values, threshold=threshold, only=set(rows_by_key)):
        change = rows_by_key[(tree.by_code[v.division_code].id, v.period, v.code)]
        shown = "" if change.value is None else f"{change.value:g}"
        out.append(CellProblem(change.row or 0, "value", shown, v.message, "warning"))
    return sorted(out, key=lambda p: p.row)
