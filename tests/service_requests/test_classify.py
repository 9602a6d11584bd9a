"""The suggested request type: keyword rules, the model, the per-database classifier, evaluation."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import InvalidValueError
from planwatch.models import Division, ServiceRequest, ServiceType
from planwatch.models.enums import RequestChannel, RequestKind, RequestState
from planwatch.service_requests import classify
from planwatch.service_requests.classify import (
    KEYWORD_CONFIDENCE_CAP,
    KeywordRules,
    RequestClassifier,
    classifier_for,
    clear_classifier_cache,
    evaluate_classifier,
    labelled_history,
    normalise_text,
)

# —— synthetic request texts (模拟数据): template phrases per type ——

PHRASES = {
    "elderly_care": [
        "社区养老服务中心没有开门",
        "老年食堂饭菜价格上涨",
        "高龄补贴一直没有发放",
        "附近没有日间照料中心",
        "养老院收费不透明",
    ],
    "education": [
        "孩子入学划片不合理",
        "小学学位紧张",
        "幼儿园报名系统打不开",
        "校车接送时间不合理",
        "初中招生政策咨询",
    ],
    "sanitation": [
        "垃圾桶满了没人清运",
        "小区门口垃圾堆积",
        "公厕很脏没人保洁",
        "垃圾分类点污水横流",
        "道路保洁不及时",
    ],
    "road_facility": ["路面坑洼不平", "井盖缺失很危险", "路灯不亮好几天", "人行道地砖破损", "护栏被撞坏"],
    "noise": ["工地夜间施工噪音很大", "广场舞音响扰民", "商铺音响太吵", "酒吧噪声扰民", "楼下烧烤店太吵"],
    "power_gas": ["小区突然停电", "电压不稳家电烧坏", "电费异常偏高", "燃气停气没有通知", "天然气气压不足"],
    "safety_hazard": [
        "闻到燃气泄漏的味道",
        "消防通道被堵",
        "楼房开裂像危房",
        "电线裸露有触电危险",
        "围墙可能倒塌",
    ],
    "other": ["想咨询户口迁移手续", "反映邻里纠纷", "建议增加政务服务窗口", "流浪狗伤人", "门牌号错误"],
}
KEYWORDS = {
    "elderly_care": ["养老", "老人", "老年", "养老院", "日间照料", "高龄"],
    "education": ["入学", "学位", "学校", "幼儿园", "小学", "初中", "校车"],
    "sanitation": ["垃圾", "清运", "保洁", "公厕", "垃圾桶"],
    "road_facility": ["路面", "坑洼", "井盖", "路灯", "人行道", "护栏"],
    "noise": ["噪声", "噪音", "扰民", "施工", "吵"],
    "power_gas": ["停电", "电压", "电费", "燃气", "天然气", "停气"],
    "safety_hazard": ["燃气泄漏", "消防通道", "危房", "触电", "电线裸露", "倒塌"],
    "other": [],
}
OPENERS = ["", "您好，", "市民来电反映：", "我要反映一个问题，"]
PLACES = ["", "我家小区", "家门口", "锦江区春熙路{n}号", "单位旁边"]
ASKS = ["", "希望尽快处理。", "请相关部门核实。", "多次反映没有结果。"]


def synthetic_texts(n: int, seed: int, *, confuse: float = 0.1) -> tuple[list[str], list[str]]:
    """``n`` synthetic request texts and their types; some mention a second problem."""
    rng = random.Random(seed)
    codes = sorted(PHRASES)
    texts, labels = [], []
    for _ in range(n):
        code = rng.choice(codes)
        text = rng.choice(OPENERS) + rng.choice(PLACES).format(n=rng.randint(1, 300))
        text += rng.choice(PHRASES[code]) + "，" + rng.choice(ASKS)
        if rng.random() < confuse:
            text += "另外" + rng.choice(PHRASES[rng.choice(codes)])
        texts.append(text)
        labels.append(code)
    return texts, labels


RULES = KeywordRules(KEYWORDS)


@pytest.fixture(scope="module")
def trained() -> RequestClassifier:
    texts, labels = synthetic_texts(1200, seed=1)
    return RequestClassifier(RULES).fit(texts, labels)


# —— normalisation and keyword rules ——


def test_normalising_folds_full_width_case_and_punctuation() -> None:
    """Full-width letters, digits and punctuation become half-width; spaces collapse."""
    assert normalise_text("  ＡＢＣ１２３，路灯！！\n\t不亮  ") == "abc123 路灯 不亮"


def test_the_longest_keyword_wins_its_place() -> None:
    """燃气泄漏 (a hazard) takes the place of 燃气 (a utility) inside it."""
    suggestion = RULES.suggest("楼道里燃气泄漏了")
    assert suggestion.code == "safety_hazard"
    assert suggestion.method == "keywords"
    assert suggestion.alternatives == []


def test_keyword_confidence_is_the_capped_share_of_matched_characters() -> None:
    """Two characters of sanitation against two of road facilities: half each, capped."""
    suggestion = RULES.suggest("路灯下面全是垃圾")
    assert suggestion.confidence == pytest.approx(KEYWORD_CONFIDENCE_CAP / 2)
    assert {suggestion.code, suggestion.alternatives[0][0]} == {"road_facility", "sanitation"}
    assert suggestion.needs_person


def test_no_keyword_suggests_the_fallback_with_no_confidence() -> None:
    """Text without any keyword falls back to 其他 and asks for a person."""
    suggestion = RULES.suggest("请问这个怎么办")
    assert (suggestion.code, suggestion.confidence, suggestion.needs_person) == ("other", 0.0, True)


def test_rules_need_a_type() -> None:
    """An empty catalogue is refused with a message saying what to do."""
    with pytest.raises(InvalidValueError, match="catalogue"):
        KeywordRules({})


def test_rules_fingerprint_follows_the_keywords() -> None:
    """Changing a keyword changes the fingerprint the cache is keyed by."""
    changed = KeywordRules({**KEYWORDS, "noise": ["噪声"]})
    assert changed.fingerprint != RULES.fingerprint
    assert KeywordRules(dict(KEYWORDS)).fingerprint == RULES.fingerprint


# —— the model ——


def test_a_small_history_keeps_the_keyword_rules() -> None:
    """Below the minimum of labelled requests the rules answer."""
    texts, labels = synthetic_texts(50, seed=2)
    classifier = RequestClassifier(RULES).fit(texts, labels)
    assert classifier.method_ == "keywords"
    assert classifier.suggest("井盖缺失").method == "keywords"


def test_the_model_takes_over_and_suggests_the_right_type(trained: RequestClassifier) -> None:
    """With enough history the model answers, confidently, with two alternatives."""
    assert trained.method_ == "model"
    suggestion = trained.suggest("你好，我家小区门口垃圾堆积好几天了，希望尽快处理")
    assert suggestion.method == "model"
    assert suggestion.code == "sanitation"
    assert suggestion.confidence > 0.8
    assert not suggestion.needs_person
    assert len(suggestion.alternatives) == 2
    assert suggestion.alternatives[0][1] >= suggestion.alternatives[1][1]


def test_the_model_reads_full_width_text(trained: RequestClassifier) -> None:
    """Full-width input is folded before it is scored."""
    assert trained.suggest("ＸＸ路井盖缺失！！").code == "road_facility"


def test_text_the_model_has_never_seen_falls_back_to_the_rules(trained: RequestClassifier) -> None:
    """Latin text shares no n-gram with the history: the rules answer, not the class priors."""
    suggestion = trained.suggest("hello world")
    assert suggestion.method == "keywords"
    assert suggestion.needs_person


def test_a_type_with_too_few_examples_is_not_learnt() -> None:
    """A type with fewer than min_per_type labels is left to a person."""
    texts, labels = synthetic_texts(600, seed=3)
    rare = [(t, c) for t, c in zip(texts, labels, strict=True) if c != "noise"]
    rare += [("广场舞音响扰民", "noise")] * 3
    classifier = RequestClassifier(RULES, min_per_type=10).fit([t for t, _ in rare], [c for _, c in rare])
    assert classifier.method_ == "model"
    assert "noise" not in classifier.model_types_
    assert classifier.n_labelled_ == len(rare)


def test_labels_of_unknown_types_are_ignored() -> None:
    """Codes the rules do not know (inactive types) do not count as history."""
    texts, labels = synthetic_texts(300, seed=4)
    classifier = RequestClassifier(RULES).fit(texts, ["retired_type"] * len(labels))
    assert (classifier.method_, classifier.n_labelled_) == ("keywords", 0)


def test_texts_and_labels_must_pair_up() -> None:
    """One label per text."""
    with pytest.raises(InvalidValueError, match="labels"):
        RequestClassifier(RULES).fit(["a", "b"], ["other"])


def test_a_threshold_outside_zero_to_one_is_refused() -> None:
    """The confidence threshold is a probability."""
    with pytest.raises(InvalidValueError, match="threshold"):
        RequestClassifier(RULES, threshold=1.5)


KNOWN = set(KEYWORDS)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_gets_a_known_type_and_a_probability(trained: RequestClassifier, text: str) -> None:
    """Arbitrary unicode, empty included: a known code, 0 ≤ confidence ≤ 1, ranked alternatives."""
    for suggestion in (trained.suggest(text), RULES.suggest(text)):
        assert suggestion.code in KNOWN
        assert 0.0 <= suggestion.confidence <= 1.0
        scores = [suggestion.confidence, *(score for _, score in suggestion.alternatives)]
        assert scores == sorted(scores, reverse=True)
        assert len(suggestion.alternatives) <= 2
        assert suggestion.code not in {code for code, _ in suggestion.alternatives}
        assert suggestion.needs_person == (suggestion.confidence < trained.threshold)


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.text(max_size=20), min_size=200, max_size=220), data=st.data())
def test_training_on_any_texts_never_crashes(texts: list[str], data: st.DataObject) -> None:
    """Garbage history (empty, unique, odd unicode texts) trains or keeps the rules."""
    labels = [data.draw(st.sampled_from(["noise", "other"])) for _ in texts]
    classifier = RequestClassifier(RULES, min_labelled=200, min_per_type=1).fit(texts, labels)
    assert classifier.method_ in {"model", "keywords"}
    assert classifier.suggest(texts[0]).code in KNOWN


# —— evaluation ——


def test_cross_validation_reports_accuracy_f1_and_calibration() -> None:
    """Five folds on synthetic texts: accurate, and confidence close to accuracy."""
    texts, labels = synthetic_texts(800, seed=5)
    texts.append("孤例")
    labels.append("rare")
    report = evaluate_classifier(texts, labels, folds=5, seed=0, rules=RULES)
    assert report["n"] == 800
    assert report["skipped_types"] == ["rare"]
    assert report["accuracy"] > 0.85
    assert 0.0 < report["macro_f1"] <= 1.0
    assert set(report["per_type"]) == set(PHRASES)
    assert sum(entry["support"] for entry in report["per_type"].values()) == 800
    assert report["calibration_error"] < 0.1
    assert 0.0 <= report["keywords"]["accuracy"] <= 1.0


def test_cross_validation_needs_two_types() -> None:
    """One type cannot be cross-validated."""
    with pytest.raises(InvalidValueError, match="two types"):
        evaluate_classifier(["a"] * 10, ["noise"] * 10)


# —— the classifier of a database ——

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_tokens = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_classifier_cache()
    yield
    clear_classifier_cache()


def _add(db: Session, texts: list[str], labels: list[str], *, confirmed: bool = True) -> None:
    types = dict(db.execute(select(ServiceType.code, ServiceType.id)).all())
    community = db.execute(select(Division.id).where(Division.code == "510104017001")).scalar_one()
    for text, code in zip(texts, labels, strict=True):
        at = NOW - timedelta(minutes=next(_tokens))
        db.add(
            ServiceRequest(
                token=f"classify-{next(_tokens)}", service_type_id=types[code], type_confirmed=confirmed,
                kind=RequestKind.complaint, state=RequestState.received, channel=RequestChannel.simulation,
                description=text, attributes={}, division_id=community, requested_at=at, updated_at=at,
                response_due_at=at, expected_at=at, simulated=True,
            )
        )  # fmt: skip
    db.flush()


def test_a_new_database_suggests_by_keywords(rdb: Session) -> None:
    """No history: the catalogue's keywords answer."""
    suggestion = classifier_for(rdb, recheck_seconds=0).suggest("小区电梯坏了三天")
    assert suggestion.method == "keywords"
    assert rdb.scalar(select(ServiceType.id).where(ServiceType.code == suggestion.code)) is not None


