"""The simulated 12345 timelines (模拟数据): every step of every request, drawn at once for all
requests with numpy, and the requests' fields read off the steps. The steps and states follow
``planwatch.service_requests.service.TRANSITIONS``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from planwatch.datasets._request_templates import Factors, Lifecycle, RequestTemplates
from planwatch.models.enums import RequestAction, RequestChannel, RequestKind, RequestState

__all__ = ["ACTOR", "DemoType", "Timeline", "draw_timelines", "lognormal", "timeline_frames", "where_none"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Objects = npt.NDArray[np.object_]

ACTOR: Final = "simulation"
"""The actor of every simulated event."""
_HOUR: Final = 3600.0
_DAY: Final = 86400.0


@dataclass(frozen=True)
class DemoType:
    """What the generator needs to know of a request type (from the database or the file)."""

    code: str
    name_zh: str
    deadline_hours: int
    response_hours: int
    duplicate_window_days: int
    attributes: tuple[Mapping[str, Any], ...] = ()


# one slot per possible step, in timeline order: (action, state after it, department held)
_STAGES: Final = (
    ("received", RequestAction.received, RequestState.received, "none"),
    ("classified", RequestAction.classified, RequestState.received, "none"),
    ("dispatched", RequestAction.dispatched, RequestState.dispatched, "first"),
    ("returned", RequestAction.returned, RequestState.returned, "first"),
    ("redispatched", RequestAction.dispatched, RequestState.dispatched, "final"),
    ("transferred", RequestAction.transferred, RequestState.dispatched, "final"),
    ("accepted", RequestAction.accepted, RequestState.accepted, "final"),
    ("contacted", RequestAction.contacted, RequestState.in_progress, "final"),
    ("progress1", RequestAction.progress, RequestState.in_progress, "final"),
    ("progress2", RequestAction.progress, RequestState.in_progress, "final"),
    ("replied", RequestAction.replied, RequestState.replied, "final"),
    ("closed", RequestAction.closed, RequestState.closed, "final"),
    ("callback", RequestAction.callback, RequestState.closed, "final"),
    ("reopened", RequestAction.reopened, RequestState.dispatched, "final"),
    ("accepted2", RequestAction.accepted, RequestState.accepted, "final"),
    ("progress3", RequestAction.progress, RequestState.in_progress, "final"),
    ("replied2", RequestAction.replied, RequestState.replied, "final"),
    ("closed2", RequestAction.closed, RequestState.closed, "final"),
    ("callback2", RequestAction.callback, RequestState.closed, "final"),
)
_SLOT: Final = {name: i for i, (name, *_) in enumerate(_STAGES)}
_SATISFACTION: Final = np.array(["satisfied", "basically", "unsatisfied"], dtype=object)


def lognormal(rng: np.random.Generator, median: Floats | float, sigma: float, n: int) -> Floats:
    """``n`` lognormal draws around ``median`` (``sigma`` of the underlying normal)."""
    return np.asarray(median, dtype=np.float64) * rng.lognormal(0.0, sigma, n)


def where_none(keep: Bools, values: Any) -> Objects:
    """``values`` where ``keep``, None elsewhere (an object array)."""
    out = np.full(len(keep), None, dtype=object)
    out[keep] = np.asarray(values, dtype=object)[keep]
    return out


def _categorical(rng: np.random.Generator, probabilities: Floats) -> Ints:
    """One draw per row of a (rows × options) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= cumulative[:, -1:]
    return np.asarray((rng.random((len(probabilities), 1)) > cumulative).sum(axis=1), dtype=np.int64)


def _factors(
    table: Mapping[str, Factors], keys: npt.NDArray[np.object_]
) -> tuple[Floats, Floats, Floats, Floats]:
    default = Factors()
    rows = [table.get(str(k), default) for k in keys]
    return (
        np.array([f.late for f in rows]),
        np.array([f.overdue for f in rows]),
        np.array([f.resolved for f in rows]),
        np.array([f.satisfied for f in rows]),
    )


