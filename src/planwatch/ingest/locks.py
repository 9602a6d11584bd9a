"""Which cells may be written now: approval locks and entry deadlines [LCK-1, LCK-2].

A value (indicator, division, period) is closed when
- any approval unit covering it is submitted or approved for the period's year: the division
  itself or any division above it, or the department that reports the indicator; or
- its period ended more than ``expiry_days`` ago (the department's, else the setting), unless a
  lock exception (granted for exactly that cell, not revoked, not expired) reopens it; or
- its period has not begun (values are reported for periods that have started).

Every write path calls ``closed_cells`` after taking the data lock (``audit.chain.lock``), so an
approval cannot slip in between the check and the write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.clock import as_utc
from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import DivisionTree
from planwatch.ingest.periods import period_bounds
from planwatch.models import Approval, Department, Indicator, LockException
from planwatch.models.enums import ApprovalState, ApprovalUnitKind

APPROVED = "APPROVED"
SUBMITTED = "SUBMITTED"
PERIOD_EXPIRED = "PERIOD_EXPIRED"
PERIOD_NOT_STARTED = "PERIOD_NOT_STARTED"
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Periods begin and end on Beijing time (no daylight saving)."""


@dataclass(frozen=True)
class Cell:
    indicator_id: int
    division_id: int
    period: str


@dataclass(frozen=True)
class Closed:
    code: str
    message: str


@dataclass(frozen=True)
class CellVerdict:
    closed: Closed | None
    forced: bool
    """Open only thanks to a lock exception (the write is audited as forced)."""


def _deadline(end_day: datetime, days: int) -> datetime:
    """Entry closes at the end of the ``days``-th day after the period's last day."""
    return end_day + timedelta(days=days + 1)


def covering_units(
    tree: DivisionTree, division_id: int, department_id: int | None
) -> list[tuple[ApprovalUnitKind, int]]:
    """The approval units a value of ``division_id`` reported by ``department_id`` falls under,
    nearest first: its division and every division above it, then the reporting department."""
    units = [(ApprovalUnitKind.division, node.id) for node in reversed(tree.path(division_id))]
    if department_id is not None:
        units.append((ApprovalUnitKind.department, department_id))
    return units


def closed_cells(
    session: Session, cells: Iterable[Cell], *, now: datetime, default_expiry_days: int
) -> dict[Cell, CellVerdict]:
    """A verdict for every cell given (open cells included, with ``closed=None``)."""
    cells = list(dict.fromkeys(cells))
    if not cells:
        return {}
    now = as_utc(now)
    tree = division_tree(session)
    years = {int(c.period[:4]) for c in cells}
    approvals = {
        (a.unit_kind, a.division_id or a.department_id, a.year): a
        for a in session.scalars(
            select(Approval).where(Approval.year.in_(years), Approval.state != ApprovalState.draft)
        )
    }
    indicator_ids = {c.indicator_id for c in cells}
    indicators = {
        i.id: (i.source_department_id, i.code)
        for i in session.execute(
            select(Indicator.id, Indicator.source_department_id, Indicator.code).where(
                Indicator.id.in_(indicator_ids)
            )
        )
    }
    departments = {
        d.id: (d.code, d.expiry_days)
        for d in session.execute(select(Department.id, Department.code, Department.expiry_days))
    }
    exceptions: dict[tuple[int, int, str], LockException] = {}
    for exception in session.scalars(
        select(LockException).where(
            LockException.indicator_id.in_(indicator_ids), LockException.revoked_at.is_(None)
        )
    ):
        if exception.expires_at is None or as_utc(exception.expires_at) > now:
            exceptions[(exception.indicator_id, exception.division_id, exception.period)] = exception
    verdicts: dict[Cell, CellVerdict] = {}
    # many cells share a division, a department and a period: judge each combination once
    by_unit: dict[tuple[int, int | None, int], Closed | None] = {}
    by_window: dict[tuple[str, int | None, str], Closed | None] = {}

    def approval_verdict(division_id: int, department_id: int | None, year: int) -> Closed | None:
        for kind, unit_id in covering_units(tree, division_id, department_id):
            approval = approvals.get((kind, unit_id, year))
            if approval is None:
                continue
            if kind is ApprovalUnitKind.division:
                node = tree.nodes[unit_id]
                label, label_zh = f"{node.name_zh} ({node.code})", f"{node.name_zh}（{node.code}）"
            else:
                code = departments.get(unit_id, ("?", None))[0]
                label, label_zh = f"department {code}", f"部门 {code}"
            if approval.state is ApprovalState.approved:
                return Closed(
                    APPROVED,
                    f"{label_zh} {year} 年数据已审核并锁定，如需修改，须由上级撤销审核。"
                    f"{label} is approved (已审核) for {year}; the data is locked until a higher "
                    "level un-approves it",
                )
            return Closed(
                SUBMITTED,
                f"{label_zh} 已上报 {year} 年数据待审核，如需修改数值，请先撤回上报。"
                f"{label} has submitted (已上报) {year} for approval; withdraw the submission to change values",
            )
        return None

    def window_verdict(period: str, department_id: int | None, indicator_code: str) -> Closed | None:
        start, end = period_bounds(period)
        expiry = departments.get(department_id, (None, None))[1] if department_id else None
        days = default_expiry_days if expiry is None else expiry
        opens = datetime(start.year, start.month, start.day, tzinfo=CHINA)
        closes = _deadline(datetime(end.year, end.month, end.day, tzinfo=CHINA), days)
        if now < opens:
            return Closed(
                PERIOD_NOT_STARTED,
                f"{period} 期间尚未开始，请在期间开始后再填报。"
                f"period {period} has not begun; values are reported once it starts",
            )
        if now >= closes:
            return Closed(
                PERIOD_EXPIRED,
                f"{indicator_code} {period} 的填报已于 {(closes - timedelta(days=1)).date()} 截止"
                f"（期间结束后 {days} 天）；如需修改该单元格，请向规划人员申请补录例外。"
                f"entry for {indicator_code} {period} closed after {(closes - timedelta(days=1)).date()} "
                f"({days} days after the period ended); ask a planner for a lock exception "
                "(补录例外) for this cell",
            )
        return None

    for cell in cells:
        year = int(cell.period[:4])
        department_id, indicator_code = indicators.get(cell.indicator_id, (None, "?"))
        closed: Closed | None = None
        forced = False
        if approvals:
            unit_key = (cell.division_id, department_id, year)
            if unit_key not in by_unit:
                by_unit[unit_key] = approval_verdict(cell.division_id, department_id, year)
            closed = by_unit[unit_key]
        if closed is None:
            window_key = (cell.period, department_id, indicator_code)
            if window_key not in by_window:
                by_window[window_key] = window_verdict(cell.period, department_id, indicator_code)
            closed = by_window[window_key]
            if (
                closed is not None
                and closed.code == PERIOD_EXPIRED
                and (cell.indicator_id, cell.division_id, cell.period) in exceptions
            ):
                closed, forced = None, True
        verdicts[cell] = CellVerdict(closed, forced)
    return verdicts
