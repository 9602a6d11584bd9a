"""Data approval, bottom-up (DHIS2): per unit and year, draft → submitted → approved [LCK-2].

Units are the city, its districts (区(市)县) and the departments that report indicators. A unit's
reporters submit its year; someone one level up (capture scope over the unit's parent: the city's
planners for districts and departments) approves or returns it. The city approves itself last,
once every district and department under it is approved. Submitted and approved data refuse
writes on every path; a unit can be un-approved only while the level above has not approved.
Every transition is recorded in the security log and refreshes the status of the values it covers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.audit.chain import lock
from planwatch.audit.security_log import record
from planwatch.divisions.service import division_tree
from planwatch.errors import ConflictError, InvalidValueError, NotFoundError, OutOfScopeError
from planwatch.ingest.locks import covering_units
from planwatch.ingest.writer import CHAIN
from planwatch.models import Approval, DataValue, Department, Indicator
from planwatch.models.enums import ApprovalState, ApprovalUnitKind, DivisionLevel, ValueSource, ValueStatus

UNIT_LEVELS = frozenset({DivisionLevel.city, DivisionLevel.district})
"""Division levels that approve their data (the approval levels)."""


@dataclass(frozen=True)
class Unit:
    kind: ApprovalUnitKind
    id: int
    code: str
    name: str
    parent_id: int | None
    """The division one level up (None for the city)."""

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.code}"


@dataclass(frozen=True)
class UnitStatus:
    unit: Unit
    year: int
    state: ApprovalState
    changed_by: str | None
    changed_at: datetime | None


def find_unit(session: Session, kind: ApprovalUnitKind, code: str) -> Unit:
    tree = division_tree(session)
    if kind is ApprovalUnitKind.division:
        node = tree.by_code.get(code)
        if node is None or node.level not in UNIT_LEVELS:
            msg = (
                f"不存在代码为 {code!r} 的市或区（市）县，审核单位只能是市及其下辖区（市）县。"
                f"no city or district with code {code!r} (approval units are the city and its districts)"
            )
            raise NotFoundError(msg)
        return Unit(kind, node.id, node.code, node.name_zh, node.parent_id)
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFoundError(f"不存在代码为 {code!r} 的部门，请检查部门代码。no department with code {code!r}")
    root = tree.root
    return Unit(kind, department.id, department.code, department.name_zh, root.id if root else None)


def unit_status(session: Session, unit: Unit, year: int) -> UnitStatus:
    row = session.scalar(select(Approval).where(Approval.unit_key == unit.key, Approval.year == year))
    if row is None:
        return UnitStatus(unit, year, ApprovalState.draft, None, None)
    return UnitStatus(unit, year, row.state, row.changed_by, row.changed_at)


def _children(session: Session, unit: Unit) -> list[Unit]:
    """The units that must be approved before ``unit``: for the city, its districts and every
    department that reports an indicator; other units have none (streets do not approve)."""
    if unit.kind is not ApprovalUnitKind.division or unit.parent_id is not None:
        return []
    tree = division_tree(session)
    districts = [
        Unit(ApprovalUnitKind.division, n.id, n.code, n.name_zh, unit.id)
        for n in tree.descendants(unit.id, level=DivisionLevel.district)
    ]
    reporting = session.scalars(
        select(Department)
        .where(Department.id.in_(select(Indicator.source_department_id).distinct()))
        .order_by(Department.code)
    )
    return [
        *districts,
        *(Unit(ApprovalUnitKind.department, d.id, d.code, d.name_zh, unit.id) for d in reporting),
    ]


def _parent_unit(session: Session, unit: Unit) -> Unit | None:
    if unit.parent_id is None:
        return None
    tree = division_tree(session)
    node = tree.nodes[unit.parent_id]
    while node.level not in UNIT_LEVELS and node.parent_id is not None:
        node = tree.nodes[node.parent_id]
    return Unit(ApprovalUnitKind.division, node.id, node.code, node.name_zh, node.parent_id)


def _may_report_for(principal: Principal, unit: Unit) -> bool:
    if unit.kind is ApprovalUnitKind.department:
        return principal.can(Operation.data_write) and (
            unit.id in principal.departments
            or (not principal.departments and unit.parent_id in principal.capture)
        )
    return principal.can(Operation.data_write) and unit.id in principal.capture and not principal.departments


def _may_approve(principal: Principal, unit: Unit) -> bool:
    over = unit.parent_id if unit.parent_id is not None else unit.id
    return principal.can(Operation.data_approve) and over in principal.capture and not principal.departments


ACTIONS = ("submit", "withdraw", "approve", "unapprove")

_Check = Callable[[Principal, Unit], bool]


def _may_withdraw(principal: Principal, unit: Unit) -> bool:
    return _may_report_for(principal, unit) or _may_approve(principal, unit)


_STEPS: dict[str, tuple[_Check, frozenset[ApprovalState], ApprovalState]] = {
    "submit": (_may_report_for, frozenset({ApprovalState.draft}), ApprovalState.submitted),
    "withdraw": (_may_withdraw, frozenset({ApprovalState.submitted}), ApprovalState.draft),
    "approve": (_may_approve, frozenset({ApprovalState.submitted}), ApprovalState.approved),
    "unapprove": (_may_approve, frozenset({ApprovalState.approved}), ApprovalState.draft),
}
"""The state machine: who may take each step, from which states, to which state."""


def _step(unit: Unit, action: str) -> tuple[_Check, frozenset[ApprovalState], ApprovalState]:
    may, from_states, to_state = _STEPS[action]
    if action == "approve" and unit.kind is ApprovalUnitKind.division and unit.parent_id is None:
        from_states = frozenset({ApprovalState.draft, ApprovalState.submitted})  # the top signs off itself
    return may, from_states, to_state


_ACTION_ZH = {"submit": "上报", "withdraw": "撤回", "approve": "审核", "unapprove": "撤销审核"}


def transition(
    session: Session, unit: Unit, year: int, action: str, *, principal: Principal, now: datetime
) -> UnitStatus:
    """Move ``unit``'s ``year`` by ``action`` (submit, withdraw, approve, unapprove)."""
    if action not in ACTIONS:
        raise InvalidValueError(
            f"未知操作 {action!r}，请使用 {', '.join(ACTIONS)} 之一。"
            f"unknown action {action!r}; use one of {', '.join(ACTIONS)}"
        )
    lock(session, CHAIN)  # no value write can interleave with the state change
    current = unit_status(session, unit, year).state
    may, from_states, to_state = _step(unit, action)
    if not may(principal, unit):
        # the refusal is logged by the adapter (access.denied) in a transaction of its own: a row
        # written here would be rolled back with the request
        raise OutOfScopeError(
            f"您无权{_ACTION_ZH[action]} {unit.name}（{unit.code}）{year} 年数据，该单位不在您的权限范围内。"
            f"you cannot {action} {unit.name} ({unit.code}) {year} (不在您的权限范围内)"
        )
    if current not in from_states:
        msg = (
            f"{unit.name} {year} 年当前状态为“{current.zh}”，只有处于"
            + "或".join(f"“{s.zh}”" for s in sorted(from_states))
            + f"状态时才能{_ACTION_ZH[action]}。"
            + f"{unit.name} {year} is {current.value} ({current.zh}); {action} needs it to be "
            + " or ".join(s.value for s in sorted(from_states))
        )
        raise ConflictError(msg)
    if action == "approve":
        waiting = [
            c
            for c in _children(session, unit)
            if unit_status(session, c, year).state is not ApprovalState.approved
        ]
        if waiting:
            names = ", ".join(f"{c.name} ({c.code})" for c in waiting[:5])
            more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
            more_zh = f" 等（另有 {len(waiting) - 5} 个）" if len(waiting) > 5 else ""
            raise ConflictError(
                f"{unit.name} {year} 年须待下级单位全部审核后才能审核，尚未审核：{names}{more_zh}。"
                f"{unit.name} {year} can be approved once every unit below it is: waiting for {names}{more}"
            )
    if action in {"unapprove", "withdraw"}:
        parent = _parent_unit(session, unit)
        if parent is not None and unit_status(session, parent, year).state is ApprovalState.approved:
            raise ConflictError(
                f"{parent.name} 已审核 {year} 年数据，须先由上级撤销审核后才能{_ACTION_ZH[action]}。"
                f"{parent.name} has approved {year}; it must un-approve first (上级已审核，需先由上级退回)"
            )
    row = session.scalar(select(Approval).where(Approval.unit_key == unit.key, Approval.year == year))
    if row is None:
        row = Approval(
            unit_kind=unit.kind,
            unit_key=unit.key,
            division_id=unit.id if unit.kind is ApprovalUnitKind.division else None,
            department_id=unit.id if unit.kind is ApprovalUnitKind.department else None,
            year=year,
            state=to_state,
            changed_by=principal.username,
            changed_at=now,
        )
        session.add(row)
    else:
        row.state, row.changed_by, row.changed_at = to_state, principal.username, now
    session.flush()
    refresh_value_status(session, year)
    record(
        session,
        principal.actor,
        f"approval.{action}",
        now=now,
        object_type="approval",
        object_id=f"{unit.key}/{year}",
        detail={"from": current.value, "to": to_state.value},
    )
    return unit_status(session, unit, year)


