"""Target scores (−5…+5) and their roll-up through the plan tree, after Open SDG."""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwatch.config import StatusThresholds
from planwatch.evaluation.progress import Status, classify, progress_ratio, trend_status
from planwatch.evaluation.scores import (
    Leaf,
    NodeScore,
    NodeWeight,
    ScoreTreeError,
    ratio_score,
    rollup_scores,
    score_status,
    target_scores,
)

NAN = math.nan


# --- a target's score ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "score"),
    [
        *[(-1.0, -5.0), (0.0, -5.0), (0.35, -3.75), (0.7, -2.5), (0.825, -1.25), (0.95, 0.0)],
        *[(1.0, 1.25), (1.05, 2.5), (1.575, 3.75), (2.1, 5.0), (10.0, 5.0)],
    ],
)
def test_score_at_the_thresholds_and_between(r: float, score: float) -> None:
    assert float(ratio_score(r)) == pytest.approx(score, abs=1e-12)


def test_score_just_below_a_threshold_stays_in_the_lower_band() -> None:
    below = np.nextafter(np.array([0.7, 0.95, 1.05]), -np.inf)
    scores = ratio_score(below)
    assert scores[0] < -2.5
    assert scores[1] < 0
    assert scores[2] < 2.5
    assert score_status(scores).tolist() == ["seriously_lagging", "lagging", "on_track"]


def test_score_follows_the_thresholds_setting() -> None:
    t = StatusThresholds(ahead=1.2, on_track=1.0, lagging=0.5)
    assert ratio_score([0.5, 1.0, 1.2, 2.4], t).tolist() == [-2.5, 0.0, 2.5, 5.0]
    assert float(ratio_score(1.8, t, ceiling=3.0)) == pytest.approx(2.5 + 2.5 * 0.6 / 1.8)
    assert float(ratio_score(0.25, t, floor=0.25)) == -5.0


def test_equal_thresholds_leave_an_empty_band() -> None:
    t = StatusThresholds(ahead=1.0, on_track=1.0, lagging=0.0)
    assert ratio_score([-0.5, 0.0, 0.5, 1.0], t).tolist() == [-5.0, -2.5, -1.25, 2.5]


def test_ceiling_must_be_above_ahead() -> None:
    with pytest.raises(ScoreTreeError, match="ceiling"):
        ratio_score(1.0, ceiling=1.0)


def test_target_scores_by_status() -> None:
    scores = target_scores(
        [0.1, 0.1, NAN, 0.8, 1.0],
        [Status.achieved, "missed", "not_evaluable", "lagging", Status.on_track],
    )
    assert scores[:2].tolist() == [5.0, -5.0]
    assert math.isnan(scores[2])
    assert scores[3:].tolist() == pytest.approx([-1.5, 1.25])


def test_a_status_without_r_scores_the_middle_of_its_band() -> None:
    # a trend target (持续下降) is judged on its year-on-year changes, not on r
    statuses = trend_status(
        [1.0, 0.5, 0.0, 1.0], [True, False, False, True], final=[False, False, False, True]
    )
    assert statuses.tolist() == ["on_track", "lagging", "seriously_lagging", "achieved"]
    assert target_scores(NAN, statuses).tolist() == [1.25, -1.25, -3.75, 5.0]
    assert float(target_scores(NAN, "ahead")) == 3.75


def test_target_scores_refuse_a_status_r_does_not_give() -> None:
    with pytest.raises(ScoreTreeError, match="does not match"):
        target_scores([0.8], ["ahead"])
    with pytest.raises(ScoreTreeError, match="unknown status"):
        target_scores([0.8], ["late"])


def test_score_status_bands() -> None:
    scores = [5.0, 2.5, 2.4, 0.0, -0.1, -2.5, -2.6, -5.0, NAN]
    assert score_status(scores).tolist() == [
        "ahead",
        "ahead",
        "on_track",
        "on_track",
        "lagging",
        "lagging",
        "seriously_lagging",
        "seriously_lagging",
        "not_evaluable",
    ]
    assert score_status([5.0, -5.0], all_achieved=[True, False], all_missed=[False, True]).tolist() == [
        "achieved",
        "missed",
    ]


