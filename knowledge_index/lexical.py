"""BM25 over a list of texts: rank-bm25's BM25Okapi (k1 1.5, b 0.75, epsilon 0.25) on lower-cased
``\\w+`` tokens, no stop words or stemming.

Scores equal ``BM25Okapi.get_scores`` (a test checks it); they are computed from per-token postings,
because ``get_scores`` loops over every text in Python for each query token. Used by the BM25
baseline (`baselines.Bm25Ranker`) and by the confidence features (`confidence`): whether the words
of a question point to the same article as its meaning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["Bm25", "tokens"]

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class Bm25:
    def __init__(self, texts: Sequence[str]) -> None:
        from rank_bm25 import BM25Okapi

        self.size = len(texts)
        self.model = BM25Okapi([tokens(text) for text in texts]) if texts else None
        self._postings: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        model = self.model
        if model is None:
            return
        doc_len = np.array(model.doc_len, dtype=np.float64)
        norm = model.k1 * (1 - model.b + model.b * doc_len / model.avgdl) if model.avgdl else np.ones(len(doc_len))
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for doc, frequencies in enumerate(model.doc_freqs):
            for token, count in frequencies.items():
                docs, counts = postings.setdefault(token, ([], []))
                docs.append(doc)
                counts.append(count)
        for token, (docs, counts) in postings.items():
            rows, freq = np.array(docs, dtype=np.int64), np.array(counts, dtype=np.float64)
            weight = (model.idf.get(token) or 0) * freq * (model.k1 + 1) / (freq + norm[rows])
            self._postings[token] = (rows, weight)

    def scores(self, text: str) -> npt.NDArray[np.float64]:
        """The BM25 score of every text for the query ``text``."""
        scores = np.zeros(self.size, dtype=np.float64)
        for token in tokens(text):
            if token in self._postings:
                rows, weight = self._postings[token]
                scores[rows] += weight
        return scores