def test_the_classifier_learns_only_confirmed_types(rdb: Session) -> None:
    """Confirmed requests train the model; unconfirmed ones (a citizen's pick) do not count."""
    texts, labels = synthetic_texts(400, seed=6)
    _add(rdb, texts, labels)
    _add(rdb, ["路灯不亮好几天"] * 50, ["noise"] * 50, confirmed=False)
    classifier = classifier_for(rdb, recheck_seconds=0)
    assert classifier.method_ == "model"
    assert classifier.n_labelled_ == 400
    assert classifier.simulated_
    suggestion = classifier.suggest("路灯不亮好几天")
    assert (suggestion.code, suggestion.simulated) == ("road_facility", True)


def test_a_recategorised_request_teaches_its_final_type(rdb: Session) -> None:
    """The label is the request's type after a person corrected it."""
    texts, labels = synthetic_texts(400, seed=7)
    _add(rdb, texts, labels)
    _add(rdb, ["小区门口的快递柜坏了"] * 15, ["other"] * 15)
    assert classifier_for(rdb, recheck_seconds=0).suggest("小区门口的快递柜坏了").code == "other"
    texts, labels = labelled_history(rdb)
    assert len(texts) == len(labels) == 415
    assert labels[:15] == ["other"] * 15  # newest first