# --- the tree ----------------------------------------------------------------------------------

# 纲要 ─┬─ 篇1 ─┬─ 章A: t1 achieved (5, w 1), t2 lagging (−1.5, w 3)
#       │       └─ 章B: t3 not evaluable (w 2)
#       └─ t4 on track (1.25, w 2), directly under the root
NODES: list[tuple[str, str | None]] = [("plan", None), ("part1", "plan"), ("chA", "part1"), ("chB", "part1")]
LEAVES = [
    Leaf("t1", "chA", Status.achieved, 5.0, 1.0),
    Leaf("t2", "chA", Status.lagging, -1.5, 3.0),
    Leaf("t3", "chB", Status.not_evaluable, None, 2.0),
    Leaf("t4", "plan", Status.on_track, 1.25, 2.0),
]


def test_tree_by_leaf_weights() -> None:
    res = rollup_scores(NODES, LEAVES)
    ch_a = res["chA"]
    assert ch_a.score == pytest.approx((5 * 1 - 1.5 * 3) / 4)  # 0.125
    assert ch_a.status is Status.on_track
    assert [(c.child_id, c.share) for c in ch_a.children] == [("t1", 0.25), ("t2", 0.75)]
    assert ch_a.weight == 4
    ch_b = res["chB"]
    assert (ch_b.score, ch_b.status, ch_b.weight) == (None, Status.not_evaluable, 0.0)
    assert (ch_b.evaluable, ch_b.not_evaluable) == (0, 1)
    part = res["part1"]
    assert part.score == pytest.approx(0.125)  # chB has nothing to add
    assert [(c.child_id, c.is_node, c.share) for c in part.children] == [
        ("chA", True, 1.0),
        ("chB", True, 0.0),
    ]
    root = res["plan"]
    # every evaluable target by its weight: (5·1 − 1.5·3 + 1.25·2) / 6 = 0.5
    assert root.score == pytest.approx(0.5)
    assert root.status is Status.on_track
    assert [(c.child_id, c.weight) for c in root.children] == [("part1", 4.0), ("t4", 2.0)]
    assert sum(c.share for c in root.children) == pytest.approx(1.0)
    assert root.counts[Status.achieved] == 1
    assert root.counts[Status.lagging] == 1
    assert root.counts[Status.on_track] == 1
    assert root.counts[Status.not_evaluable] == 1
    assert (root.evaluable, root.not_evaluable) == (3, 1)
    assert list(res) == ["plan", "part1", "chA", "chB"]
    assert root.parent_id is None
    assert res["chA"].parent_id == "part1"


def test_tree_by_equal_node_weights() -> None:
    res = rollup_scores(NODES, LEAVES, node_weight="equal")
    assert res["chA"].score == pytest.approx(0.125)  # targets keep their own weights
    root = res["plan"]
    # part1 weighs 1 beside t4's 2: (0.125·1 + 1.25·2) / 3 = 0.875
    assert root.score == pytest.approx(0.875)
    assert [c.child_id for c in root.children] == ["part1", "t4"]
    assert [c.share for c in root.children] == pytest.approx([1 / 3, 2 / 3])


def test_achieved_only_when_every_evaluable_target_below_is_achieved() -> None:
    saturated = float(ratio_score(3.0))
    assert saturated == 5.0
    nodes = [("n", None)]
    all_achieved = rollup_scores(
        nodes,
        [
            ("a", "n", "achieved", 5.0, 1.0),
            ("b", "n", "achieved", 5.0, 1.0),
            ("c", "n", "not_evaluable", None, 1.0),
        ],
    )
    assert all_achieved["n"].status is Status.achieved
    one_far_ahead = rollup_scores(
        nodes, [("a", "n", "achieved", 5.0, 1.0), ("b", "n", "ahead", saturated, 1.0)]
    )
    assert one_far_ahead["n"].score == 5.0
    assert one_far_ahead["n"].status is Status.ahead


