"""all-MiniLM-L6-v2 as a float32 ONNX graph, built from ``model.safetensors`` and cached (MINI-17, MINI-18).

No package ships a float32 ONNX export, and the int8 one drifts from sentence-transformers by up
to 1e-2 in scores. So this module writes the graph itself, with ``onnx.helper`` and
``onnx.numpy_helper`` (no PyTorch, no exporter), from the tensors ``minilm-numpy`` uses
(:func:`numpy_embedder.load_checkpoint` over the SHA-256-verified weights):

* embeddings: ``Gather`` of word and position rows, ``+`` token type 0, ``LayerNormalization``
  (eps 1e-12);
* 6 layers, each onnxruntime's BERT kernels (the ``com.microsoft`` operators its own transformer
  optimizer emits): ``Attention`` (the fused query | key | value projection, 12 heads, scale
  1/sqrt(32), padding masked out by the attention mask), ``MatMul`` + ``SkipLayerNormalization``
  (output bias, residual, LayerNorm eps 1e-12), ``MatMul`` + ``BiasGelu`` (exact erf GELU),
  ``MatMul`` + ``SkipLayerNormalization``;
* mean pooling over the attention mask (count at least 1e-9) and L2 normalisation (norm at least
  1e-12), so the graph's output ``sentence_embedding`` (batch, 384) is the finished vector.

Inputs ``input_ids`` and ``attention_mask``, int64 (batch, length), padded with [PAD] = 0.

The graph is built once per weights file and builder version and cached as
``<cache>/minilm/all-MiniLM-L6-v2-fp32-g<GRAPH_VERSION>-<weights sha256>.onnx`` beside a
``.sha256`` file in ``sha256sum`` format. ``<cache>`` is ``$MOSS_REF_CACHE_DIR``, else the user
cache directory (``$XDG_CACHE_HOME/moss_ref`` or ``~/.cache/moss_ref`` on Linux,
``~/Library/Caches/moss_ref`` on macOS, ``%LOCALAPPDATA%\\moss_ref\\Cache`` on Windows). A cached
file is used only if its SHA-256 equals the recorded one (and, once onnxruntime has loaded it, if
its metadata names this builder version and these weights: ``onnx_embedder`` checks that);
otherwise it is rebuilt. Both files are written to a temporary name in the same directory and
moved into place with ``os.replace``, the graph first, so a crash or a concurrent build never
leaves a half-written file under the real name. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .numpy_embedder import HEADS, HIDDEN, LAYER_NORM_EPS, Checkpoint, load_checkpoint
from .weights import VerifiedFile

__all__ = [
    "ENV_CACHE_DIR",
    "GRAPH_VERSION",
    "INPUTS",
    "OUTPUT",
    "CachedGraph",
    "build_model",
    "cache_paths",
    "default_cache_dir",
    "load_or_build",
    "resolve_cache_dir",
]

#: bump whenever the graph this module writes changes (its cache files then have a new name)
GRAPH_VERSION = "1"
ENV_CACHE_DIR = "MOSS_REF_CACHE_DIR"
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "sentence_embedding"
OPSET = 17  # the first with LayerNormalization
IR_VERSION = 8  # the IR version of opset 17 (onnx 1.12), not the newest the onnx package writes: older runtimes load it
#: keys of the model's metadata_props, checked again once onnxruntime has loaded the graph
META_GRAPH_VERSION = "moss_ref.graph_version"
META_WEIGHTS_SHA256 = "moss_ref.weights_sha256"
_MS = "com.microsoft"


def default_cache_dir() -> Path:
    """``$MOSS_REF_CACHE_DIR`` if set, else the per-user cache directory of moss_ref."""
    chosen = os.environ.get(ENV_CACHE_DIR, "")
    if chosen:
        return Path(chosen).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "")
        return (Path(local) if local else home / "AppData" / "Local") / "moss_ref" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "moss_ref"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else home / ".cache") / "moss_ref"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """The cache root: the ``cache_dir`` option if given, else :func:`default_cache_dir`."""
    return Path(os.fspath(cache_dir)).expanduser() if cache_dir is not None else default_cache_dir()


def cache_paths(cache_root: Path, weights_sha256: str) -> tuple[Path, Path]:
    """``(graph, digest file)`` for the weights with this SHA-256, under ``cache_root``."""
    graph = cache_root / "minilm" / f"all-MiniLM-L6-v2-fp32-g{GRAPH_VERSION}-{weights_sha256}.onnx"
    return graph, graph.with_name(graph.name + ".sha256")


# -- the graph --------------------------------------------------------------------------------


class _GraphBuilder:
    """Collects nodes and initializers; each ``op`` returns the name of its (single) output."""

    def __init__(self, onnx: Any) -> None:
        self.helper = onnx.helper
        self.numpy_helper = onnx.numpy_helper
        self.tensor_proto = onnx.TensorProto
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, array: Any) -> str:
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, *inputs: str, output: str | None = None, domain: str = "", **attributes: Any) -> str:
        name = f"{op_type}_{len(self.nodes)}"
        out = output or name.lower()
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=name, domain=domain, **attributes))
        return out

    def layer_norm(self, x: str, prefix: str, params: tuple[Any, Any]) -> str:
        gamma, beta = (self.const(f"{prefix}_{n}", a) for n, a in zip(("gamma", "beta"), params))
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=float(LAYER_NORM_EPS))

    def dense_skip_layer_norm(self, x: str, residual: str, prefix: str, linear: Any, params: Any) -> str:
        """``LayerNorm(x @ w + b + residual)``: onnxruntime's SkipLayerNormalization adds the bias."""
        w, b = linear
        gamma, beta = params
        return self.op(
            "SkipLayerNormalization",
            self.op("MatMul", x, self.const(f"{prefix}_w", w)),
            residual,
            self.const(f"{prefix}_ln_gamma", gamma),
            self.const(f"{prefix}_ln_beta", beta),
            self.const(f"{prefix}_b", b),
            domain=_MS,
            epsilon=float(LAYER_NORM_EPS),
        )