def test_the_classifier_is_cached_until_the_history_grows(rdb: Session) -> None:
    """Same history: the same object; more than 5 % more labels: a new one."""
    texts, labels = synthetic_texts(400, seed=8)
    _add(rdb, texts, labels)
    first = classifier_for(rdb, recheck_seconds=0)
    _add(rdb, texts[:10], labels[:10])  # 2.5 % more
    assert classifier_for(rdb, recheck_seconds=0) is first
    _add(rdb, texts[:20], labels[:20])  # 7.5 % more in all
    second = classifier_for(rdb, recheck_seconds=0)
    assert second is not first
    assert second.n_labelled_ == 430


def test_crossing_the_minimum_switches_to_the_model(rdb: Session) -> None:
    """From keywords to the model as soon as the history is large enough."""
    texts, labels = synthetic_texts(205, seed=9)
    _add(rdb, texts[:195], labels[:195])
    assert classifier_for(rdb, recheck_seconds=0).method_ == "keywords"
    _add(rdb, texts[195:], labels[195:])
    assert classifier_for(rdb, recheck_seconds=0).method_ == "model"


def test_a_catalogue_change_retrains(rdb: Session) -> None:
    """New keywords make a new classifier at once."""
    first = classifier_for(rdb, recheck_seconds=0)
    noise = rdb.scalar(select(ServiceType).where(ServiceType.code == "noise"))
    assert noise is not None
    noise.keywords = [*noise.keywords, "蛙鸣"]
    rdb.flush()
    second = classifier_for(rdb, recheck_seconds=0)
    assert second is not first
    assert second.suggest("池塘蛙鸣").code == "noise"


