"""Suggest a request's type from its free text (诉求智能分类), shown with a confidence and confirmed by
a person.

Two suggesters, one interface (:class:`RequestClassifier`):

* **keyword rules** (:class:`KeywordRules`), built from each type's ``keywords`` in the catalogue,
  used while the history is small;
* **a model** trained on the request history: character 1–3-gram TF-IDF (no word segmentation,
  so unseen place names and typos do no harm) and a multinomial logistic regression, whose softmax
  output is a probability, so the confidence shown means what it says (measured: on held-out
  synthetic texts the mean confidence was within 0.03 of the accuracy; see ``docs/requests.md``).

The model takes over once there are at least :data:`MIN_LABELLED` labelled requests and at least
two types with :data:`MIN_PER_TYPE` each. It learns only the types that have :data:`MIN_PER_TYPE`
examples; a type newer than that is not suggested by the model until it has (a person still
picks it). The labels are the final type of every request whose type a person confirmed
(``type_confirmed``): a re-categorised request teaches the model its corrected type for free.

Below :data:`CONFIDENCE_THRESHOLD` a suggestion says it needs a person (``needs_person``); it is
still shown. Keyword confidences are the share of the matched keyword characters that belong to
the best type, scaled by :data:`KEYWORD_CONFIDENCE_CAP`: a keyword can sit in a negation or in a
side remark, so the rules never claim more than that.

Nothing is stored on disk: a pickled model is code, and a model file would need its own
invalidation. :func:`classifier_for` trains from the database on first use (about 5 s for 50,000
requests on one core) and keeps the classifier in the process, keyed by the database, until the
labelled history grows by more than :data:`REFRESH_GROWTH` (or shrinks, or the catalogue's codes
or keywords change), which it checks at most every :data:`RECHECK_SECONDS`. With
``background=True`` a stale classifier keeps answering while its successor trains in a thread, so
no citizen waits for a retrain.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Self

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.metrics import precision_recall_fscore_support  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from planwatch.errors import InvalidValueError
from planwatch.models import ServiceRequest, ServiceType

__all__ = [
    "CONFIDENCE_THRESHOLD",
    "KEYWORD_CONFIDENCE_CAP",
    "MIN_LABELLED",
    "MIN_PER_TYPE",
    "RECHECK_SECONDS",
    "KeywordRules",
    "Method",
    "RequestClassifier",
    "Suggestion",
    "TrainingSet",
    "classifier_for",
    "clear_classifier_cache",
    "evaluate_classifier",
    "labelled_history",
    "normalise_text",
    "training_set",
]

Method = Literal["model", "keywords"]

MIN_LABELLED: Final = 200
"""Labelled requests needed before the model replaces the keyword rules."""
MIN_PER_TYPE: Final = 10
"""Labelled requests a type needs before the model learns it."""
CONFIDENCE_THRESHOLD: Final = 0.5
"""Below this a suggestion ``needs_person`` (人工判断)."""
KEYWORD_CONFIDENCE_CAP: Final = 0.7
"""The most the keyword rules claim: a keyword can sit in a negation or a side remark."""
TOP_K: Final = 3
"""The suggestion and its alternatives are the top three types."""
MAX_TEXT_CHARS: Final = 1000
"""Only the first characters of a description are read: the type shows early, and long texts
would only slow training."""
MAX_TRAINING_ROWS: Final = 100_000
"""The newest labelled requests the model is trained on (bounds training time and memory)."""
REFRESH_GROWTH: Final = 0.05
"""Retrain when the labelled history has grown by more than this share."""
RECHECK_SECONDS: Final = 30.0
"""How often a cached classifier is compared with the database (a count over the labelled
requests: about 20 ms on 50,000, too much for every request)."""

_NOT_WORD = re.compile(r"[^\w]+")


def normalise_text(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, punctuation and runs of white space to one
    space, cut to :data:`MAX_TEXT_CHARS`.

    Punctuation becomes a space so that character n-grams stay inside a clause.
    """
    folded = unicodedata.normalize("NFKC", text[: MAX_TEXT_CHARS * 2]).lower()
    return _NOT_WORD.sub(" ", folded).replace("_", " ").strip()[:MAX_TEXT_CHARS]


@dataclass(frozen=True)
class Suggestion:
    """A suggested type. ``code`` and ``alternatives`` (the runners-up, best first, at most two)
    are the top three; scores are probabilities (model) or keyword shares (rules), 0–1."""

    code: str
    confidence: float
    method: Method
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    needs_person: bool = True
    """Below the confidence threshold: a person picks the type (the suggestion is still shown)."""
    simulated: bool = False
    """The model was trained on simulated requests (模拟数据), as in the demo."""


