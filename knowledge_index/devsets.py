"""The shared development sets (``../shared/datasets``) as (KB, queries) pairs.

Each loader returns a `DevSet`: ``kb`` rows (``sentence,label``: each label one article) and
``queries`` rows, whose label is `OOS` when the query should be escalated. The protocol of each
set is in docs/evaluation.md; `CALIBRATION` sets are only ever used to calibrate thresholds, the
others only to report.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .baselines import Bm25Ranker, CachedEmbedder, KnnRanker, ProductionRanker
from .confidence import FEATURES
from .confidence import fit as fit_confidence
from .decision import (
    DEFAULT_PRECISION_TARGET,
    Calibration,
    Thresholds,
    calibrate,
    calibrate_precision,
)
from .embedder import Embedder
from .evaluation import Labeled, Ranker, article_ids, evaluate, risk_coverage
from .multilingual import query_language

__all__ = ["CALIBRATION", "DEFAULT_DATASETS", "MULTILINGUAL_CALIBRATION", "OOS", "REPORTED", "TARGETS", "DevSet"]
__all__ += ["SuiteResult"]
__all__ += ["calibrate_project", "features", "load", "run_suite", "small_kbs", "table"]

DEFAULT_DATASETS = "../shared/datasets"
OOS = "oos"


@dataclass(frozen=True)
class DevSet:
    name: str
    kb: tuple[Labeled, ...]
    queries: tuple[Labeled, ...]
    oos_label: str | None = None


def clinc150(root: Path, split: str) -> DevSet:
    """KB: the 15,000 train sentences of the 150 intents. Queries: ``split`` + ``oos_<split>``."""
    data = json.loads((root / "clinc150_oos" / "data_full.json").read_text(encoding="utf-8"))
    kb = _rows(data["train"])
    queries = _rows(data[split] + data[f"oos_{split}"])
    return DevSet(f"clinc150-{split}", kb, queries, OOS)


def banking77_oos(root: Path, split: str) -> DevSet:
    """KB: train of the 50 in-scope intents. Queries: ``split`` in-scope + ID-OOS + OOD-OOS."""
    return _with_oos(root / "banking77_oos", split, f"banking77-oos-{split}")


def clinc_single_domain(root: Path, domain: str) -> DevSet:
    """A small KB: the 500 train sentences of 10 CLINC150 intents of one ``domain`` (banking or
    credit_cards). Queries: test in-scope 500 + ID-OOS 350 (the domain's 5 other intents) + OOD-OOS
    1,000. Never used for calibrating or choosing anything: a check that the thresholds carry over."""
    return _with_oos(root / "clinc_single_domain_oos" / domain, "test", f"clinc-{domain.replace('_', '-')}-test")


def _with_oos(base: Path, split: str, name: str) -> DevSet:
    kb = _parallel(base / "train")
    queries = _parallel(base / split) + _parallel(base / "id-oos" / split) + _parallel(base / "ood-oos" / split)
    return DevSet(name, tuple(kb), tuple(queries), OOS)


def arbanking77(root: Path) -> DevSet:
    """Cross-lingual: KB: the English BANKING77-OOS train (50 in-scope intents). Queries: the 2,464
    Arabic ArBanking77 MSA+PAL valid sentences; those of the other 27 intents are labelled `OOS`."""
    kb = tuple(_parallel(root / "banking77_oos" / "train"))
    labels = {row.label for row in kb}
    base = root / "arbanking77"
    with open(base / "Banking77_intents.csv", encoding="utf-8", newline="") as handle:
        english = {r["label_ar"].strip(): r["label_en"].strip().replace(" ", "_") for r in csv.DictReader(handle)}
    with open(base / "Banking77_Arabized_MSA_PAL_val.csv", encoding="utf-8", newline="") as handle:
        pairs = [(r["text"], english[r["label"].strip()]) for r in csv.DictReader(handle)]
    return DevSet("arbanking77-valid", kb, _rows([(t, x if x in labels else OOS) for t, x in pairs]), OOS)


def deepset_covid_en(root: Path) -> DevSet:
    """An English FAQ calibration set: KB: the 92 distinct English FAQ questions (``question_1`` of
    ``eval_question_similarity_en.csv``). Queries: the 244 paraphrases with ``similar`` = 1."""
    return _similarity_pairs(root / "deepset_covid_faq" / "eval_question_similarity_en.csv", "deepset-covid-en")


def stackfaq(root: Path) -> DevSet:
    """KB: the 125 thread questions (one article each). Queries: the 1,249 usable paraphrases."""
    data = json.loads((root / "stackfaq" / "stackExchange-FAQ.json").read_text(encoding="utf-8"))
    kb, queries = [], []
    for pair in data["root"]["qapair"]:
        question = " ".join(pair["question"].split())
        kb.append((question, question))
        rephrasings = pair["rephr"] if isinstance(pair["rephr"], list) else [pair["rephr"]]
        queries += [(text, question) for text in rephrasings if text and text.strip() not in ("", "*")]
    return DevSet("stackfaq", _rows(kb), _rows(queries))


def jhu_covidfaq(root: Path) -> DevSet:
    """KB: the 68 FAQ questions, one article per distinct answer (67), titled by its first question.
    Queries: the 1,387 user queries deduplicated on lower-cased text (1,037); a query mapped to
    several answers is right with any of them."""
    records = json.loads((root / "jhu_covidfaq" / "query_answer_pairs.json").read_text(encoding="utf-8"))
    title: dict[str, str] = {}
    kb = []
    for record in records:
        if record["query_type"] == "faq":
            question = " ".join(record["question"].split())
            kb.append((question, title.setdefault(record["answer"], question)))
    text: dict[str, str] = {}
    answers: dict[str, Counter[str]] = {}
    for record in records:
        if record["query_type"] == "user_query":
            query = " ".join(record["question"].split())
            text.setdefault(query.lower(), query)
            answers.setdefault(query.lower(), Counter())[title[record["answer"]]] += 1
    queries = []
    for key, counts in answers.items():
        labels = [label for label, _ in counts.most_common()]
        queries.append(Labeled(text[key], labels[0], also=tuple(labels[1:])))
    return DevSet("jhu-covidfaq", _rows(kb), tuple(queries))


def xsid(root: Path, language: str) -> DevSet:
    """KB: the 300 English valid sentences (15 intents). Queries: the 500 ``language`` test sentences;
    the 4 whose intent has no KB sentence (alarm/time_left_on_alarm) are labelled `OOS`."""
    kb = _conll(root / "xsid" / "en.valid.conll")
    labels = {row.label for row in kb}
    queries = tuple(row if row.label in labels else Labeled(row.text, OOS)
                    for row in _conll(root / "xsid" / f"{language}.test.conll"))
    return DevSet(f"xsid-{language}", kb, queries, OOS)


def deepset_covid_de(root: Path) -> DevSet:
    """KB: the 109 distinct German FAQ questions (``question_1``). Queries: the 312 paraphrases
    with ``similar`` = 1, each to retrieve its ``question_1``."""
    return _similarity_pairs(root / "deepset_covid_faq" / "eval_question_similarity_de.csv", "deepset-covid-de")


def _similarity_pairs(path: Path, name: str) -> DevSet:
    with open(path, encoding="utf-8", newline="") as handle:
        pairs = [(" ".join(r["question_1"].split()), " ".join(r["question_2"].split()), r["similar"])
                 for r in csv.DictReader(handle)]
    kb = [(faq, faq) for faq in dict.fromkeys(faq for faq, _, _ in pairs)]
    return DevSet(name, _rows(kb), _rows([(q, faq) for faq, q, similar in pairs if similar == "1"]))


CALIBRATION: dict[str, Callable[[Path], DevSet]] = {
    "clinc150-val": lambda root: clinc150(root, "val"),
    "banking77-oos-valid": lambda root: banking77_oos(root, "valid"),
}
# Calibration sets of the confidence model only (precision objective): an FAQ with one question per article.
FAQ_CALIBRATION: dict[str, Callable[[Path], DevSet]] = {"deepset-covid-en": deepset_covid_en}
# The project's thresholds for questions routed to the multilingual model: no English query goes there.
MULTILINGUAL_CALIBRATION: dict[str, Callable[[Path], DevSet]] = {"arbanking77-valid": arbanking77}
REPORTED: dict[str, Callable[[Path], DevSet]] = {
    "clinc150-test": lambda root: clinc150(root, "test"),
    "banking77-oos-test": lambda root: banking77_oos(root, "test"),
    "clinc-banking-test": lambda root: clinc_single_domain(root, "banking"),
    "clinc-credit-cards-test": lambda root: clinc_single_domain(root, "credit_cards"),
    "stackfaq": stackfaq,
    "jhu-covidfaq": jhu_covidfaq,
    "xsid-en": lambda root: xsid(root, "en"),
    "xsid-de": lambda root: xsid(root, "de"),
    "xsid-ar": lambda root: xsid(root, "ar"),
    "deepset-covid-de": deepset_covid_de,
}


# Small knowledge bases drawn from each calibration set (`small_kbs`): how many, and their size.
SMALL_KBS, SMALL_KB_TOPICS = 6, 10


def small_kbs(dataset: DevSet, count: int = SMALL_KBS, topics: int = SMALL_KB_TOPICS, seed: int = 0) -> list[DevSet]:
    """``count`` small knowledge bases drawn from ``dataset``, like a shop's FAQ: each holds the KB
    rows of ``topics`` random labels; its queries are theirs, and as many others (of the other
    labels, or OOS already), labelled `OOS`. They teach the confidence model how margins and votes
    behave among few topics; the reported sets are never drawn from."""
    rng = random.Random(seed)
    labels = sorted({row.label for row in dataset.kb})
    drawn = []
    for number in range(count):
        chosen = set(rng.sample(labels, min(topics, len(labels))))
        inside = [q for q in dataset.queries if q.label in chosen]
        outside = [Labeled(q.text, OOS) for q in dataset.queries if q.label not in chosen]
        queries = inside + rng.sample(outside, min(len(inside), len(outside)))
        drawn.append(DevSet(f"{dataset.name}-small-{number + 1}", tuple(r for r in dataset.kb if r.label in chosen),
                            tuple(queries), OOS))
    return drawn


def load(name: str, root: str | Path = DEFAULT_DATASETS) -> DevSet:
    """The development set ``name`` (a key of `CALIBRATION` or `REPORTED`) from ``root``."""
    loader = CALIBRATION.get(name) or FAQ_CALIBRATION.get(name) or MULTILINGUAL_CALIBRATION.get(name) \
        or REPORTED.get(name)
    if loader is None:
        raise KeyError(f"unknown development set {name!r}")
    dataset = loader(Path(root))
    return DevSet(name, dataset.kb, dataset.queries, dataset.oos_label)


def _rows(pairs: list[tuple[str, str]] | list[list[str]]) -> tuple[Labeled, ...]:
    return tuple(Labeled(" ".join(text.split()), label) for text, label in pairs if text.strip())


def _parallel(folder: Path) -> list[Labeled]:
    texts = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    labels = (folder / "label").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise ValueError(f"{folder}: {len(texts)} sentences but {len(labels)} labels")
    return list(_rows(list(zip(texts, (label.strip() for label in labels), strict=True))))


def _conll(path: Path) -> tuple[Labeled, ...]:
    pairs: list[tuple[str, str]] = []
    text = intent = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("# text = "):
            text = line.removeprefix("# text = ")
        elif line.startswith("# intent = "):
            intent = line.removeprefix("# intent = ").strip()
        elif not line.strip():
            if text is not None and intent is not None:
                pairs.append((text, intent))
            text = intent = None
    return _rows(pairs)


# --- the dev suite -----------------------------------------------------------------------------

RankerFactory = Callable[[Sequence[Labeled], dict[str, str]], Ranker]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Features = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_],
                 npt.NDArray[np.bool_]]

# (set, metric key, metric as shown, target): the targets table, in its order.
_P, _R = "answer_precision", "answered_right_rate"
TARGETS = (
    ("clinc150-test", _P, "answer precision", ">= 0.97"),
    ("clinc150-test", _R, "answered right", ">= 0.85"),
    ("clinc150-test", "overall_accuracy", "overall accuracy", ">= 0.904"),
    ("clinc150-test", "auroc", "AUROC in scope vs OOS", ">= 0.95"),
    ("clinc150-test", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("clinc150-test", "aurc", "AURC (lower is better)", "-"),
    ("clinc150-test", "clarification_rate", "clarification rate", ""),
    ("banking77-oos-test", _P, "answer precision", ">= 0.90"),
    ("banking77-oos-test", _R, "answered right", ">= 0.70"),
    ("banking77-oos-test", "overall_accuracy", "overall accuracy", ">= 0.790"),
    ("banking77-oos-test", "auroc", "AUROC in scope vs OOS", ">= 0.95"),
    ("banking77-oos-test", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("banking77-oos-test", "aurc", "AURC (lower is better)", "-"),
    ("clinc-banking-test", _P, "answer precision (held out)", ">= 0.92"),
    ("clinc-banking-test", _R, "answered right (held out)", ">= 0.85"),
    ("clinc-banking-test", "auroc_right", "AUROC right vs wrong (held out)", "> kNN"),
    ("clinc-credit-cards-test", _P, "answer precision (held out)", ">= 0.92"),
    ("clinc-credit-cards-test", _R, "answered right (held out)", ">= 0.85"),
    ("clinc-credit-cards-test", "auroc_right", "AUROC right vs wrong (held out)", "> kNN"),
    ("stackfaq", _P, "answer precision", ">= 0.98"),
    ("stackfaq", _R, "answered right", ">= 0.92"),
    ("stackfaq", "accuracy_at_1", "Hit@1", ""),
    ("stackfaq", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("jhu-covidfaq", _P, "answer precision", ">= 0.85"),
    ("jhu-covidfaq", _R, "answered right", ">= 0.50"),
    ("jhu-covidfaq", "accuracy_at_1", "Hit@1", ""),
    ("jhu-covidfaq", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("xsid-en", _P, "answer precision", ""),
    ("xsid-en", _R, "answered right", ""),
    ("xsid-de", _P, "answer precision", ">= 0.95"),
    ("xsid-de", _R, "answered right", ">= 0.75"),
    ("xsid-de", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("xsid-ar", _P, "answer precision", ">= 0.95"),
    ("xsid-ar", _R, "answered right", ">= 0.75"),
    ("xsid-ar", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("deepset-covid-de", _P, "answer precision", ">= 0.70"),
    ("deepset-covid-de", _R, "answered right", ">= 0.30"),
    ("deepset-covid-de", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("clinc150-test", "latency_ms_p50", "latency p50 ms", ""),
    ("clinc150-test", "latency_ms_p99", "latency p99 ms", ""),
)
METHODS = ("bm25", "minilm_knn", "similarity", "project")


def features(dataset: DevSet, ranker: Ranker) -> Features:
    """Per query: top score, second score (-inf if none), top right, right among the top two, OOS."""
    ids = article_ids([row.label for row in dataset.kb])
    rankings = ranker.rank([row.text for row in dataset.queries])
    gold = [set() if q.label == dataset.oos_label else {ids[x] for x in (q.label, *q.also)} for q in dataset.queries]
    return (
        np.array([hits[0].score if hits else 0.0 for hits in rankings], dtype=np.float64),
        np.array([hits[1].score if len(hits) > 1 else -np.inf for hits in rankings], dtype=np.float64),
        np.array([bool(hits) and hits[0].article_id in g for hits, g in zip(rankings, gold, strict=True)]),
        np.array([any(h.article_id in g for h in hits[:2]) for hits, g in zip(rankings, gold, strict=True)]),
        np.array([not g for g in gold]),
    )


def calibration_features(
    root: str | Path, factory: RankerFactory, log: Callable[[str], None] = print,
    sets: Sequence[str] = tuple(CALIBRATION), english: bool | None = None,
) -> Features:
    """`features` of the calibration ``sets``, pooled; with ``english`` set, only of the queries
    routed to the English model (True) or to the multilingual one (False)."""
    parts = []
    for name in sets:
        dataset = load(name, root)
        log(f"calibration set {name}: {len(dataset.queries)} queries")
        arrays = features(dataset, factory(dataset.kb, article_ids([row.label for row in dataset.kb])))
        if english is not None:
            keep = np.array([(query_language(row.text) == "en") == english for row in dataset.queries])
            arrays = tuple(array[keep] for array in arrays)  # type: ignore[assignment]
        parts.append(arrays)
    top, second, top_right, in_two, oos = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    return top, second, top_right, in_two, oos


@dataclass(frozen=True)
class Calibrated:
    """The project's calibration per route, with summaries."""

    english: Calibration
    multilingual: Calibration
    english_summary: dict[str, Any]
    multilingual_summary: dict[str, Any]


Objective = Literal["precision", "accuracy"]


def candidates(
    dataset: DevSet, ranker: ProductionRanker, english: bool, *, every_query: bool = False
) -> tuple[FloatArray, BoolArray, BoolArray]:
    """For the queries routed to the English model (``english``) or to the multilingual one (with
    ``every_query``: all queries, in the multilingual model's space): the `confidence.FEATURES` of
    their two best topics (queries x 2 x features; nan for a missing second topic), whether each is
    right, and whether the query is OOS."""
    ids = article_ids([row.label for row in dataset.kb])
    if every_query:
        queries = list(dataset.queries)
        ranker.embedders[-1].encode([" ".join(q.text.split()) for q in queries])  # in batches
    else:
        queries = [q for q in dataset.queries if (query_language(" ".join(q.text.split())) == "en") == english]
        ranker.rank([q.text for q in queries], 1)  # encodes the queries in batches
    rows, right = [], []
    for query in queries:
        gold = set() if query.label == dataset.oos_label else {ids[x] for x in (query.label, *query.also)}
        found = ranker.index.features(query.text, 2, language="other" if every_query else None)
        rows.append([found[0][1], found[1][1] if len(found) > 1 else np.full(len(FEATURES), np.nan)])
        right.append([found[0][0] in gold, len(found) > 1 and found[1][0] in gold])
    oos = np.array([q.label == dataset.oos_label for q in queries], dtype=np.bool_)
    shape = (0, 2, len(FEATURES))
    return (np.array(rows, np.float64).reshape(-1, 2, len(FEATURES)) if rows else np.zeros(shape),
            np.array(right, np.bool_).reshape(-1, 2), oos)


def calibrate_project(
    root: str | Path, english: Embedder, multilingual: Embedder, log: Callable[[str], None] = print, *,
    objective: Objective = "precision",
) -> Calibrated:
    """The project's calibration, never on a test split. With the ``precision`` objective, a
    confidence model and thresholds for every precision target (`decision.calibrate_precision`):
    for English questions on the `CALIBRATION` and `FAQ_CALIBRATION` sets, for all others on the
    `MULTILINGUAL_CALIBRATION` sets and on those English sets in the multilingual model's space;
    each set with `small_kbs` drawn from it. With ``accuracy``, thresholds on the similarity that
    maximise overall accuracy (`decision.calibrate`, the objective before) on the pooled
    `CALIBRATION` sets for English and the `MULTILINGUAL_CALIBRATION` sets for the rest."""
    caches = CachedEmbedder(english), CachedEmbedder(multilingual)
    found = {}
    for route, sets, model in ((True, CALIBRATION, english), (False, MULTILINGUAL_CALIBRATION, multilingual)):
        if objective == "accuracy":
            factory: RankerFactory = lambda kb, ids: ProductionRanker(  # noqa: E731
                kb, ids, *caches, thresholds=Thresholds(), multilingual_thresholds=Thresholds())
            thresholds, summary = calibrate(*calibration_features(root, factory, log, tuple(sets), english=route))
            found[route] = Calibration(thresholds), {"sets": list(sets), "model": model.name, "objective": objective,
                                                     **summary}
            continue
        # The multilingual model also learns from the English sets in its own space (monolingual,
        # like a German question against German articles).
        english_sets = (*CALIBRATION, *FAQ_CALIBRATION)
        jobs = [(name, False) for name in english_sets] if route else [
            *((name, False) for name in sets), *((name, True) for name in english_sets)]
        parts = []
        for name, every_query in jobs:
            full = load(name, root)
            for dataset in (full, *small_kbs(full)):
                ids = article_ids([row.label for row in dataset.kb])
                ranker = ProductionRanker(dataset.kb, ids, *caches, thresholds=Thresholds(),
                                          multilingual_thresholds=Thresholds())
                parts.append(candidates(dataset, ranker, route, every_query=every_query))
            log(f"calibration set {name}{' (multilingual space)' if every_query else ''} and {SMALL_KBS} small "
                f"knowledge bases drawn from it: {sum(len(p[2]) for p in parts)} queries so far")
        features = np.concatenate([p[0] for p in parts])
        right = np.concatenate([p[1] for p in parts])
        oos = np.concatenate([p[2] for p in parts])
        flat, flat_right = features.reshape(-1, len(FEATURES)), right.reshape(-1)
        present = ~np.isnan(flat).any(axis=1)
        confidence = fit_confidence(flat[present], flat_right[present])
        scores = np.full(len(flat), -np.inf)
        scores[present] = confidence.probabilities(flat[present])
        top, second = scores.reshape(-1, 2).T
        points = calibrate_precision(top, second, right[:, 0], right[:, 0] | right[:, 1], oos)
        default = next(p for p in points if abs(p.target - DEFAULT_PRECISION_TARGET) < 1e-9)
        summary = {"sets": [f"{name} (multilingual space)" if every else name for name, every in jobs],
                   "model": model.name, "objective": objective, "queries": len(oos),
                   "precision_target": DEFAULT_PRECISION_TARGET, "precision": default.precision,
                   "answered_right": default.answered_right}
        found[route] = Calibration(default.thresholds, confidence, points), summary
    return Calibrated(found[True][0], found[False][0], found[True][1], found[False][1])


@dataclass
class SuiteResult:
    thresholds: dict[str, Thresholds]  # per method; the project's ("project", "project_multilingual") shipped
    recalibrated: Calibrated  # what `calibrate_project` gives in this run
    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # set -> method -> metrics
    # set -> method -> (coverage, risk): the risk-coverage curve, at most CURVE_POINTS points
    curves: dict[str, dict[str, tuple[list[float], list[float]]]] = field(default_factory=dict)
    seconds: float = 0.0


CURVE_POINTS = 100


def run_suite(
    root: str | Path, english: Embedder, multilingual: Embedder, shipped: tuple[Calibration, Calibration], *,
    latency_sample: int = 200, log: Callable[[str], None] = print, target: float = DEFAULT_PRECISION_TARGET,
) -> SuiteResult:
    """Calibrate the baselines at answer precision ``target`` and the project's previous method (the
    similarity, thresholds for overall accuracy), recalibrate the project (to check the ``shipped``
    English and multilingual calibrations), then evaluate the four methods on every `REPORTED` set."""
    started = time.perf_counter()
    cache, other = CachedEmbedder(english), CachedEmbedder(multilingual)
    factories: dict[str, RankerFactory] = {
        "bm25": Bm25Ranker,
        "minilm_knn": lambda kb, ids: KnnRanker(kb, ids, cache),
    }
    thresholds = {}
    for method, factory in factories.items():
        top, _, top_right, _, oos = calibration_features(root, factory, log)
        none = np.full(len(top), -np.inf)
        point = calibrate_precision(top, none, top_right, top_right.copy(), oos, targets=(target,))[0]
        thresholds[method] = point.thresholds
        log(f"calibrated {method}")
    previous = calibrate_project(root, cache, other, log, objective="accuracy")  # the caches: embed once
    recalibrated = calibrate_project(root, cache, other, log)
    factories["similarity"] = lambda kb, ids: ProductionRanker(kb, ids, cache, other, thresholds=previous.english,
                                                               multilingual_thresholds=previous.multilingual)
    factories["project"] = lambda kb, ids: ProductionRanker(kb, ids, cache, other, thresholds=shipped[0],
                                                            multilingual_thresholds=shipped[1],
                                                            precision_target=target)
    result = SuiteResult({**thresholds, "similarity": previous.english.thresholds,
                          "similarity_multilingual": previous.multilingual.thresholds,
                          "project": shipped[0].at(target), "project_multilingual": shipped[1].at(target)},
                         recalibrated)
    for name in REPORTED:
        dataset = load(name, root)
        ids = article_ids([row.label for row in dataset.kb])
        for method, factory in factories.items():
            sample = latency_sample if method == "project" else 0
            rows, figures = evaluate(dataset.kb, dataset.queries, dataset.oos_label, factory(dataset.kb, ids),
                                     result.thresholds.get(method), latency_sample=sample)
            result.metrics.setdefault(name, {})[method] = figures
            coverage, risk = risk_coverage([r.decision.confidence for r in rows], [r.rank == 1 for r in rows])
            step = max(1, len(coverage) // CURVE_POINTS)
            keep = sorted({*range(0, len(coverage), step), len(coverage) - 1}) if coverage else []
            result.curves.setdefault(name, {})[method] = ([round(coverage[i], 4) for i in keep],
                                                          [round(risk[i], 4) for i in keep])
        log(f"evaluated {name}: {len(dataset.queries)} queries")
    result.seconds = time.perf_counter() - started
    return result


def table(result: SuiteResult) -> str:
    """The suite as a Markdown table: set, metric, the four methods, target."""
    lines = ["| set | metric | BM25 | MiniLM kNN | similarity (before) | project | target |",
             "|---|---|---|---|---|---|---|"]
    for name, key, shown, target in TARGETS:
        cells = [_cell(result.metrics[name][method].get(key)) for method in METHODS]
        lines.append(f"| {name} | {shown} | {' | '.join(cells)} | {target or '-'} |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1 else f"{value}"
