"""How similar two questions must be to count as one content gap: the threshold of handoff/reports/question_groups.py.

Embeds the in-scope questions of development sets with the app's English model and clusters them
with the report's clustering (average or complete linkage on cosine distance) at a range of
similarity thresholds, scoring each clustering against the sets' intents (the true groups) by the
adjusted Rand index (ARI), with the number of groups found against the number of intents. The
threshold is chosen on the calibration sets (the mean ARI of clinc150-val and banking77-oos-valid,
as docs/evaluation.md chooses the bot's thresholds) and reported on sets never used for choosing:
banking77-oos-test, stackfaq, and the seed knowledge base's own example questions (each article's
questions one group).

    .venv/bin/python bench/gap_threshold.py [--datasets ../shared/datasets] [--json OUT.json]

The sweep uses SciPy's hierarchical clustering (one tree per set, cut at every threshold: the same
merges as scikit-learn's); the chosen threshold is then re-run through `question_groups.group` itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoff.reports import question_groups  # noqa: E402
from knowledge_index.articles import load_articles  # noqa: E402
from knowledge_index.devsets import CALIBRATION, DEFAULT_DATASETS, OOS, load  # noqa: E402
from knowledge_index.index import production_embedders  # noqa: E402

REPORTED = ("banking77-oos-test", "stackfaq")
THRESHOLDS = [round(0.15 + 0.05 * i, 2) for i in range(15)]  # 0.15 .. 0.85
LINKAGES = ("average", "complete")


def questions(name: str, datasets: Path) -> tuple[list[str], list[str]]:
    if name == "seed-kb":
        articles = load_articles(ROOT / "training_data" / "articles")
        pairs = [(q, a.translation_of or a.id) for a in articles if a.locale == "en" for q in a.questions]
    else:
        pairs = [(q.text, q.label) for q in load(name, datasets).queries if q.label != OOS]
    unique = dict(pairs)  # a text listed twice counts once
    return list(unique), list(unique.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--datasets", default=str(ROOT / DEFAULT_DATASETS))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    embedder, _ = production_embedders(ROOT / ".cache" / "models")
    names = [*CALIBRATION, *REPORTED, "seed-kb"]
    results: dict[str, dict[str, object]] = {}
    vectors_of = {}
    for name in names:
        texts, labels = questions(name, Path(args.datasets))
        started = time.perf_counter()
        vectors = embedder.encode(texts)
        vectors_of[name] = (vectors, labels)
        row: dict[str, object] = {"questions": len(texts), "intents": len(set(labels)),
                                  "embed_seconds": round(time.perf_counter() - started, 1)}
        for method in LINKAGES:
            tree = linkage(vectors.astype(np.float64), method=method, metric="cosine")
            for threshold in THRESHOLDS:
                found = fcluster(tree, t=1.0 - threshold, criterion="distance")
                row[f"{method}@{threshold}"] = {"ari": round(float(adjusted_rand_score(labels, found)), 3),
                                                "groups": len(set(found))}
        results[name] = row
        print(f"{name}: {len(texts)} questions, {len(set(labels))} intents", file=sys.stderr)

    def mean_ari(key: str) -> float:
        return float(np.mean([results[n][key]["ari"] for n in CALIBRATION]))  # type: ignore[index]

    best = max((f"{m}@{t}" for m in LINKAGES for t in THRESHOLDS), key=mean_ari)
    print("| linkage @ similarity | " + " | ".join(names) + " | calibration mean |")
    print("|---|" + "---|" * (len(names) + 1))
    for method in LINKAGES:
        for threshold in THRESHOLDS:
            key = f"{method}@{threshold}"
            cells = [f"{results[n][key]['ari']:.3f} ({results[n][key]['groups']})" for n in names]  # type: ignore[index]
            mark = " **chosen**" if key == best else ""
            print(f"| {key}{mark} | " + " | ".join(cells) + f" | {mean_ari(key):.3f} |")
    print("\nquestions / intents: " + ", ".join(f"{n} {results[n]['questions']}/{results[n]['intents']}"
                                             for n in names))
    method, threshold = best.split("@")
    check = {n: round(float(adjusted_rand_score(labels, question_groups.group(vectors, float(threshold), method))), 3)
             for n, (vectors, labels) in vectors_of.items()}
    print(f"chosen: {best}; question_groups.group at it (scikit-learn): ARI {check}")
    print(f"question_groups.SIMILARITY = {question_groups.SIMILARITY}, LINKAGE = {question_groups.LINKAGE!r}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "chosen": best, "check": check}, indent=1))


if __name__ == "__main__":
    main()
