"""Index scale: build throughput, search time and approximate-search recall at 1k, 10k and 100k entries.

Entries are real English customer questions (CLINC150 train/val, BANKING77 train, HWU64 train and
valid, deduplicated); where a size needs more than there are, further entries join two random
questions into one ("... and ..."), which keeps them natural-looking and distinct. Queries are 500
held-out questions (CLINC150 and BANKING77 test), never in the index.

For each size it prints:
- build: entries embedded per second with the production English embedder (batched, as
  `kb build` embeds), the time to fit the topic prototypes (articles of 10 entries each) and the
  time to add the entries to an exact (`IndexFlatIP`) and to an HNSW index;
- search: FAISS time per query (one thread, one query at a time) for both, the HNSW recall@10
  against exact search and how often HNSW's best entry is exact search's best entry;
- decision: `KnowledgeIndex.search` + `decide` per question (encode included) with the production
  index type for that size and the shipped calibration (the confidence model included), next to the
  same deciding on the similarity only (bare thresholds: the decision before the confidence model)
  and the same with sentence-transformers' encoder.

    .venv/bin/python bench/index_scale.py [--sizes 1000 10000 100000] [--datasets ../shared/datasets]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import faiss  # noqa: E402

from bench.dev_suite import cpu_model  # noqa: E402
from knowledge_index import vectors  # noqa: E402
from knowledge_index.decision import decide, load_thresholds  # noqa: E402
from knowledge_index.devsets import DEFAULT_DATASETS  # noqa: E402
from knowledge_index.embedder import Embedder, MiniLMEmbedder  # noqa: E402
from knowledge_index.evaluation import Labeled, article_ids, kb_articles  # noqa: E402
from knowledge_index.index import Calibrated, KnowledgeIndex, production_embedders  # noqa: E402
from knowledge_index.prototypes import fit_prototypes  # noqa: E402

QUERIES = 500
ENTRIES_PER_ARTICLE = 10


def corpus(root: Path) -> tuple[list[str], list[str]]:
    """Distinct questions for the index, and held-out questions to ask it."""
    clinc = json.loads((root / "clinc150_oos" / "data_full.json").read_text(encoding="utf-8"))
    entries = [text for text, _ in clinc["train"] + clinc["val"]]
    with open(root / "banking77" / "train.csv", encoding="utf-8", newline="") as handle:
        entries += [row["text"] for row in csv.DictReader(handle)]
    for split in ("train", "valid"):
        entries += (root / "hwu64" / split / "seq.in").read_text(encoding="utf-8").splitlines()
    held_out = [text for text, _ in clinc["test"]]
    with open(root / "banking77" / "test.csv", encoding="utf-8", newline="") as handle:
        held_out += [row["text"] for row in csv.DictReader(handle)]
    unique = list({" ".join(text.split()).lower(): " ".join(text.split()) for text in entries if text.strip()}.values())
    rng = random.Random(7)
    rng.shuffle(held_out)
    return unique, held_out[:QUERIES]


def grow(texts: list[str], size: int) -> list[str]:
    """``texts`` extended to ``size`` distinct entries by joining random pairs of them."""
    rng = random.Random(11)
    out, seen = list(texts[:size]), {t.lower() for t in texts[:size]}
    while len(out) < size:
        joined = f"{rng.choice(texts).rstrip('?.!')} and {rng.choice(texts)}"
        if joined.lower() not in seen:
            seen.add(joined.lower())
            out.append(joined)
    return out


def percentiles(seconds: list[float]) -> str:
    """"p50 / p99" in milliseconds."""
    ms = np.array(seconds) * 1000
    return f"{np.percentile(ms, 50):.2f} / {np.percentile(ms, 99):.2f}"


def timed_searches(index: faiss.Index, queries: np.ndarray, k: int = 10) -> tuple[list[float], np.ndarray]:
    seconds, found = [], []
    for row in range(queries.shape[0]):
        started = time.perf_counter()
        _, ids = vectors.search(index, queries[row:row + 1], k)
        seconds.append(time.perf_counter() - started)
        found.append(ids)
    return seconds, np.array(found)


def decision_latency(entries: list[str], embedder: Embedder, questions: list[str], exact_up_to: int,
                     calibration: Calibrated | None = None) -> list[float]:
    """Seconds of `KnowledgeIndex.search` (k=3) + `decide` per question, unbatched, with the shipped
    calibration (the confidence model included), or with ``calibration``."""
    kb = [Labeled(text, f"article {row // ENTRIES_PER_ARTICLE}") for row, text in enumerate(entries)]
    with tempfile.TemporaryDirectory(prefix="index-scale-") as directory:
        saved, vectors.EXACT_UP_TO = vectors.EXACT_UP_TO, exact_up_to
        try:
            index = KnowledgeIndex.build(kb_articles(kb, article_ids([row.label for row in kb])), embedder,
                                         Path(directory) / "index", calibration)
        finally:
            vectors.EXACT_UP_TO = saved
    index.warm()  # as the app does when it loads an index
    seconds = []
    for question in questions:
        started = time.perf_counter()
        decide(index.search(question, 3), index.route(question).thresholds)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT / DEFAULT_DATASETS), metavar="DIR")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--fit-up-to", type=int, default=20_000,
                        help="largest size at which to time fitting the prototypes (it grows with entries x topics)")
    parser.add_argument("--decision-sizes", type=int, nargs="+", default=[10_000],
                        help="sizes at which to time the whole decision (it builds an index each)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)

    texts, questions = corpus(Path(args.datasets))
    entries = grow(texts, max(args.sizes))
    english, _ = production_embedders()
    baseline = MiniLMEmbedder()  # sentence-transformers
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    log(f"{len(texts)} distinct questions; {len(entries)} entries; {len(questions)} held-out queries")

    english.encode(entries[:64])  # load the model
    started, marks, parts = time.perf_counter(), {}, []
    for start in range(0, len(entries), vectors.BATCH):
        parts.append(english.encode(entries[start:start + vectors.BATCH]))
        done = min(start + vectors.BATCH, len(entries))
        for size in args.sizes:
            if size not in marks and done >= size:
                marks[size] = time.perf_counter() - started
        if done % 10_240 == 0:
            log(f"embedded {done}")
    matrix = np.concatenate(parts)
    query_vectors = english.encode(questions)

    cpus = len(os.sched_getaffinity(0))
    print(f"{time.strftime('%Y-%m-%d')}, {cpus} vCPU {cpu_model()}; embedder {english.name} "
          f"({type(english).__name__}); FAISS {faiss.__version__}, one thread; HNSW M={vectors.HNSW_M}, "
          f"efConstruction {vectors.EF_CONSTRUCTION}, efSearch {vectors.EF_SEARCH}; {len(questions)} queries\n")
    print("| entries | build: embed entries/s | fit prototypes s | add exact s | add HNSW s "
          "| exact search p50 / p99 ms | HNSW search p50 / p99 ms | HNSW recall@10 | HNSW same best entry |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        rows = matrix[:size]
        fit = "-"
        if size <= args.fit_up_to:
            started = time.perf_counter()
            fit_prototypes(rows, [row // ENTRIES_PER_ARTICLE for row in range(size)], -(-size // ENTRIES_PER_ARTICLE))
            fit = f"{time.perf_counter() - started:.1f}"
        t0 = time.perf_counter()
        exact = vectors.vector_index(rows, rows.shape[1], exact_up_to=size)
        t1 = time.perf_counter()
        hnsw = vectors.vector_index(rows, rows.shape[1], exact_up_to=0)
        t2 = time.perf_counter()
        exact_s, exact_ids = timed_searches(exact, query_vectors)
        hnsw_s, hnsw_ids = timed_searches(hnsw, query_vectors)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_ids, hnsw_ids, strict=True)])
        same = np.mean(exact_ids[:, 0] == hnsw_ids[:, 0])
        print(f"| {size:,} | {size / marks[size]:.0f} | {fit} | {t1 - t0:.2f} | {t2 - t1:.1f} | "
              f"{percentiles(exact_s)} | {percentiles(hnsw_s)} | "
              f"{recall:.3f} | {same:.3f} |", flush=True)

    print("\n| entries | index | decision p50 / p99 ms: confidence model | similarity only (before) "
          "| confidence model, sentence-transformers encoder |")
    print("|---|---|---|---|---|")
    baseline.encode(questions[:8])
    for size in args.decision_sizes:
        kind = "exact" if size <= vectors.EXACT_UP_TO else "HNSW"
        ours = decision_latency(entries[:size], english, questions, vectors.EXACT_UP_TO)
        before = decision_latency(entries[:size], english, questions, vectors.EXACT_UP_TO, load_thresholds())
        theirs = decision_latency(entries[:size], baseline, questions, vectors.EXACT_UP_TO)
        print(f"| {size:,} | {kind} | {percentiles(ours)} | {percentiles(before)} | {percentiles(theirs)} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