def test_missed_only_when_every_evaluable_target_below_is_missed() -> None:
    res = rollup_scores(
        [("n", None), ("m", "n")], [("a", "m", "missed", -5.0, 1.0), ("b", "n", "missed", -5.0, 2.0)]
    )
    assert res["n"].status is Status.missed
    mixed = rollup_scores(
        [("n", None)], [("a", "n", "missed", -5.0, 1.0), ("b", "n", "seriously_lagging", -5.0, 1.0)]
    )
    assert mixed["n"].status is Status.seriously_lagging


def test_a_node_with_nothing_below_is_not_evaluable() -> None:
    res = rollup_scores([("root", None), ("empty", "root")], [])
    assert res["root"].status is Status.not_evaluable
    assert res["root"].score is None
    assert res["empty"].children == ()


def test_plain_tuples_with_default_weight() -> None:
    res = rollup_scores([("n", None)], [("a", "n", "on_track", 1.0), ("b", "n", "lagging", -1.0, 3.0)])
    assert res["n"].score == pytest.approx((1.0 - 3.0) / 4)


@pytest.mark.parametrize(
    ("nodes", "leaves", "match"),
    [
        ([("a", None), ("a", None)], [], "listed twice"),
        ([("a", "zz")], [], "not a node"),
        ([("r", None), ("a", "b"), ("b", "a")], [], "cycle"),
        ([("a", "a")], [], "cycle"),
        ([("a", None)], [("t", "zz", "achieved", 5.0, 1.0)], "not a node"),
        ([("a", None)], [("t", "a", "achieved", 5.0, 1.0), ("t", "a", "achieved", 5.0, 1.0)], "listed twice"),
        ([("a", None)], [("t", "a", "achieved", 5.0, 0.0)], "weights must be positive"),
        ([("a", None)], [("t", "a", "achieved", 5.0, NAN)], "weights must be positive"),
        ([("a", None)], [("t", "a", "achieved", 4.0, 1.0)], "scores 4.0"),
        ([("a", None)], [("t", "a", "ahead", 1.0, 1.0)], "scores 1.0"),
        ([("a", None)], [("t", "a", "lagging", None, 1.0)], "only not_evaluable"),
        ([("a", None)], [("t", "a", "not_evaluable", 1.0, 1.0)], "only not_evaluable"),
        ([("a", None)], [("t", "a", "late", 1.0, 1.0)], "unknown status"),
    ],
)
def test_tree_refuses_bad_input(
    nodes: list[tuple[str, str | None]], leaves: list[tuple[object, ...]], match: str
) -> None:
    with pytest.raises(ScoreTreeError, match=match):
        rollup_scores(nodes, leaves)  # type: ignore[arg-type]


def test_unknown_node_weight_is_refused() -> None:
    with pytest.raises(ScoreTreeError, match="node_weight"):
        rollup_scores(NODES, LEAVES, node_weight="median")  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

ratios = st.floats(min_value=-3, max_value=5, allow_nan=False)
modes: st.SearchStrategy[NodeWeight] = st.sampled_from(["leaves", "equal"])


@st.composite
def thresholds(draw: st.DrawFn) -> StatusThresholds:
    cuts = sorted(
        draw(st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=3, max_size=3))
    )
    return StatusThresholds(lagging=cuts[0], on_track=cuts[1], ahead=cuts[2])


@given(ratios, ratios, thresholds())
def test_score_is_monotone_in_r(r1: float, r2: float, t: StatusThresholds) -> None:
    lo, hi = sorted((r1, r2))
    s_lo, s_hi = float(ratio_score(lo, t)), float(ratio_score(hi, t))
    assert -5 <= s_lo <= s_hi <= 5