_VALUE_STATUS = {
    ApprovalState.approved: ValueStatus.approved,
    ApprovalState.submitted: ValueStatus.submitted,
    ApprovalState.draft: ValueStatus.draft,
}


def refresh_value_status(session: Session, year: int) -> int:
    """Set the status of every reported value of ``year`` from the units covering it: approved if
    any covering unit is approved, else submitted if any is submitted, else draft. Returns the
    number of values whose status changed."""
    tree = division_tree(session)
    states = {
        (a.unit_kind, a.division_id or a.department_id): a.state
        for a in session.scalars(select(Approval).where(Approval.year == year))
    }
    rank = {ApprovalState.draft: 0, ApprovalState.submitted: 1, ApprovalState.approved: 2}
    rows = session.execute(
        select(DataValue.id, DataValue.division_id, DataValue.status, Indicator.source_department_id)
        .join(Indicator, Indicator.id == DataValue.indicator_id)
        .where(DataValue.year == year, DataValue.source == ValueSource.reported, DataValue.deleted.is_(False))
    ).all()
    changes: list[dict[str, object]] = []
    for row in rows:
        best = ApprovalState.draft
        for key in covering_units(tree, row.division_id, row.source_department_id):
            state = states.get(key, ApprovalState.draft)
            if rank[state] > rank[best]:
                best = state
        if _VALUE_STATUS[best] is not row.status:
            changes.append({"id": row.id, "status": _VALUE_STATUS[best]})
    if changes:
        session.execute(update(DataValue), changes)
    return len(changes)