@dataclass
class Timeline:
    """Offsets of every step from receipt (seconds; NaN: no such step) and the outcomes."""

    at: Floats
    first_department: npt.NDArray[np.object_]
    resolved: tuple[Bools, Bools]
    satisfaction: tuple[Ints, Ints]
    duplicate_of: Ints
    direct: Bools
    confirmed: Bools


def draw_timelines(
    tpl: RequestTemplates,
    types: list[DemoType],
    type_index: Ints,
    requested: Ints,
    kind: npt.NDArray[np.object_],
    channel: npt.NDArray[np.object_],
    division: npt.NDArray[np.object_],
    district: npt.NDArray[np.object_],
    department: npt.NDArray[np.object_],
    rng: np.random.Generator,
) -> Timeline:
    """Draw every request's path through the workflow and the time of each step.

    Parameters
    ----------
    tpl : the lifecycle parameters (``lifecycle`` of the templates file)
    types : the request types, indexed by ``type_index``
    requested : receipt times (UTC epoch seconds)
    kind, channel, division, district, department : per request; ``department`` is the unit
        the routing picks (the one that handles it in the end)

    Returns
    -------
    Timeline
        Offsets of the steps from receipt (a slot per possible step of ``_STAGES``) and the
        callback answers; nothing is cut off at the end of the year yet.
    """
    lc = tpl.lifecycle
    n = len(type_index)
    at = np.full((n, len(_STAGES)), np.nan)
    at[:, _SLOT["received"]] = 0.0
    response = np.array([t.response_hours for t in types], dtype=np.float64)[type_index] * _HOUR
    deadline = np.array([t.deadline_hours for t in types], dtype=np.float64)[type_index] * _HOUR
    window = np.array([t.duplicate_window_days for t in types], dtype=np.float64)[type_index] * _DAY
    consultation = kind == RequestKind.consultation.value
    praise = kind == RequestKind.praise.value
    hotline = channel == RequestChannel.hotline.value
    d_late, d_over, d_res, d_sat = _factors(lc.departments, department)
    w_late, w_over, w_res, w_sat = _factors(lc.districts, district)
    late_factor, over_factor = d_late * w_late, d_over * w_over
    res_shift, sat_shift = d_res + w_res, d_sat + w_sat

    # answered on the call (直办) and duplicates: the centre closes them, nobody is dispatched
    direct = consultation & hotline & (rng.random(n) < lc.direct_consultation)
    order = np.lexsort((requested, division, type_index))
    same = np.zeros(n, dtype=np.bool_)
    same[order[1:]] = (type_index[order[1:]] == type_index[order[:-1]]) & (
        division[order[1:]] == division[order[:-1]]
    )
    previous = np.full(n, -1, dtype=np.int64)
    previous[order[1:]] = order[:-1]
    near = same & (requested - requested[np.maximum(previous, 0)] <= window) & ~direct & ~praise
    share = min(1.0, lc.duplicate * n / max(int(near.sum()), 1))
    duplicate = near & (rng.random(n) < share)
    duplicate_of = np.where(duplicate, previous, -1)
    dispatched = ~direct & ~duplicate
    at[direct, _SLOT["closed"]] = rng.uniform(3, 15, int(direct.sum())) * 60
    at[duplicate, _SLOT["closed"]] = np.clip(lognormal(rng, 1800, 0.6, int(duplicate.sum())), 300, 6 * _HOUR)

    # intake and dispatch (派单); online requests wait for an operator, who confirms most types
    confirmed = hotline | (rng.random(n) < lc.confirmed_online)
    classified = dispatched & ~hotline & confirmed
    at[classified, _SLOT["classified"]] = np.clip(
        lognormal(rng, 1200, 0.7, int(classified.sum())), 60, 8 * _HOUR
    )
    local_hour = ((requested + 8 * 3600) % 86400) // 3600
    night = (local_hour >= 22) | (local_hour < 7)
    delay = lognormal(
        rng, np.where(hotline, lc.dispatch_minutes["hotline"], lc.dispatch_minutes["online"]) * 60, 0.7, n
    )
    delay = np.where(night & ~hotline, delay * 2.5, delay)
    delay = np.minimum(delay, 0.3 * response) + np.nan_to_num(at[:, _SLOT["classified"]])
    start = np.maximum(delay, 60.0)
    at[dispatched, _SLOT["dispatched"]] = start[dispatched]

    # 退单 (the first unit returns it, the centre dispatches again) or 转办 (passed straight on)
    u = rng.random(n)
    returned = dispatched & ~praise & (u < lc.returned)
    transferred = dispatched & ~praise & (u >= lc.returned) & (u < lc.returned + lc.transferred)
    back = start + np.clip(lognormal(rng, 0.25 * response, 0.8, n), 300, 3 * _DAY)
    again = back + np.clip(lognormal(rng, 1800, 0.6, n), 120, _DAY)
    passed = start + np.clip(lognormal(rng, 0.2 * response, 0.8, n), 300, 3 * _DAY)
    at[returned, _SLOT["returned"]] = back[returned]
    at[returned, _SLOT["redispatched"]] = again[returned]
    at[transferred, _SLOT["transferred"]] = passed[transferred]
    start = np.select([returned, transferred], [again, passed], start)
    first_department = department.copy()
    pool = np.unique(department)
    wrong = pool[rng.integers(0, max(len(pool) - 1, 1), n)]
    wrong = np.where(wrong == department, pool[-1] if len(pool) > 1 else wrong, wrong)
    first_department[returned | transferred] = wrong[returned | transferred]

    # 签收 and first contact before the response deadline, except a few late ones
    late = dispatched & (
        (rng.random(n) < np.clip(lc.late_response * late_factor, 0, 0.5)) | (start + 120 >= response)
    )
    room = np.maximum(response - start - 120, 0)
    accept = start + 60 + room * rng.beta(1.2, 6.0, n)
    late_accept = late & (rng.random(n) < 0.5)
    accept = np.where(
        late_accept, np.maximum(start, response) + lognormal(rng, 0.3 * response, 0.8, n), accept
    )
    contact = accept + 60 + np.maximum(response - accept - 60, 0) * rng.beta(1.5, 4.0, n)
    contact = np.where(
        late, np.maximum(accept, response) + 60 + lognormal(rng, 0.4 * response, 0.8, n), contact
    )
    at[dispatched, _SLOT["accepted"]] = accept[dispatched]
    at[dispatched, _SLOT["contacted"]] = contact[dispatched]

    # the reply (答复): mostly before the deadline after a lognormal delay, some overdue, a few
    # complex cases drag on for months
    kind_overdue = np.where(consultation, 0.5, np.where(praise, 0.0, 1.0))
    # complex cases (疑难件, more of them among the 15-day types and at the weaker units) drag on for
    # months: most are still open at the end of the year
    complexity = np.clip(deadline / (168 * _HOUR), 0.3, 2.0) * over_factor
    stalled = (
        dispatched & ~consultation & ~praise & (rng.random(n) < np.clip(lc.stalled * complexity, 0, 0.5))
    )
    span = deadline - contact
    overdue = dispatched & (
        (rng.random(n) < np.clip(lc.overdue * over_factor * kind_overdue, 0, 0.6)) | (span <= 600) | stalled
    )
    fraction = rng.lognormal(np.log(np.where(consultation, 0.15, 0.4)), 0.6, n)
    fraction = np.where(fraction >= 0.97, rng.uniform(0.4, 0.97, n), fraction)
    reply = contact + 60 + np.maximum(span - 120, 0) * fraction
    reply = np.where(
        overdue,
        np.maximum(deadline, contact) + 60 + np.clip(lognormal(rng, 0.25 * deadline, 0.9, n), 60, 45 * _DAY),
        reply,
    )
    reply = np.where(stalled, np.maximum(deadline, contact) + rng.uniform(90, 600, n) * _DAY, reply)
    at[dispatched, _SLOT["replied"]] = reply[dispatched]
    progress = np.where(deadline >= 72 * _HOUR, rng.choice(3, size=n, p=[0.45, 0.4, 0.15]), 0)
    progress = np.where(stalled, np.maximum(progress, 1), progress)
    steps = np.sort(rng.random((n, 2)), axis=1)
    for slot, rank in (("progress1", 0), ("progress2", 1)):
        has = dispatched & (progress > rank)
        at[has, _SLOT[slot]] = (contact + (reply - contact) * steps[:, rank])[has]
    # the centre reviews the reply before closing the ticket (办结审核)
    closed = reply + np.clip(lognormal(rng, 12 * _HOUR, 0.9, n), 300, 7 * _DAY)
    at[dispatched, _SLOT["closed"]] = closed[dispatched]

    # 回访: was it solved, was the caller satisfied; an unresolved one is sometimes reopened (重办)
    calls = np.where(direct, lc.callback_direct, np.where(dispatched, lc.callback, 0.0))
    callback = rng.random(n) < calls
    call = at[:, _SLOT["closed"]] + np.clip(lognormal(rng, 20 * _HOUR, 0.7, n), _HOUR, 10 * _DAY)
    at[callback, _SLOT["callback"]] = call[callback]
    base = lc.resolved + res_shift - 0.12 * overdue - 0.2 * stalled - 0.04 * late
    base += np.where(consultation, 0.03, 0.0) - np.where(kind == RequestKind.report.value, 0.03, 0.0)
    resolved = np.where(praise, True, rng.random(n) < np.clip(base, 0.2, 0.995))
    satisfaction = _satisfaction(lc, resolved, sat_shift, praise, rng)
    reopened = callback & dispatched & ~resolved & (rng.random(n) < lc.reopen_if_unresolved)
    reopen = call + np.clip(lognormal(rng, 3 * _HOUR, 0.7, n), 600, 3 * _DAY)
    accept2 = reopen + np.clip(lognormal(rng, 2 * _HOUR, 0.7, n), 300, 2 * _DAY)
    work2 = accept2 + np.clip(lognormal(rng, 4 * _HOUR, 0.8, n), 300, 3 * _DAY)
    reply2 = work2 + np.clip(lognormal(rng, 0.15 * deadline, 0.8, n), 600, 30 * _DAY)
    closed2 = reply2 + np.clip(lognormal(rng, 4 * _HOUR, 1.0, n), 300, 7 * _DAY)
    callback2 = reopened & (rng.random(n) < lc.callback)
    call2 = closed2 + np.clip(lognormal(rng, 20 * _HOUR, 0.7, n), _HOUR, 10 * _DAY)
    for slot, values, mask in (
        ("reopened", reopen, reopened), ("accepted2", accept2, reopened), ("progress3", work2, reopened),
        ("replied2", reply2, reopened), ("closed2", closed2, reopened), ("callback2", call2, callback2),
    ):  # fmt: skip
        at[mask, _SLOT[slot]] = values[mask]
    resolved2 = rng.random(n) < np.clip(0.65 + res_shift, 0.2, 0.95)
    satisfaction2 = _satisfaction(lc, resolved2, sat_shift, np.zeros(n, dtype=np.bool_), rng)
    return Timeline(
        np.round(at), first_department, (resolved, resolved2), (satisfaction, satisfaction2), duplicate_of,
        direct, confirmed,
    )  # fmt: skip


