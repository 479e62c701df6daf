"""The FAISS index behind a space of vectors (entries or topic prototypes): exact up to
`EXACT_UP_TO` rows, HNSW above.

Measured by ``bench/index_scale.py`` (docs/benchmarks.md, "Index scale"), 384 dimensions, one core:
exact search (``IndexFlatIP``) costs about 0.07 ms per 1,000 rows (0.65 ms at 10k, 7.7 ms at 100k),
an HNSW graph (``IndexHNSWFlat``, M=32, efSearch 96) 0.11 to 0.25 ms at any of those sizes with
recall@10 0.99 and the same best row as exact search for 99 % of questions or more. At
`EXACT_UP_TO` rows exact search takes about 1.4 ms, under a third of the 5 ms a whole decision may
take; above it the graph is used.

Also `embed`: the embedder's vectors for many texts, in batches, with progress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import faiss
import numpy as np
import numpy.typing as npt

from .embedder import Embedder

__all__ = ["EF_SEARCH", "EXACT_UP_TO", "HNSW_M", "Progress", "embed", "search", "vector_index"]

EXACT_UP_TO = 20_000
HNSW_M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 96  # at least this many candidates per search (more when more rows are asked for)
BATCH = 256

Progress = Callable[[int, int], None]  # (texts embedded so far, all texts)


def one_search_thread() -> None:
    """FAISS searches with one thread: each request runs one query, and FAISS's OpenMP threads would only
    fight the encoder's for the cores (a 15k-entry search went from ~27 ms to ~12 ms with one thread;
    docs/evaluation.md). Set once, at start-up, by each entry point (handoff/cli.py, knowledge_index/cli.py)."""
    faiss.omp_set_num_threads(1)


def embed(embedder: Embedder, texts: Sequence[str], progress: Progress | None = None) -> npt.NDArray[np.float32]:
    """Unit rows of ``embedder`` for ``texts``, encoded `BATCH` at a time, reporting ``progress``."""
    parts = []
    for start in range(0, len(texts), BATCH):
        parts.append(unit_rows(embedder.encode(texts[start:start + BATCH]), embedder.dimension))
        if progress is not None:
            progress(min(start + BATCH, len(texts)), len(texts))
    matrix = np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)
    if matrix.shape[0] != len(texts):
        raise ValueError(f"{embedder.name} returned {matrix.shape[0]} vectors for {len(texts)} texts")
    return matrix


def vector_index(matrix: npt.NDArray[np.float32], dimension: int, *, exact_up_to: int | None = None) -> faiss.Index:
    """An inner-product index over the unit rows of ``matrix``: exact, or HNSW above ``exact_up_to``
    rows (default `EXACT_UP_TO`)."""
    if matrix.shape[0] <= (EXACT_UP_TO if exact_up_to is None else exact_up_to):
        index: faiss.Index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        index.hnsw.efSearch = EF_SEARCH
    if matrix.shape[0]:
        index.add(matrix)
    return index


def search(index: faiss.Index, vector: npt.NDArray[np.float32], rows: int) -> tuple[list[float], list[int]]:
    """The ``rows`` best (score, row) of one query vector (shape (1, d)); row -1 pads a short result."""
    if isinstance(index, faiss.IndexHNSWFlat):
        params = faiss.SearchParametersHNSW(efSearch=max(EF_SEARCH, rows))  # type: ignore[attr-defined]
        scores, ids = index.search(vector, rows, params=params)
    else:
        scores, ids = index.search(vector, rows)
    return scores[0].tolist(), ids[0].tolist()


def unit_rows(vectors: npt.ArrayLike, dimension: int) -> npt.NDArray[np.float32]:
    """``vectors`` as a C-contiguous float32 matrix with unit-length rows."""
    matrix = np.array(vectors, dtype=np.float32, order="C", copy=True)
    if matrix.ndim != 2 or matrix.shape[1] != dimension:
        raise ValueError(f"embedder returned shape {matrix.shape}, expected (n, {dimension})")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