@given(
    st.floats(min_value=0.01, max_value=0.99, allow_nan=False),
    st.floats(min_value=-2, max_value=2, allow_nan=False),
    thresholds(),
)
def test_score_maps_back_to_the_status_classify_gives(tau: float, pi: float, t: StatusThresholds) -> None:
    status = classify(tau, pi, False, t)
    score = target_scores(progress_ratio(tau, pi), status, t)
    assert np.atleast_1d(score_status(score)).tolist() == np.atleast_1d(status).tolist()


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[tuple[int, int | None]], list[Leaf]]:
    n_nodes = draw(st.integers(1, 12))
    nodes: list[tuple[int, int | None]] = [(0, None)]
    for i in range(1, n_nodes):
        nodes.append((i, draw(st.one_of(st.none(), st.integers(0, i - 1)))))
    leaves: list[Leaf] = []
    for j in range(draw(st.integers(0, 20))):
        node = draw(st.integers(0, n_nodes - 1))
        weight = draw(st.floats(min_value=0.1, max_value=100, allow_nan=False))
        kind = draw(st.sampled_from(["progress", "progress", "achieved", "missed", "not_evaluable"]))
        if kind == "progress":
            r = draw(ratios)
            score = float(ratio_score(r))
            status: str = str(score_status(score)[()])
        else:
            score = {"achieved": 5.0, "missed": -5.0, "not_evaluable": NAN}[kind]
            status = kind
        leaves.append(Leaf(f"t{j}", node, status, None if math.isnan(score) else score, weight))
    return nodes, leaves


def summary(res: Mapping[Hashable, NodeScore]) -> dict[Hashable, tuple[object, ...]]:
    return {
        k: (
            v.score,
            v.status,
            v.weight,
            dict(v.counts),
            sorted((str(c.child_id), c.share) for c in v.children),
        )
        for k, v in res.items()
    }


@given(trees(), modes)
def test_node_score_lies_between_its_children(
    tree: tuple[list[tuple[int, int | None]], list[Leaf]], mode: NodeWeight
) -> None:
    nodes, leaves = tree
    res = rollup_scores(nodes, leaves, node_weight=mode)
    for node in res.values():
        scores = [c.score for c in node.children if c.score is not None]
        if not scores:
            assert node.score is None
            assert node.status is Status.not_evaluable
            continue
        assert node.score is not None
        assert min(scores) <= node.score <= max(scores)
        assert sum(c.share for c in node.children) == pytest.approx(1.0)
        assert node.evaluable + node.not_evaluable == sum(node.counts.values())
        assert str(score_status(node.score)) == node.status.value or node.status in (
            Status.achieved,
            Status.missed,
        )


@given(trees(), modes, st.data())
def test_a_not_evaluable_target_changes_no_score(
    tree: tuple[list[tuple[int, int | None]], list[Leaf]], mode: NodeWeight, data: st.DataObject
) -> None:
    nodes, leaves = tree
    node = data.draw(st.integers(0, len(nodes) - 1))
    extra = Leaf("extra", node, Status.not_evaluable, None, data.draw(st.floats(min_value=0.1, max_value=10)))
    before = rollup_scores(nodes, leaves, node_weight=mode)
    after = rollup_scores(nodes, [*leaves, extra], node_weight=mode)
    for key, b in before.items():
        a = after[key]
        assert (a.score, a.status, a.evaluable, a.weight) == (b.score, b.status, b.evaluable, b.weight)
    assert after[node].not_evaluable == before[node].not_evaluable + 1


@given(trees(), modes, st.randoms(use_true_random=False))
def test_permuting_nodes_and_targets_changes_nothing(
    tree: tuple[list[tuple[int, int | None]], list[Leaf]], mode: NodeWeight, rnd: random.Random
) -> None:
    nodes, leaves = tree
    shuffled_nodes, shuffled_leaves = list(nodes), list(leaves)
    rnd.shuffle(shuffled_nodes)
    rnd.shuffle(shuffled_leaves)
    before = rollup_scores(nodes, leaves, node_weight=mode)
    after = rollup_scores(shuffled_nodes, shuffled_leaves, node_weight=mode)
    assert summary(after) == summary(before)