def build_model(np: Any, onnx: Any, checkpoint: Checkpoint, weights_sha256: str) -> bytes:
    """The serialised float32 graph of ``checkpoint`` (see the module docstring for its math)."""
    g = _GraphBuilder(onnx)
    f32, i64 = np.float32, np.int64
    one, zero = g.const("one", np.array(1, dtype=i64)), g.const("zero", np.array(0, dtype=i64))
    axis1, axis2 = g.const("axis_1", np.array([1], dtype=i64)), g.const("axis_2", np.array([2], dtype=i64))

    # embeddings: word + position + token type 0, then LayerNorm
    words = g.op("Gather", g.const("word_embeddings", checkpoint.word), "input_ids", axis=0)
    length = g.op("Gather", g.op("Shape", "input_ids"), one, axis=0)
    positions = g.op("Gather", g.const("position_embeddings", checkpoint.position), g.op("Range", zero, length, one))
    x = g.op("Add", g.op("Add", words, positions), g.const("token_type_0", checkpoint.type0))
    x = g.layer_norm(x, "embeddings_ln", checkpoint.embed_ln)

    mask_i32 = g.op("Cast", "attention_mask", to=g.tensor_proto.INT32)  # Attention's raw (batch, length) mask
    for i, layer in enumerate(checkpoint.layers):
        p = f"layer{i}"
        w, b = layer["qkv"]
        qkv_w, qkv_b = g.const(f"{p}.qkv_w", w), g.const(f"{p}.qkv_b", b)
        context = g.op("Attention", x, qkv_w, qkv_b, mask_i32, domain=_MS, num_heads=HEADS)
        x = g.dense_skip_layer_norm(context, x, f"{p}.attn_out", layer["attn_out"], layer["attn_ln"])
        w, b = layer["inter"]
        hidden = g.op("BiasGelu", g.op("MatMul", x, g.const(f"{p}.inter_w", w)), g.const(f"{p}.inter_b", b), domain=_MS)
        x = g.dense_skip_layer_norm(hidden, x, f"{p}.out", layer["out"], layer["out_ln"])

    # mean over the attention mask, then divide by the L2 norm
    mask = g.op("Unsqueeze", g.op("Cast", "attention_mask", to=g.tensor_proto.FLOAT), axis2)  # (batch, length, 1)
    summed = g.op("ReduceSum", g.op("Mul", x, mask), axis1, keepdims=0)
    count = g.op("Max", g.op("ReduceSum", mask, axis1, keepdims=0), g.const("min_count", np.array(1e-9, dtype=f32)))
    mean = g.op("Div", summed, count)
    norm = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", mean, mean), axis1, keepdims=1))
    g.op("Div", mean, g.op("Max", norm, g.const("min_norm", np.array(1e-12, dtype=f32))), output=OUTPUT)

    h, tp = g.helper, g.tensor_proto
    graph = h.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [h.make_tensor_value_info(name, tp.INT64, ["batch", "length"]) for name in INPUTS],
        [h.make_tensor_value_info(OUTPUT, tp.FLOAT, ["batch", HIDDEN])],
        g.initializers,
    )
    model = h.make_model(
        graph,
        opset_imports=[h.make_opsetid("", OPSET), h.make_opsetid(_MS, 1)],
        producer_name="moss_ref_backends.minilm.onnx_fp32_graph",
        producer_version=GRAPH_VERSION,
        doc_string="sentence-transformers/all-MiniLM-L6-v2, float32, mean pooling, L2-normalised",
    )
    model.ir_version = IR_VERSION
    h.set_model_props(model, {META_GRAPH_VERSION: GRAPH_VERSION, META_WEIGHTS_SHA256: weights_sha256})
    return model.SerializeToString()  # type: ignore[no-any-return]


