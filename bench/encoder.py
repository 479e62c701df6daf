"""The English encoder: MiniLM through ONNX Runtime (production) against sentence-transformers, same run.

For 1,000 CLINC150 test questions: how far apart the two encoders' vectors are (cosine), how long
one question takes to encode (p50 / p99, one at a time, interleaved so that both see the same
machine), batch throughput, and the time to load each (the ONNX export is made once, beforehand).

    .venv/bin/python bench/encoder.py [--datasets ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dev_suite import cpu_model  # noqa: E402
from knowledge_index.devsets import DEFAULT_DATASETS  # noqa: E402
from knowledge_index.embedder import MiniLMEmbedder  # noqa: E402
from knowledge_index.onnx_embedder import DEFAULT_MODEL_CACHE, OnnxMiniLMEmbedder  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT / DEFAULT_DATASETS), metavar="DIR")
    args = parser.parse_args()
    data = json.loads((Path(args.datasets) / "clinc150_oos" / "data_full.json").read_text(encoding="utf-8"))
    texts = [text for text, _ in data["test"][:1000]]

    cache = ROOT / DEFAULT_MODEL_CACHE
    OnnxMiniLMEmbedder(cache).load()  # the export, once, outside the timing
    encoders = {"sentence-transformers": MiniLMEmbedder(), "ONNX Runtime": OnnxMiniLMEmbedder(cache)}
    loads = {}
    for name, encoder in encoders.items():
        started = time.perf_counter()
        encoder.load()
        loads[name] = time.perf_counter() - started

    vectors = {name: encoder.encode(texts) for name, encoder in encoders.items()}
    cosine = (vectors["sentence-transformers"] * vectors["ONNX Runtime"]).sum(axis=1)
    single: dict[str, list[float]] = {name: [] for name in encoders}
    for text in texts[:500]:
        for name, encoder in encoders.items():
            started = time.perf_counter()
            encoder.encode([text])
            single[name].append(time.perf_counter() - started)
    batch = {}
    for name, encoder in encoders.items():
        started = time.perf_counter()
        encoder.encode(texts)
        batch[name] = len(texts) / (time.perf_counter() - started)

    print(f"{time.strftime('%Y-%m-%d')}, {cpu_model()}; {len(texts)} CLINC150 test questions; cosine between the "
          f"two encoders' vectors: min {cosine.min():.7f}, mean {cosine.mean():.7f}\n")
    print("| encoder | one question p50 / p99 ms | p50 vs sentence-transformers | batch sentences/s | load s |")
    print("|---|---|---|---|---|")
    base = float(np.percentile(single["sentence-transformers"], 50))
    for name in encoders:
        ms = np.array(single[name]) * 1000
        print(f"| {name} | {np.percentile(ms, 50):.2f} / {np.percentile(ms, 99):.2f} | "
              f"{base / float(np.percentile(single[name], 50)):.2f}x | {batch[name]:.0f} | {loads[name]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
