"""The shared development sets (``../shared/datasets``) as (KB, queries) pairs.

Each loader returns a `DevSet`: ``kb`` rows (``sentence,label``: each label one article) and
``queries`` rows, whose label is `OOS` when the query should be escalated. The protocol of each
set is in docs/evaluation.md; `CALIBRATION` sets are only ever used to calibrate thresholds, the
others only to report.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .baselines import Bm25Ranker, CachedEmbedder, KnnRanker, ProductionRanker
from .decision import Thresholds, calibrate, calibrate_answer
from .embedder import Embedder
from .evaluation import Labeled, Ranker, article_ids, evaluate
from .multilingual import query_language

__all__ = ["CALIBRATION", "DEFAULT_DATASETS", "MULTILINGUAL_CALIBRATION", "OOS", "REPORTED", "TARGETS", "DevSet"]
__all__ += ["SuiteResult"]
__all__ += ["calibrate_project", "features", "load", "run_suite", "table"]

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
    path = root / "deepset_covid_faq" / "eval_question_similarity_de.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        pairs = [(" ".join(r["question_1"].split()), " ".join(r["question_2"].split()), r["similar"])
                 for r in csv.DictReader(handle)]
    kb = [(faq, faq) for faq in dict.fromkeys(faq for faq, _, _ in pairs)]
    return DevSet("deepset-covid-de", _rows(kb), _rows([(q, faq) for faq, q, similar in pairs if similar == "1"]))


CALIBRATION: dict[str, Callable[[Path], DevSet]] = {
    "clinc150-val": lambda root: clinc150(root, "val"),
    "banking77-oos-valid": lambda root: banking77_oos(root, "valid"),
}
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


def load(name: str, root: str | Path = DEFAULT_DATASETS) -> DevSet:
    """The development set ``name`` (a key of `CALIBRATION` or `REPORTED`) from ``root``."""
    loader = CALIBRATION.get(name) or MULTILINGUAL_CALIBRATION.get(name) or REPORTED.get(name)
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
Features = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_],
                 npt.NDArray[np.bool_]]

# (set, metric key, metric as shown, target): the targets table, in its order.
TARGETS = (
    ("clinc150-test", "overall_accuracy", "overall accuracy", ">= 0.90"),
    ("clinc150-test", "oos_recall", "OOS recall", ">= 0.85"),
    ("clinc150-test", "oos_precision", "OOS precision", ">= 0.90"),
    ("clinc150-test", "auroc", "AUROC", ""),
    ("clinc150-test", "clarification_rate", "clarification rate", ""),
    ("banking77-oos-test", "overall_accuracy", "overall accuracy", ">= 0.78"),
    ("banking77-oos-test", "auroc", "AUROC", ""),
    ("clinc-banking-test", "overall_accuracy", "overall accuracy (held out)", ""),
    ("clinc-credit-cards-test", "overall_accuracy", "overall accuracy (held out)", ""),
    ("stackfaq", "accuracy_at_1", "Hit@1", ">= 0.97"),
    ("stackfaq", "mrr_at_10", "MRR@10", ">= 0.98"),
    ("jhu-covidfaq", "accuracy_at_1", "Hit@1", ">= 0.78"),
    ("jhu-covidfaq", "mrr_at_10", "MRR@10", ">= 0.85"),
    ("xsid-de", "accuracy_at_1", "accuracy@1", ">= 0.90"),
    ("xsid-ar", "accuracy_at_1", "accuracy@1", ">= 0.85"),
    ("xsid-en", "accuracy_at_1", "accuracy@1", ">= 0.91"),
    ("deepset-covid-de", "accuracy_at_1", "Hit@1", ">= 0.55"),
    ("clinc150-test", "latency_ms_p50", "latency p50 ms", ""),
    ("clinc150-test", "latency_ms_p99", "latency p99 ms", ""),
)
METHODS = ("bm25", "minilm_knn", "project")


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
    """The project's thresholds per route, with summaries of the calibration."""

    english: Thresholds
    multilingual: Thresholds
    english_summary: dict[str, Any]
    multilingual_summary: dict[str, Any]


def calibrate_project(
    root: str | Path, english: Embedder, multilingual: Embedder, log: Callable[[str], None] = print
) -> Calibrated:
    """The project's thresholds: for English questions on the pooled `CALIBRATION` sets, for all
    others on the `MULTILINGUAL_CALIBRATION` sets (never a test split)."""
    caches = CachedEmbedder(english), CachedEmbedder(multilingual)
    factory: RankerFactory = lambda kb, ids: ProductionRanker(kb, ids, *caches)  # noqa: E731
    found = {}
    for route, sets, model in ((True, CALIBRATION, english), (False, MULTILINGUAL_CALIBRATION, multilingual)):
        thresholds, summary = calibrate(*calibration_features(root, factory, log, tuple(sets), english=route))
        found[route] = thresholds, {"sets": list(sets), "model": model.name, **summary}
    return Calibrated(found[True][0], found[False][0], found[True][1], found[False][1])


@dataclass
class SuiteResult:
    thresholds: dict[str, Thresholds]  # per method; the project's ("project", "project_multilingual") shipped
    recalibrated: Calibrated  # what `calibrate_project` gives in this run
    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # set -> method -> metrics
    seconds: float = 0.0


def run_suite(
    root: str | Path, english: Embedder, multilingual: Embedder, shipped: tuple[Thresholds, Thresholds], *,
    latency_sample: int = 200, log: Callable[[str], None] = print,
) -> SuiteResult:
    """Calibrate the baselines (and recalibrate the project, to check the ``shipped`` English and
    multilingual thresholds), then evaluate the three methods on every `REPORTED` set."""
    started = time.perf_counter()
    cache = CachedEmbedder(english)
    factories: dict[str, RankerFactory] = {
        "bm25": Bm25Ranker,
        "minilm_knn": lambda kb, ids: KnnRanker(kb, ids, cache),
    }
    thresholds = {}
    for method, factory in factories.items():
        top, _, top_right, _, oos = calibration_features(root, factory, log)
        thresholds[method] = Thresholds(answer=calibrate_answer(top, top_right, oos)[0])
        log(f"calibrated {method}")
    recalibrated = calibrate_project(root, english, multilingual, log)
    other = CachedEmbedder(multilingual)
    factories["project"] = lambda kb, ids: ProductionRanker(kb, ids, cache, other, thresholds=shipped[0],
                                                            multilingual_thresholds=shipped[1])
    result = SuiteResult({**thresholds, "project": shipped[0], "project_multilingual": shipped[1]}, recalibrated)
    for name in REPORTED:
        dataset = load(name, root)
        ids = article_ids([row.label for row in dataset.kb])
        for method, factory in factories.items():
            sample = latency_sample if method == "project" else 0
            _, figures = evaluate(dataset.kb, dataset.queries, dataset.oos_label, factory(dataset.kb, ids),
                                  result.thresholds.get(method), latency_sample=sample)
            result.metrics.setdefault(name, {})[method] = figures
        log(f"evaluated {name}: {len(dataset.queries)} queries")
    result.seconds = time.perf_counter() - started
    return result


def table(result: SuiteResult) -> str:
    """The suite as a Markdown table: set, metric, the three methods, target."""
    lines = ["| set | metric | BM25 | MiniLM kNN | project | target |", "|---|---|---|---|---|---|"]
    for name, key, shown, target in TARGETS:
        cells = [_cell(result.metrics[name][method].get(key)) for method in METHODS]
        lines.append(f"| {name} | {shown} | {' | '.join(cells)} | {target or '-'} |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1 else f"{value}"
