"""The shared development sets (``../shared/datasets``) as (KB, queries) pairs.

Each loader returns a `DevSet`: ``kb`` rows (``sentence,label``: each label one article) and
``queries`` rows, whose label is `OOS` when the query should be escalated. The protocol of each
set is in docs/evaluation.md; `CALIBRATION` sets are only ever used to calibrate thresholds, the
others only to report. The project's calibration on them is `calibration`, the suite `suite`.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .evaluation import Labeled

__all__ = ["CALIBRATION", "DEFAULT_DATASETS", "FAQ_CALIBRATION", "MULTILINGUAL_CALIBRATION", "OOS", "REPORTED"]
__all__ += ["DevSet", "load", "small_kbs"]

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