class KeywordRules:
    """Keyword rules: every keyword found in the text scores its type by its length, longest
    keywords first and without overlaps (燃气泄漏 wins over 燃气 in the same place).

    Parameters
    ----------
    keywords : type code → its keywords; every code is a type the rules may suggest
    fallback : the type suggested when no keyword matches (with confidence 0); by default
        ``other`` when it is a code, else the first code
    """

    def __init__(self, keywords: Mapping[str, Sequence[str]], *, fallback: str | None = None) -> None:
        if not keywords:
            raise InvalidValueError(
                "no active request types to suggest from; load the catalogue first / 没有可用的诉求类型"
            )
        self.codes: tuple[str, ...] = tuple(sorted(keywords))
        owners: dict[str, set[str]] = {}
        for code, words in keywords.items():
            for word in words:
                normal = normalise_text(word)
                if normal:
                    owners.setdefault(normal, set()).add(code)
        self._keywords = sorted(owners.items(), key=lambda item: (-len(item[0]), item[0]))
        if fallback is None:
            fallback = "other" if "other" in keywords else self.codes[0]
        if fallback not in keywords:
            raise InvalidValueError(f"fallback type {fallback!r} is not one of the rules' types")
        self.fallback = fallback

    @classmethod
    def from_service_types(cls, types: Iterable[ServiceType]) -> Self:
        """Rules from the active types of the catalogue."""
        return cls({t.code: list(t.keywords or []) for t in types if t.active})

    @property
    def fingerprint(self) -> str:
        """Changes whenever the codes or keywords change."""
        payload = json.dumps([self.codes, [(w, sorted(c)) for w, c in self._keywords]], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def scores(self, text: str) -> dict[str, float]:
        """Matched keyword characters per type (types without a match left out)."""
        normal = normalise_text(text)
        taken = bytearray(len(normal))
        scores: dict[str, float] = {}
        for word, codes in self._keywords:
            start = normal.find(word)
            while start >= 0:
                end = start + len(word)
                if not any(taken[start:end]):
                    taken[start:end] = b"\x01" * len(word)
                    for code in codes:
                        scores[code] = scores.get(code, 0.0) + len(word)
                start = normal.find(word, end)
        return scores

    def suggest(self, text: str, *, threshold: float = CONFIDENCE_THRESHOLD) -> Suggestion:
        """The type with the most matched keyword characters (ties: by code)."""
        scores = self.scores(text)
        total = sum(scores.values())
        if total <= 0:
            return Suggestion(self.fallback, 0.0, "keywords", [], needs_person=True)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:TOP_K]
        shares = [(code, round(KEYWORD_CONFIDENCE_CAP * score / total, 4)) for code, score in ranked]
        code, confidence = shares[0]
        return Suggestion(code, confidence, "keywords", shares[1:], needs_person=confidence < threshold)


def _vectorizer() -> TfidfVectorizer:
    # texts arrive normalised (normalise_text), so no second lower-casing; rare n-grams (min_df)
    # are noise and memory
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        lowercase=False,
        sublinear_tf=True,
        min_df=2,
        max_features=200_000,
        dtype=np.float32,
    )


def _logistic() -> LogisticRegression:
    # multinomial (softmax) probabilities; a loose tolerance stops lbfgs after ~15 iterations on
    # 50,000 texts with the held-out accuracy and calibration of the converged fit
    return LogisticRegression(C=10.0, tol=1e-3, max_iter=200)


_THREADS = ThreadpoolController()
"""Training runs on one thread: its OpenMP threads fighting the web server's threads (and other
processes) on a busy two-core machine made a fit up to ten times slower. The limit is process-wide
while a fit runs; scoring needs none (a sparse product and a softmax)."""


class _Model:
    """TF-IDF + logistic regression over normalised texts."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        self.vectorizer = _vectorizer()
        matrix = self.vectorizer.fit_transform(texts)
        self.regression = _logistic()
        with _THREADS.limit(limits=1), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            self.regression.fit(matrix, list(labels))
        self.converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        self.classes: tuple[str, ...] = tuple(str(c) for c in self.regression.classes_)
        # char_wb pads every clause with spaces, so the blank n-grams occur in any text at all
        names = self.vectorizer.get_feature_names_out()
        self.content: npt.NDArray[np.intp] = np.flatnonzero([not str(n).isspace() for n in names])

    def probabilities(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Class probabilities per text, and whether the text had any known n-gram."""
        matrix = self.vectorizer.transform(texts)
        known = np.diff(matrix[:, self.content].indptr) > 0
        probabilities = np.asarray(self.regression.predict_proba(matrix), dtype=np.float64)
        return probabilities, known