def list_units(session: Session, year: int, *, principal: Principal) -> list[UnitStatus]:
    """Every approval unit the principal may act on or see, with its state for ``year``."""
    tree = division_tree(session)
    root = tree.root
    if root is None:
        return []
    city = Unit(ApprovalUnitKind.division, root.id, root.code, root.name_zh, None)
    units = [city, *_children(session, city)]
    visible = [
        u
        for u in units
        if _may_report_for(principal, u)
        or _may_approve(principal, u)
        or (u.kind is ApprovalUnitKind.division and u.id in principal.view)
        or (u.kind is ApprovalUnitKind.department and u.id in principal.departments)
    ]
    return [unit_status(session, u, year) for u in visible]


def reporting_units(session: Session, *, principal: Principal) -> list[Unit]:
    """The units whose data the principal reports (the choices of a template or an upload)."""
    tree = division_tree(session)
    root = tree.root
    if root is None:
        return []
    city = Unit(ApprovalUnitKind.division, root.id, root.code, root.name_zh, None)
    return [u for u in (city, *_children(session, city)) if _may_report_for(principal, u)]


def available_actions(status: UnitStatus, *, principal: Principal) -> list[str]:
    """The actions the principal may take on a unit's year in its current state (the buttons of a
    page); ``transition`` checks again, including the units below and above."""
    possible = {}
    for action in ACTIONS:
        may, from_states, _ = _step(status.unit, action)
        possible[action] = status.state in from_states and may(principal, status.unit)
    return [action for action in ACTIONS if possible[action]]