# -- the cache --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedGraph:
    """Where a graph is cached, its SHA-256, and how it was obtained (the bytes travel separately,
    so an embedder does not keep 90 MB alive once onnxruntime has its own copy).

    ``status``: ``"cached"`` (read back, digest matched), ``"built"`` (nothing cached yet),
    ``"rebuilt"`` (a cached file failed its check and was replaced) or ``"uncached"`` (built, but
    the cache directory could not be written; a warning said so).
    """

    sha256: str
    path: Path
    status: str


def _read_cached(graph: Path, digest_file: Path) -> tuple[bytes | None, bool]:
    """``(verified bytes or None, whether anything was there)``."""
    if not graph.exists() and not digest_file.exists():
        return None, False
    try:
        recorded = digest_file.read_text("ascii").split()[0].lower()
        data = graph.read_bytes()
    except (OSError, UnicodeDecodeError, IndexError):
        return None, True
    return (data if hashlib.sha256(data).hexdigest() == recorded else None), True


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_or_build(
    np: Any, import_onnx: Any, weights: VerifiedFile, cache_root: Path, *, force_rebuild: bool = False
) -> tuple[bytes, CachedGraph]:
    """The fp32 graph for ``weights`` and where it is: the cached copy if its SHA-256 checks, else
    built and cached.

    ``import_onnx()`` returns the ``onnx`` module (or raises MODEL_UNAVAILABLE naming the extra);
    it is called only when a build is needed. ``force_rebuild`` ignores a cached copy (used when
    onnxruntime refuses one whose digest matched).
    """
    graph_path, digest_path = cache_paths(cache_root, weights.sha256)
    found = True
    if not force_rebuild:
        data, found = _read_cached(graph_path, digest_path)
        if data is not None:
            return data, CachedGraph(hashlib.sha256(data).hexdigest(), graph_path, "cached")
    data = build_model(np, import_onnx(), load_checkpoint(np, weights), weights.sha256)
    digest = hashlib.sha256(data).hexdigest()
    try:
        graph_path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(graph_path, data)  # the graph first: a digest file never names a missing graph
        _write_atomically(digest_path, f"{digest}  {graph_path.name}\n".encode("ascii"))
    except OSError as exc:
        warnings.warn(
            f"moss_ref: could not cache the fp32 all-MiniLM-L6-v2 graph in {graph_path.parent} ({exc}); "
            f"it will be built again next time. Set {ENV_CACHE_DIR} to a writable directory.",
            RuntimeWarning,
            stacklevel=3,
        )
        return data, CachedGraph(digest, graph_path, "uncached")
    return data, CachedGraph(digest, graph_path, "rebuilt" if found or force_rebuild else "built")