class RequestClassifier:
    """Suggests a request's type: keyword rules while the history is small, then a model.

    ``fit`` decides which (``method_``); ``suggest`` answers either way. Attributes after ``fit``:
    ``method_``, ``n_labelled_`` (labels of known types), ``model_types_`` (types the model
    learnt), ``simulated_`` (some training rows were simulated), ``train_seconds_``.

    Parameters
    ----------
    rules : the keyword rules; their codes are the types that may be suggested
    threshold : below this confidence a suggestion needs a person
    min_labelled, min_per_type : when the model takes over (see the module text)
    """

    def __init__(
        self,
        rules: KeywordRules,
        *,
        threshold: float = CONFIDENCE_THRESHOLD,
        min_labelled: int = MIN_LABELLED,
        min_per_type: int = MIN_PER_TYPE,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise InvalidValueError(f"threshold must lie between 0 and 1, got {threshold}")
        self.rules = rules
        self.threshold = threshold
        self.min_labelled = max(int(min_labelled), 1)
        self.min_per_type = max(int(min_per_type), 1)
        self.method_: Method = "keywords"
        self.n_labelled_ = 0
        self.model_types_: tuple[str, ...] = ()
        self.simulated_ = False
        self.train_seconds_ = 0.0
        self.converged_ = True
        self._model: _Model | None = None

    def fit(self, texts: Sequence[str], labels: Sequence[str], *, simulated: bool = False) -> Self:
        """Train on labelled texts (labels are type codes; unknown codes are ignored)."""
        if len(texts) != len(labels):
            raise InvalidValueError(f"{len(texts)} texts but {len(labels)} labels; give one label per text")
        started = time.perf_counter()
        known = set(self.rules.codes)
        pairs = [
            (normalise_text(t or ""), code) for t, code in zip(texts, labels, strict=True) if code in known
        ]
        counts: dict[str, int] = {}
        for _, code in pairs:
            counts[code] = counts.get(code, 0) + 1
        learnt = {code for code, n in counts.items() if n >= self.min_per_type}
        kept = [(text, code) for text, code in pairs if code in learnt]
        self.n_labelled_ = len(pairs)
        self.simulated_ = simulated
        self._model, self.method_, self.model_types_, self.converged_ = None, "keywords", (), True
        if len(pairs) >= self.min_labelled and len(learnt) >= 2:
            try:
                model = _Model([t for t, _ in kept], [c for _, c in kept])
            except ValueError:  # no n-gram occurs twice (texts empty or all different): keep the rules
                model = None
            if model is not None:
                self._model, self.method_, self.model_types_ = model, "model", model.classes
                self.converged_ = model.converged
        self.train_seconds_ = time.perf_counter() - started
        return self

    def suggest(self, text: str) -> Suggestion:
        """The suggested type of one text (any text, empty included)."""
        return self.suggest_many([text])[0]

    def suggest_many(self, texts: Sequence[str]) -> list[Suggestion]:
        """Suggestions for many texts at once (the model scores them in one pass)."""
        if self._model is None:
            return [self.rules.suggest(text, threshold=self.threshold) for text in texts]
        normal = [normalise_text(text or "") for text in texts]
        probabilities, known = self._model.probabilities(normal)
        classes = self._model.classes
        out: list[Suggestion] = []
        for row, text, has_features in zip(probabilities, normal, known, strict=True):
            if not has_features:  # nothing the model has seen: its answer would be the class priors
                out.append(self.rules.suggest(text, threshold=self.threshold))
                continue
            order = np.argsort(-row, kind="stable")[:TOP_K]
            ranked = [(classes[i], round(float(row[i]), 4)) for i in order]
            code, confidence = ranked[0]
            out.append(
                Suggestion(
                    code,
                    confidence,
                    "model",
                    ranked[1:],
                    needs_person=confidence < self.threshold,
                    simulated=self.simulated_,
                )
            )
        return out


# —— the classifier of a database ——


@dataclass(frozen=True)
class TrainingSet:
    """The labelled history: texts, their confirmed type codes, and whether any is simulated."""

    texts: list[str]
    labels: list[str]
    simulated: bool


def training_set(session: Session, *, limit: int = MAX_TRAINING_ROWS) -> TrainingSet:
    """The newest ``limit`` requests whose type a person confirmed, with their final type code."""
    r = ServiceRequest
    query = (
        select(func.substr(r.description, 1, MAX_TEXT_CHARS), ServiceType.code, r.simulated)
        .join(ServiceType, ServiceType.id == r.service_type_id)
        .where(r.type_confirmed.is_(True), ServiceType.active.is_(True))
        .order_by(r.id.desc())
        .limit(limit)
    )
    rows = session.execute(query).all()
    return TrainingSet(
        texts=[str(text or "") for text, _, _ in rows],
        labels=[str(code) for _, code, _ in rows],
        simulated=any(bool(s) for _, _, s in rows),
    )


def labelled_history(session: Session, *, limit: int = MAX_TRAINING_ROWS) -> tuple[list[str], list[str]]:
    """The texts and confirmed type codes of :func:`training_set` (for ``evaluate_classifier``)."""
    data = training_set(session, limit=limit)
    return data.texts, data.labels


@dataclass
class _Cached:
    classifier: RequestClassifier
    fingerprint: str
    labelled: int
    max_id: int
    checked_at: float = field(default_factory=time.monotonic)
    """When the history and catalogue were last compared with the database."""
    retraining: threading.Thread | None = None


_CACHE: dict[str, _Cached] = {}
_LOCK = threading.Lock()
"""Guards ``_CACHE``; held only for look-ups and stores."""
_TRAINING = threading.Lock()
"""One synchronous training at a time: concurrent first calls wait for it instead of repeating it."""


def clear_classifier_cache() -> None:
    """Forget every cached classifier (tests; after a bulk import)."""
    with _LOCK:
        _CACHE.clear()


def _database_key(session: Session) -> str:
    return str(session.get_bind().engine.url.render_as_string(hide_password=True))


def _stale(cached: _Cached, fingerprint: str, labelled: int, max_id: int) -> bool:
    if cached.fingerprint != fingerprint or labelled < cached.labelled or max_id < cached.max_id:
        return True  # another catalogue, or rows deleted (another database behind the same URL)
    crossed = cached.labelled < MIN_LABELLED <= labelled
    return crossed or labelled > cached.labelled * (1 + REFRESH_GROWTH)


def _cached(key: str, fingerprint: str, labelled: int, max_id: int) -> tuple[_Cached | None, bool]:
    """The cached entry of a database and whether it is still fresh."""
    with _LOCK:
        cached = _CACHE.get(key)
    return cached, cached is not None and not _stale(cached, fingerprint, labelled, max_id)


def _train(key: str, rules: KeywordRules, data: TrainingSet, labelled: int, max_id: int) -> RequestClassifier:
    classifier = RequestClassifier(rules).fit(data.texts, data.labels, simulated=data.simulated)
    with _LOCK:
        _CACHE[key] = _Cached(classifier, rules.fingerprint, labelled, max_id)
    return classifier


def classifier_for(
    session: Session, *, background: bool = False, recheck_seconds: float = RECHECK_SECONDS
) -> RequestClassifier:
    """The classifier of this database: trained on its labelled history, cached in the process.

    Parameters
    ----------
    background : when the cached classifier is only out of date because the history grew, return
        it and train its successor in a thread (the web app: no request waits for a retrain); on
        the first call, answer with the keyword rules while the model trains in a thread;
        otherwise (and after a catalogue change) train now
    recheck_seconds : a cached classifier younger than this is returned without looking at the
        database (so a catalogue change shows within this time, or at once after
        :func:`clear_classifier_cache`)
    """
    key = _database_key(session)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and time.monotonic() - cached.checked_at < recheck_seconds:
            return cached.classifier
    types = session.scalars(select(ServiceType).where(ServiceType.active.is_(True))).all()
    rules = KeywordRules.from_service_types(types)
    r = ServiceRequest
    count, top = session.execute(
        select(func.count(r.id), func.coalesce(func.max(r.id), 0)).where(r.type_confirmed.is_(True))
    ).one()
    labelled, max_id = int(count), int(top)
    cached, fresh = _cached(key, rules.fingerprint, labelled, max_id)
    if cached is not None and fresh:
        with _LOCK:
            cached.checked_at = time.monotonic()
        return cached.classifier
    grown = (
        cached is not None
        and cached.fingerprint == rules.fingerprint
        and labelled >= cached.labelled
        and max_id >= cached.max_id
    )
    if background and cached is not None and grown:
        with _LOCK:
            if cached.retraining is not None and cached.retraining.is_alive():
                return cached.classifier
        data = training_set(session)  # read in this thread: a session belongs to its thread
        thread = threading.Thread(
            target=_train, args=(key, rules, data, labelled, max_id), name="planwatch-classifier", daemon=True
        )
        with _LOCK:
            cached.retraining = thread
        thread.start()
        return cached.classifier
    if background and cached is None and labelled >= MIN_LABELLED:
        # the first call of a web process: keyword rules answer at once while the model trains in
        # a thread (50,000 requests take seconds; an Open311 client must not wait for them)
        interim = RequestClassifier(rules)
        data = training_set(session)
        thread = threading.Thread(
            target=_train, args=(key, rules, data, labelled, max_id), name="planwatch-classifier", daemon=True
        )
        with _LOCK:
            if key in _CACHE:  # another request got here first
                return _CACHE[key].classifier
            _CACHE[key] = _Cached(interim, rules.fingerprint, 0, 0, retraining=thread)
        thread.start()
        return interim
    with _TRAINING:
        cached, fresh = _cached(key, rules.fingerprint, labelled, max_id)
        if cached is not None and fresh:  # trained by another thread while this one waited
            return cached.classifier
        return _train(key, rules, training_set(session), labelled, max_id)


# —— evaluation ——


def _calibration_error(confidence: npt.NDArray[np.float64], correct: npt.NDArray[np.bool_]) -> float:
    """Expected calibration error over ten equal-width confidence bins."""
    bins = np.minimum((confidence * 10).astype(np.int64), 9)
    error = 0.0
    for b in np.unique(bins):
        mask = bins == b
        error += float(mask.mean()) * abs(float(confidence[mask].mean()) - float(correct[mask].mean()))
    return error


def evaluate_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    threshold: float = CONFIDENCE_THRESHOLD,
    rules: KeywordRules | None = None,
) -> dict[str, Any]:
    """Stratified k-fold cross-validation of the model (TF-IDF + logistic regression).

    Types with fewer labelled texts than ``folds`` cannot be split and are left out (listed in
    ``skipped_types``). With ``rules`` the keyword rules are scored on the same texts too.

    Returns
    -------
    dict
        ``n``, ``folds``, ``accuracy``, ``macro_f1``, ``per_type`` (code → precision, recall, f1,
        support), ``mean_confidence``, ``calibration_error`` (ECE, 10 bins), ``confident_share``
        and ``confident_accuracy`` (confidence ≥ ``threshold``), ``train_seconds`` (mean per
        fold), ``skipped_types``, and ``keywords`` (accuracy, macro F1) when ``rules`` are given.
    """
    if folds < 2:
        raise InvalidValueError(f"folds must be at least 2, got {folds}")
    if len(texts) != len(labels):
        raise InvalidValueError(f"{len(texts)} texts but {len(labels)} labels; give one label per text")
    counts: dict[str, int] = {}
    for code in labels:
        counts[code] = counts.get(code, 0) + 1
    skipped = sorted(code for code, n in counts.items() if n < folds)
    keep = [i for i, code in enumerate(labels) if counts[code] >= folds]
    if len({labels[i] for i in keep}) < 2:
        raise InvalidValueError(f"cross-validation needs two types with at least {folds} texts each")
    normal = np.array([normalise_text(texts[i] or "") for i in keep], dtype=object)
    truth = np.array([labels[i] for i in keep], dtype=object)
    predicted = np.empty(len(keep), dtype=object)
    confidence = np.zeros(len(keep), dtype=np.float64)
    seconds: list[float] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(keep)), truth):
        started = time.perf_counter()
        model = _Model(list(normal[train]), list(truth[train]))
        seconds.append(time.perf_counter() - started)
        probabilities, _ = model.probabilities(list(normal[test]))
        best = probabilities.argmax(axis=1)
        predicted[test] = np.array(model.classes, dtype=object)[best]
        confidence[test] = probabilities[np.arange(len(test)), best]
    correct = predicted == truth
    codes = sorted(set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=codes, zero_division=0
    )
    confident = confidence >= threshold
    report: dict[str, Any] = {
        "n": len(keep),
        "folds": folds,
        "seed": seed,
        "accuracy": float(correct.mean()),
        "macro_f1": float(np.mean(f1)),
        "per_type": {
            code: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, code in enumerate(codes)
        },
        "mean_confidence": float(confidence.mean()),
        "calibration_error": _calibration_error(confidence, correct),
        "threshold": threshold,
        "confident_share": float(confident.mean()),
        "confident_accuracy": float(correct[confident].mean()) if confident.any() else None,
        "train_seconds": float(np.mean(seconds)),
        "skipped_types": skipped,
    }
    if rules is not None:
        guessed = np.array([rules.suggest(t).code for t in normal], dtype=object)
        _, _, keyword_f1, _ = precision_recall_fscore_support(truth, guessed, labels=codes, zero_division=0)
        report["keywords"] = {
            "accuracy": float((guessed == truth).mean()),
            "macro_f1": float(np.mean(keyword_f1)),
        }
    return report