def test_background_retraining_answers_with_the_old_classifier(rdb: Session) -> None:
    """A stale classifier answers while its successor trains in a thread."""
    texts, labels = synthetic_texts(400, seed=10)
    _add(rdb, texts, labels)
    classifier_for(rdb, background=True, recheck_seconds=0)
    _join_training(rdb)
    first = classifier_for(rdb, background=True, recheck_seconds=0)
    assert first.method_ == "model"
    _add(rdb, texts[:100], labels[:100])
    assert classifier_for(rdb, background=True, recheck_seconds=0) is first
    thread = classify._CACHE[classify._database_key(rdb)].retraining
    assert thread is not None
    thread.join(timeout=60)
    successor = classifier_for(rdb, background=True, recheck_seconds=0)
    assert successor is not first
    assert successor.n_labelled_ == 500


def _join_training(db: Session) -> None:
    thread = classify._CACHE[classify._database_key(db)].retraining
    assert thread is not None
    thread.join(timeout=60)


def test_the_first_background_call_answers_by_keywords_while_the_model_trains(rdb: Session) -> None:
    """A web process's first request does not wait for training on the whole history."""
    texts, labels = synthetic_texts(400, seed=12)
    _add(rdb, texts, labels)
    interim = classifier_for(rdb, background=True, recheck_seconds=0)
    assert interim.method_ == "keywords"
    assert interim.suggest("小区电梯坏了三天").code in {"property", "other"}
    _join_training(rdb)
    trained = classifier_for(rdb, background=True, recheck_seconds=0)
    assert trained.method_ == "model"
    assert trained.n_labelled_ == 400


def test_a_cached_classifier_is_not_rechecked_within_the_interval(rdb: Session) -> None:
    """Between checks the cached classifier answers without a query, even if the history grew."""
    texts, labels = synthetic_texts(400, seed=11)
    _add(rdb, texts, labels)
    first = classifier_for(rdb)
    _add(rdb, texts[:100], labels[:100])
    assert classifier_for(rdb, recheck_seconds=3600) is first
    assert classifier_for(rdb, recheck_seconds=0) is not first
