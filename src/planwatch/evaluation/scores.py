"""Scores from −5 to +5 and their roll-up through a plan's tree (chapters, sections, targets).

After Open SDG (sdg-build's progress measure): each evaluated target gets a score, a node of the
plan (规划纲要 → 篇 → 章 …) gets the weighted mean of its children's scores, and the mean is mapped
back to a status. The score bands line up with the status bands, so a score and a status never
disagree.

**A target's score** (:func:`target_scores`): ``achieved`` +5, ``missed`` −5, ``not_evaluable`` no
score (NaN). Before the deadline the score is a continuous, non-decreasing, piecewise-linear function
of r = π / τ (:func:`ratio_score`) whose breakpoints sit on the status thresholds (settings, defaults
ahead 1.05, on_track 0.95, lagging 0.7):

| r | score | status |
|---|---|---|
| r ≤ floor (0) | −5 | ``seriously_lagging`` |
| floor ≤ r < lagging | −5 → −2.5, linear | ``seriously_lagging``: [−5, −2.5) |
| lagging ≤ r < on_track | −2.5 → 0, linear | ``lagging``: [−2.5, 0) |
| on_track ≤ r < ahead | 0 → 2.5, linear | ``on_track``: [0, 2.5) |
| ahead ≤ r < ceiling (2 × ahead) | 2.5 → 5, linear | ``ahead``: [2.5, 5] |
| r ≥ ceiling | 5 | ``ahead`` |

With the default thresholds: r = 0 (no progress, or the value moved the wrong way) scores −5, r = 0.7
scores −2.5, r = 0.95 scores 0, r = 1 scores 1.25, r = 1.05 scores 2.5 and r ≥ 2.1 scores 5. Like
Open SDG, a target far ahead of schedule saturates at 5, the score of an achieved one; the status
still tells them apart. When two thresholds are equal the band between them is empty and the score
jumps there. A status judged without r (a trend target, 持续下降) scores the middle of its band:
ahead 3.75, on_track 1.25, lagging −1.25, seriously_lagging −3.75. A status that r does not give
under the thresholds is refused: score with the thresholds the targets were classified with.

**A node's score** (:func:`rollup_scores`): the weighted mean of the scores of its evaluable
children, its own targets and its child nodes. A target weighs its weight (default 1). A child node
weighs, by ``node_weight``:

- ``"leaves"`` (default): the sum of the weights of the evaluable targets below it, so a node's score
  is the weighted mean of all evaluable targets below it wherever they sit: a chapter of ten targets
  counts ten times a chapter of one;
- ``"equal"``: 1, like a target of weight 1 (every evaluable child counts the same, as in Cascade or
  Envisio).

Not-evaluable targets have no score and are left out (and counted), so adding one changes no score;
a node with no evaluable target below it is ``not_evaluable``. A node's score always lies between
its children's lowest and highest scores.

**A node's status** (:func:`score_status`): ``achieved`` when every evaluable target below it is
achieved, ``missed`` when every one is missed; otherwise by score: [2.5, 5] ``ahead``, [0, 2.5)
``on_track``, [−2.5, 0) ``lagging``, [−5, −2.5) ``seriously_lagging``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from planwatch.config import StatusThresholds
from planwatch.errors import InvalidValueError
from planwatch.evaluation.progress import Status

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

SCORE_MAX = 5.0
"""The score of an achieved target (and of one far ahead)."""
SCORE_MIN = -5.0
"""The score of a missed target (and of one with no progress)."""
AHEAD_SCORE = 2.5
"""Lowest score of ``ahead``."""
ON_TRACK_SCORE = 0.0
"""Lowest score of ``on_track``."""
LAGGING_SCORE = -2.5
"""Lowest score of ``lagging``; below it ``seriously_lagging``."""

IN_PROGRESS = (Status.ahead, Status.on_track, Status.lagging, Status.seriously_lagging)
"""The statuses a target can have before its deadline without being achieved; scored from r."""

BAND_MIDDLE = {
    Status.ahead: 3.75,
    Status.on_track: 1.25,
    Status.lagging: -1.25,
    Status.seriously_lagging: -3.75,
}
"""The score of a status given without r (a trend target): the middle of its band."""

NodeWeight = Literal["leaves", "equal"]


class ScoreTreeError(InvalidValueError, ValueError):
    """Inputs that cannot be scored or rolled up: the message names the node or target."""


def ratio_score(
    r: ArrayLike,
    thresholds: StatusThresholds | None = None,
    *,
    floor: float = 0.0,
    ceiling: float | None = None,
) -> FloatArray:
    """The score of a target that is neither achieved nor missed, from r = π / τ.

    Parameters
    ----------
    r
        Progress ratios (scalar or array). NaN gives NaN.
    thresholds
        The status thresholds; default the settings' defaults (1.05, 0.95, 0.7).
    floor
        r at or below which the score is −5 (default 0: no progress at all). If it is not below
        ``thresholds.lagging``, every seriously lagging r scores −5.
    ceiling
        r at or above which the score is 5; default twice ``thresholds.ahead`` (1 if that is 0).
        Must exceed ``thresholds.ahead``.

    Returns
    -------
    numpy.ndarray
        Scores in [−5, 5]; r in a status band scores in that band's score range.
    """
    t = thresholds or StatusThresholds()
    top = (2.0 * t.ahead if t.ahead > 0 else 1.0) if ceiling is None else ceiling
    if not top > t.ahead:
        msg = f"the score ceiling ({top}) must be above the 'ahead' threshold ({t.ahead})"
        raise ScoreTreeError(msg)
    r_a = np.asarray(r, dtype=float)

    def segment(lo_r: float, hi_r: float, lo_s: float, hi_s: float, *, closed: bool) -> FloatArray:
        # linear from (lo_r, lo_s) to (hi_r, hi_s), clipped to the band; open bands stay below hi_s
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            frac = np.clip((r_a - lo_r) / (hi_r - lo_r), 0.0, 1.0) if hi_r > lo_r else np.zeros_like(r_a)
        score = lo_s + (hi_s - lo_s) * frac
        return np.asarray(score if closed else np.minimum(score, np.nextafter(hi_s, -np.inf)), dtype=float)

    score = np.select(
        [np.isnan(r_a), r_a >= t.ahead, r_a >= t.on_track, r_a >= t.lagging],
        [
            np.full_like(r_a, np.nan),
            segment(t.ahead, top, AHEAD_SCORE, SCORE_MAX, closed=True),
            segment(t.on_track, t.ahead, ON_TRACK_SCORE, AHEAD_SCORE, closed=False),
            segment(t.lagging, t.on_track, LAGGING_SCORE, ON_TRACK_SCORE, closed=False),
        ],
        default=segment(floor, t.lagging, SCORE_MIN, LAGGING_SCORE, closed=False),
    )
    return np.asarray(score, dtype=float)


def target_scores(
    r: ArrayLike,
    status: ArrayLike,
    thresholds: StatusThresholds | None = None,
    *,
    floor: float = 0.0,
    ceiling: float | None = None,
) -> FloatArray:
    """The score of each target from its status and r = π / τ.

    Parameters
    ----------
    r
        Progress ratios, as :func:`planwatch.evaluation.progress.progress_ratio` gives them (or any
        r :func:`planwatch.evaluation.progress.classify_ratio` classifies); only read where the
        status is ``ahead``, ``on_track``, ``lagging`` or ``seriously_lagging``.
    status
        Statuses (``Status`` members or their values), as
        :func:`planwatch.evaluation.progress.classify` gives them with the same ``thresholds``.
    thresholds, floor, ceiling
        As for :func:`ratio_score`.

    Returns
    -------
    numpy.ndarray
        5 for ``achieved``, −5 for ``missed``, NaN for ``not_evaluable``, else :func:`ratio_score`
        (the middle of the status's band where r is NaN: a status judged without r, e.g. a trend).

    Raises
    ------
    ScoreTreeError
        An unknown status, or a status before the deadline that r does not give under
        ``thresholds`` (they were classified with other thresholds).
    """
    st = np.asarray(status, dtype=str)
    r_a, st = np.broadcast_arrays(np.asarray(r, dtype=float), st)
    unknown = ~np.isin(st, [s.value for s in Status])
    if unknown.any():
        msg = f"unknown status {st[unknown].flat[0]!r}; expected one of {[s.value for s in Status]}"
        raise ScoreTreeError(msg)
    by_ratio = ratio_score(r_a, thresholds, floor=floor, ceiling=ceiling)
    in_progress = np.isin(st, [s.value for s in IN_PROGRESS])
    band = score_status(by_ratio)
    wrong = in_progress & ~np.isnan(r_a) & (band != st)
    if wrong.any():
        at = tuple(np.argwhere(wrong)[0])
        msg = (
            f"status {st[at]!r} does not match r = {r_a[at]!r} under these thresholds "
            f"(it gives {band[at]!r}); score with the thresholds the status was classified with"
        )
        raise ScoreTreeError(msg)
    # a status judged without r (a trend target) scores the middle of its band
    middle = np.select(
        [st == s.value for s in IN_PROGRESS], [np.full_like(r_a, BAND_MIDDLE[s]) for s in IN_PROGRESS], np.nan
    )
    score = np.select(
        [st == Status.achieved.value, st == Status.missed.value, in_progress & np.isnan(r_a), in_progress],
        [np.full_like(r_a, SCORE_MAX), np.full_like(r_a, SCORE_MIN), middle, by_ratio],
        default=np.nan,
    )
    return np.asarray(score, dtype=float)


def score_status(
    score: ArrayLike, *, all_achieved: ArrayLike = False, all_missed: ArrayLike = False
) -> npt.NDArray[np.str_]:
    """The status a score stands for.

    Parameters
    ----------
    score
        Scores in [−5, 5]; NaN is ``not_evaluable``.
    all_achieved, all_missed
        Where every evaluable target below is achieved (missed), the status is ``achieved``
        (``missed``) whatever the score.

    Returns
    -------
    numpy.ndarray
        Status values: [2.5, 5] ``ahead``, [0, 2.5) ``on_track``, [−2.5, 0) ``lagging``,
        [−5, −2.5) ``seriously_lagging``.
    """
    s = np.asarray(score, dtype=float)
    shape = np.broadcast_shapes(s.shape, np.shape(all_achieved), np.shape(all_missed))
    s = np.broadcast_to(s, shape)
    status = np.select(
        [
            np.isnan(s),
            np.broadcast_to(np.asarray(all_achieved, dtype=bool), shape),
            np.broadcast_to(np.asarray(all_missed, dtype=bool), shape),
            s >= AHEAD_SCORE,
            s >= ON_TRACK_SCORE,
            s >= LAGGING_SCORE,
        ],
        [
            Status.not_evaluable.value,
            Status.achieved.value,
            Status.missed.value,
            Status.ahead.value,
            Status.on_track.value,
            Status.lagging.value,
        ],
        default=Status.seriously_lagging.value,
    )
    return np.asarray(status, dtype=str)


class Leaf(NamedTuple):
    """A target under a node of the plan tree (a plain tuple in this order works too)."""

    leaf_id: Hashable
    node_id: Hashable
    status: Status | str
    score: float | None
    """None (or NaN) exactly when the status is ``not_evaluable``."""
    weight: float = 1.0
    """Positive; how much the target counts beside its siblings."""


LeafLike: TypeAlias = (
    Leaf
    | tuple[Hashable, Hashable, Status | str, float | None]
    | tuple[Hashable, Hashable, Status | str, float | None, float]
)
"""A :class:`Leaf` or a plain tuple in its order, with or without the weight."""


@dataclass(frozen=True)
class ChildScore:
    """One child of a node: a target (``is_node`` False) or a child node."""

    child_id: Hashable
    is_node: bool
    score: float | None
    status: Status
    weight: float
    """What the child weighs in its parent's mean (for a node: per ``node_weight``)."""
    share: float
    """weight / Σ weights of the evaluable siblings: sums to 1 over them; 0 when not evaluable."""


@dataclass(frozen=True)
class NodeScore:
    """The rolled-up score and status of one node of the plan tree."""

    node_id: Hashable
    parent_id: Hashable | None
    score: float | None
    """Weighted mean of the evaluable children's scores; None when nothing below is evaluable."""
    status: Status
    weight: float
    """What the node weighs in its parent's mean."""
    children: tuple[ChildScore, ...]
    """Child nodes (in the order of ``nodes``), then the node's own targets (order of ``leaves``)."""
    counts: Mapping[Status, int]
    """How many targets below (at any depth) have each status, ``not_evaluable`` included."""
    evaluable: int
    """Targets below with a score."""
    not_evaluable: int
    """Targets below without a score: left out of the mean."""


def rollup_scores(
    nodes: Iterable[tuple[Hashable, Hashable | None]],
    leaves: Iterable[LeafLike],
    *,
    node_weight: NodeWeight = "leaves",
) -> dict[Hashable, NodeScore]:
    """Roll target scores up a plan tree.

    Parameters
    ----------
    nodes
        ``(node_id, parent_id)`` pairs; ``parent_id`` None for a root. Several roots are allowed.
    leaves
        Targets as :class:`Leaf` or ``(leaf_id, node_id, status, score[, weight])`` tuples; the
        score from :func:`target_scores`.
    node_weight
        What a child node weighs in its parent: ``"leaves"`` (the sum of the weights of the
        evaluable targets below it; default) or ``"equal"`` (1).

    Returns
    -------
    dict
        A :class:`NodeScore` per node id, in the order of ``nodes``.

    Raises
    ------
    ScoreTreeError
        Duplicate ids, an unknown parent or node, a cycle, a weight that is not positive, or a
        score that does not fit its status.
    """
    if node_weight not in ("leaves", "equal"):
        msg = f"node_weight must be 'leaves' or 'equal', not {node_weight!r}"
        raise ScoreTreeError(msg)
    parent_of, kids = _tree(nodes)
    own = _leaves(leaves, parent_of)

    results: dict[Hashable, NodeScore] = {}
    below: dict[Hashable, float] = {}  # Σ weights of the evaluable targets below a node
    for node_id in _bottom_up(parent_of, kids):
        counts = dict.fromkeys(Status, 0)
        children: list[tuple[Hashable, bool, float | None, Status, float]] = []
        weights_below: list[float] = []
        for kid in kids[node_id]:
            sub = results[kid]
            for status, count in sub.counts.items():
                counts[status] += count
            weights_below.append(below[kid])
            children.append((kid, True, sub.score, sub.status, sub.weight))
        for leaf in own[node_id]:
            status = Status(leaf.status)
            counts[status] += 1
            if leaf.score is not None:
                weights_below.append(leaf.weight)
            children.append((leaf.leaf_id, False, leaf.score, status, leaf.weight))
        below[node_id] = math.fsum(weights_below)
        scored = [(c[2], c[4]) for c in children if c[2] is not None]
        total = math.fsum(w for _, w in scored)
        score: float | None = None
        if scored:
            mean = math.fsum(s * w for s, w in scored) / total
            # the mean of numbers lies between them; keep it there through rounding too
            score = min(max(mean, min(s for s, _ in scored)), max(s for s, _ in scored))
        evaluable = sum(n for st, n in counts.items() if st is not Status.not_evaluable)
        node_status = score_status(
            np.nan if score is None else score,
            all_achieved=evaluable > 0 and counts[Status.achieved] == evaluable,
            all_missed=evaluable > 0 and counts[Status.missed] == evaluable,
        )
        results[node_id] = NodeScore(
            node_id=node_id,
            parent_id=parent_of[node_id],
            score=score,
            status=Status(str(node_status[()])),
            weight=below[node_id] if node_weight == "leaves" else 1.0,
            children=tuple(
                ChildScore(cid, is_node, sc, st, w, w / total if sc is not None else 0.0)
                for cid, is_node, sc, st, w in children
            ),
            counts=counts,
            evaluable=evaluable,
            not_evaluable=counts[Status.not_evaluable],
        )
    return {node_id: results[node_id] for node_id in parent_of}


def _tree(
    nodes: Iterable[tuple[Hashable, Hashable | None]],
) -> tuple[dict[Hashable, Hashable | None], dict[Hashable, list[Hashable]]]:
    """Parent of each node and its child nodes, in input order; refuses duplicates and unknown parents."""
    parent_of: dict[Hashable, Hashable | None] = {}
    for node_id, parent_id in nodes:
        if node_id in parent_of:
            msg = f"node {node_id!r} is listed twice"
            raise ScoreTreeError(msg)
        parent_of[node_id] = parent_id
    kids: dict[Hashable, list[Hashable]] = {node_id: [] for node_id in parent_of}
    for node_id, parent_id in parent_of.items():
        if parent_id is None:
            continue
        if parent_id not in parent_of:
            msg = f"node {node_id!r} has parent {parent_id!r}, which is not a node"
            raise ScoreTreeError(msg)
        kids[parent_id].append(node_id)
    return parent_of, kids


def _bottom_up(
    parent_of: Mapping[Hashable, Hashable | None], kids: Mapping[Hashable, Sequence[Hashable]]
) -> list[Hashable]:
    """Every node after all its descendants; refuses cycles (nodes no root leads to)."""
    order = [node_id for node_id, parent_id in parent_of.items() if parent_id is None]
    for node_id in order:  # grows while it is walked: breadth first
        order.extend(kids[node_id])
    if len(order) < len(parent_of):
        reached = set(order)
        cycle = [node_id for node_id in parent_of if node_id not in reached]
        msg = f"nodes {cycle!r} are in a cycle: no root leads to them"
        raise ScoreTreeError(msg)
    return order[::-1]


def _leaves(
    leaves: Iterable[LeafLike],
    parent_of: Mapping[Hashable, Hashable | None],
) -> dict[Hashable, list[Leaf]]:
    """The targets of each node, checked: known node and status, a score that fits the status, a
    positive weight, no id twice."""
    own: dict[Hashable, list[Leaf]] = {node_id: [] for node_id in parent_of}
    seen: set[Hashable] = set()
    statuses = {s.value for s in Status}
    for item in leaves:
        leaf = Leaf(*item)
        where = f"target {leaf.leaf_id!r}"
        if leaf.leaf_id in seen:
            msg = f"{where} is listed twice"
            raise ScoreTreeError(msg)
        seen.add(leaf.leaf_id)
        if leaf.node_id not in own:
            msg = f"{where} is under {leaf.node_id!r}, which is not a node"
            raise ScoreTreeError(msg)
        if str(leaf.status) not in statuses:
            msg = f"{where} has unknown status {leaf.status!r}"
            raise ScoreTreeError(msg)
        status = Status(leaf.status)
        if not (math.isfinite(leaf.weight) and leaf.weight > 0):
            msg = f"{where} has weight {leaf.weight!r}; weights must be positive"
            raise ScoreTreeError(msg)
        score = None if leaf.score is None or math.isnan(leaf.score) else float(leaf.score)
        if (score is None) != (status is Status.not_evaluable):
            msg = f"{where} is {status.value} with score {leaf.score!r}: only not_evaluable has no score"
            raise ScoreTreeError(msg)
        if score is not None:
            fits = SCORE_MIN <= score <= SCORE_MAX and (
                (status is Status.achieved and score == SCORE_MAX)
                or (status is Status.missed and score == SCORE_MIN)
                or (status in IN_PROGRESS and str(score_status(score)[()]) == status.value)
            )
            if not fits:
                msg = f"{where} is {status.value} but scores {score!r}; score it with target_scores"
                raise ScoreTreeError(msg)
        own[leaf.node_id].append(leaf._replace(status=status, score=score, weight=float(leaf.weight)))
    return own