def _satisfaction(
    lc: Lifecycle, resolved: Bools, shift: Floats, praise: Bools, rng: np.random.Generator
) -> Ints:
    good, bad = np.asarray(lc.satisfied_if_resolved), np.asarray(lc.satisfied_if_unresolved)
    table = np.where(resolved[:, None], good, bad)
    # a better unit moves answers from "basically" to "satisfied" (a worse one the other way)
    satisfied = np.clip(table[:, 0] + shift * np.where(resolved, 1.0, 0.5), 0.01, 0.98)
    unsatisfied = np.clip(table[:, 2] - shift / 4, 0.005, 0.9)
    basically = np.clip(1 - satisfied - unsatisfied, 0.0, 1.0)
    draw = _categorical(rng, np.column_stack([satisfied, basically, unsatisfied]))
    return np.where(praise, 0, draw)


def _seconds_to_utc(seconds: Floats | Ints) -> pd.Series:
    values = np.asarray(seconds, dtype=np.float64)
    return pd.Series(pd.to_datetime(np.where(np.isnan(values), np.nan, values), unit="s", utc=True))


def timeline_frames(
    keep: Ints,
    cutoff: int,
    requested: Ints,
    timeline: Timeline,
    codes: list[str],
    types: list[DemoType],
    type_index: Ints,
    kind: npt.NDArray[np.object_],
    channel: npt.NDArray[np.object_],
    department: npt.NDArray[np.object_],
    notes: Mapping[str, npt.NDArray[np.object_]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The requests and events frames of the kept requests, with every step after ``cutoff``
    left out and each request's fields read off its (truncated) timeline."""
    row_of = np.full(len(requested), -1, dtype=np.int64)
    row_of[keep] = np.arange(len(keep))
    at = timeline.at[keep]
    t0 = requested[keep]
    present = ~np.isnan(at) & (t0[:, None] + np.nan_to_num(at, nan=0.0) <= cutoff)
    req, stage = np.nonzero(present)  # row-major: by request, then by step
    moment = t0[req] + at[req, stage].astype(np.int64)
    actions = np.array([s[1].value for s in _STAGES], dtype=object)
    states = np.array([s[2].value for s in _STAGES], dtype=object)
    holder = np.array([s[3] for s in _STAGES], dtype=object)
    to_state = states[stage]
    first = np.r_[True, req[1:] != req[:-1]]
    last = np.r_[req[1:] != req[:-1], True]
    from_state = where_none(~first, np.roll(to_state, 1))
    k = keep[req]
    # only dispatched requests have a handling unit; 直办 and duplicates stay with the centre
    centre = timeline.direct[k] | (timeline.duplicate_of[k] >= 0)
    held = np.where(holder[stage] == "first", timeline.first_department[k], department[k])
    event_department = where_none((holder[stage] != "none") & ~centre, held)
    consultation = kind[k] == RequestKind.consultation.value
    note = np.full(len(req), None, dtype=object)
    public = np.ones(len(req), dtype=np.bool_)
    name = np.array([s[0] for s in _STAGES], dtype=object)[stage]
    for slot, pool in (("returned", "returned"), ("transferred", "transferred"), ("reopened", "reopened")):
        sel = name == slot
        note[sel] = notes[pool][k[sel]]
        public[sel] = slot == "reopened"  # 退单 and 转办 reasons are between the centre and the units
    for slot in ("progress1", "progress2", "progress3"):
        sel = name == slot
        note[sel] = notes["progress"][k[sel]]
    for slot in ("replied", "replied2"):
        sel = name == slot
        note[sel] = np.where(
            consultation[sel], notes["replied_consultation"][k[sel]], notes["replied"][k[sel]]
        )
    sel = name == "classified"
    type_names = np.array([f"类型确认为 {t.name_zh} / type confirmed: {t.code}" for t in types], dtype=object)
    note[sel] = type_names[type_index[k[sel]]]
    public[sel] = False
    sel = (name == "closed") & centre
    note[sel] = np.where(
        timeline.duplicate_of[k[sel]] >= 0,
        "与此前同一社区的同类诉求重复，合并办理。",
        "已在电话中直接答复（直办）。",
    )
    for slot, cycle in (("callback", 0), ("callback2", 1)):
        sel = name == slot
        resolved = timeline.resolved[cycle][k[sel]]
        answer = _SATISFACTION[timeline.satisfaction[cycle][k[sel]]]
        note[sel] = [
            f"resolved={'yes' if r else 'no'}; satisfaction={s}"
            for r, s in zip(resolved, answer, strict=True)
        ]
        public[sel] = False
    events = pd.DataFrame(
        {
            "request": req,
            "at": _seconds_to_utc(moment),
            "action": actions[stage],
            "from_state": from_state,
            "to_state": to_state,
            "actor": ACTOR,
            "department_code": event_department,
            "note": note,
            "public": public,
        }
    )

    def when(*slots: str) -> Floats:
        out = np.full(len(keep), np.nan)
        for slot in slots:  # later slots win
            i = _SLOT[slot]
            out = np.where(present[:, i], t0 + at[:, i], out)
        return out

    n = len(keep)
    ends = np.flatnonzero(last)
    state = to_state[ends]
    reopened = present[:, _SLOT["reopened"]]
    replied = np.where(reopened, when("replied2"), when("replied"))
    is_closed = state == RequestState.closed.value
    closed = np.where(is_closed, when("closed", "closed2"), np.nan)
    second_call = present[:, _SLOT["callback2"]]
    any_call = present[:, _SLOT["callback"]] | second_call
    which = second_call.astype(np.int64)
    resolved = np.where(which == 1, timeline.resolved[1][keep], timeline.resolved[0][keep])
    satisfaction = _SATISFACTION[
        np.where(which == 1, timeline.satisfaction[1][keep], timeline.satisfaction[0][keep])
    ]
    with_notes = np.flatnonzero(public & (note != None))  # noqa: E711 - elementwise on an object array
    status = np.full(n, None, dtype=object)
    status[req[with_notes]] = note[with_notes]  # later rows overwrite earlier: the last public note
    holder_now = event_department[ends]
    response = np.array([t.response_hours for t in types], dtype=np.float64)[type_index[keep]] * _HOUR
    deadline = np.array([t.deadline_hours for t in types], dtype=np.float64)[type_index[keep]] * _HOUR
    duplicate_of = timeline.duplicate_of[keep]
    requests = pd.DataFrame(
        {
            "type_code": np.asarray(codes, dtype=object)[type_index[keep]],
            "kind": kind[keep],
            "channel": channel[keep],
            "state": state,
            "department_code": where_none(state != RequestState.returned.value, holder_now),
            "requested_at": _seconds_to_utc(t0),
            "updated_at": _seconds_to_utc(moment[ends]),
            "dispatched_at": _seconds_to_utc(when("dispatched")),
            "accepted_at": _seconds_to_utc(when("accepted")),
            "contacted_at": _seconds_to_utc(when("contacted")),
            "replied_at": _seconds_to_utc(replied),
            "closed_at": _seconds_to_utc(closed),
            "response_due_at": _seconds_to_utc(t0 + response),
            "expected_at": _seconds_to_utc(t0 + deadline),
            "status_notes": status,
            "close_reason": where_none(is_closed, np.where(duplicate_of >= 0, "duplicate", "resolved")),
            "duplicate_of": np.where(duplicate_of >= 0, row_of[np.maximum(duplicate_of, 0)], -1),
            "returned_count": present[:, _SLOT["returned"]].astype(np.int64),
            "reopened_count": reopened.astype(np.int64),
            "resolved": where_none(any_call, resolved),
            "satisfaction": where_none(any_call, satisfaction),
            "callback_at": _seconds_to_utc(when("callback", "callback2")),
            "type_confirmed": timeline.confirmed[keep],
        }
    )
    return requests, events
