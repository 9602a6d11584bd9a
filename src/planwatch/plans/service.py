"""Catalogue use cases: load a plan file, fill in what the source lost."""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.audit.security_log import Actor, record
from planwatch.clock import system_clock
from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import CatalogueChange, Plan, Target
from planwatch.models.enums import TargetKind
from planwatch.plans.loader import LoadReport, load_plan
from planwatch.plans.reader import read_plan_file


def load_plan_file(session: Session, path: Path) -> LoadReport:
    """Validate ``path`` completely, then load it in the session's transaction."""
    plan_file = read_plan_file(path)
    return load_plan(session, plan_file, name=str(path))


def find_target(session: Session, ref: str, *, plan_code: str | None = None) -> Target:
    """A target by numeric id or by code (within ``plan_code`` if given)."""
    if ref.isdigit():
        target = session.get(Target, int(ref))
        if target is not None and plan_code is not None and target.plan.code != plan_code:
            target = None
    else:
        query = select(Target).join(Plan).where(Target.code == ref)
        if plan_code:
            query = query.where(Plan.code == plan_code)
        target = session.scalars(query.order_by(Plan.version.desc())).first()
    if target is None:
        msg = f"no target {ref!r}; list them with `planwatch targets`"
        raise NotFoundError(msg)
    return target


def fill_target(
    session: Session,
    target: Target,
    *,
    value: float | None = None,
    range_: tuple[float, float] | None = None,
    deadline: int | None = None,
    actor: str,
    channel: str,
    note: str | None = None,
    logged_as: Actor | None = None,
) -> dict[str, list[object]]:
    """Fill in a target's number (or range, or deadline) and record the change.

    The target stops being incomplete once it has a number. The change is kept in
    ``catalogue_changes`` (who, when, old and new), and a later reload of the catalogue file
    keeps it. The edit also goes to the security log as ``catalogue.edit``, in the same
    transaction, under ``logged_as`` (the signed-in user or the CLI operator; default: ``actor``).
    """
    numbers = [v for v in (value, *(range_ or ())) if v is not None]
    if any(not math.isfinite(v) for v in numbers):
        msg = f"a target's number must be finite, got {numbers}"
        raise InvalidValueError(msg)
    if numbers and target.kind is TargetKind.trend:
        msg = f"{target.code} is a trend target ({target.comparator.zh}); it takes no number"
        raise InvalidValueError(msg)
    if value is None and range_ is None and deadline is None:
        msg = "nothing to change: give a value, a range or a deadline"
        raise InvalidValueError(msg)
    if value is not None and range_ is not None:
        msg = "give either a value or a range, not both"
        raise InvalidValueError(msg)
    if range_ is not None and range_[0] > range_[1]:
        msg = f"a range is [low, high]; got {list(range_)}"
        raise InvalidValueError(msg)
    plan = target.plan
    if deadline is not None and not (
        plan.period_start <= deadline <= plan.period_end or deadline == plan.vision_year
    ):
        msg = f"deadline {deadline} is outside the plan period {plan.period_start}–{plan.period_end}"
        raise InvalidValueError(msg)
    if deadline is not None and deadline <= target.baseline_year:
        msg = f"deadline {deadline} must lie after the target's baseline year {target.baseline_year}"
        raise InvalidValueError(msg)
    wanted: dict[str, object] = {}
    if value is not None:
        wanted |= {"value": value, "range_low": None, "range_high": None}
    if range_ is not None:
        wanted |= {"value": None, "range_low": range_[0], "range_high": range_[1]}
    if deadline is not None:
        wanted |= {"deadline_year": deadline, "deadline_inferred": False}
    if value is not None or range_ is not None:
        wanted |= {"incomplete": False, "incomplete_reason": None}
    changes = {k: [getattr(target, k), v] for k, v in wanted.items() if getattr(target, k) != v}
    if not changes:
        return {}
    for key, (_, new) in changes.items():
        setattr(target, key, new)
    session.add(
        CatalogueChange(
            entity="target", entity_id=target.id, changes=changes, actor=actor, channel=channel, note=note
        )
    )
    session.flush()
    record(
        session,
        logged_as or Actor(name=actor, source_ip=channel),
        "catalogue.edit",
        now=system_clock(),
        object_type="target",
        object_id=target.code,
        detail={
            "changes": {k: [str(old), str(new)] for k, (old, new) in changes.items()},
            "by": actor,
            "note": note or "",
        },
    )
    return changes
