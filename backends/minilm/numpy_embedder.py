"""all-MiniLM-L6-v2 in plain numpy (embedder name ``minilm-numpy``).

A BERT encoder forward pass: embeddings (word + position + token type 0) and LayerNorm, then 6
layers of 12-head self-attention (scaled dot product, padding masked out) and a GELU (erf) feed
forward, each followed by a residual LayerNorm (eps 1e-12); hidden size 384, intermediate 1536.
Weights come from the SHA-256-verified ``model.safetensors`` (read by the stdlib parser in
``safetensors.py``); everything is float32. Pooling and normalisation are in ``_common``.

Usage::

    from moss_ref_backends.minilm import numpy_embedder
    embedder = numpy_embedder.create("moss-minilm")          # or model_dir="/path/to/files"
    vectors = embedder.embed(["refund for a billing issue"])
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from moss_ref._errors import model_unavailable
from moss_ref._protocols import EmbedderFingerprint

from ._common import DIMENSION, RECIPE_VERSION, MiniLMEmbedder, import_numpy, load_tokenizer
from .safetensors import SafetensorsError, SafetensorsFile, parse
from .weights import (
    PIP_NUMPY,
    VerifiedFile,
    check_model_id,
    check_options,
    find_safetensors,
    find_tokenizer,
    resolve_model_dir,
)

__all__ = ["BACKEND", "Checkpoint", "NumpyMiniLM", "create", "load_checkpoint"]

BACKEND = "minilm-numpy"
LAYERS = 6
HEADS = 12
VOCAB_SIZE = 30522
HIDDEN = DIMENSION
MAX_POSITIONS = 512
LAYER_NORM_EPS = 1e-12
TOKEN_BUDGET = 256  # positions per forward pass: small working sets run fastest (measured: 256 < 1024 < 4096)
_OPTIONS = ("model_dir",)

# erfc(|x|) ~= t * exp(-x^2 + P(t)), t = 1 / (1 + |x|/2): relative error < 1.2e-7 (Numerical Recipes)
_ERFC = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def create(model_id: str = "moss-minilm", **options: Any) -> NumpyMiniLM:
    """The numpy embedder for ``moss-minilm``. Option: ``model_dir`` (str or None)."""
    check_model_id(model_id, BACKEND)
    check_options(options, _OPTIONS, BACKEND)
    np = import_numpy(BACKEND, "numpy")
    model_dir = resolve_model_dir(options.get("model_dir"))
    weights = find_safetensors(model_dir)
    tokenizer = load_tokenizer(find_tokenizer(model_dir, PIP_NUMPY))
    return NumpyMiniLM(np, weights, tokenizer)


@dataclass(frozen=True)
class Checkpoint:
    """The float32 tensors of all-MiniLM-L6-v2, laid out for ``x @ w + b`` (w is (in, out)).

    ``layers[i]`` maps ``qkv`` (one fused (384, 1152) query | key | value projection),
    ``attn_out``, ``inter``, ``out`` to ``(w, b)`` and ``attn_ln``, ``out_ln`` to
    ``(gamma, beta)``. Shared by ``minilm-numpy`` and the fp32 ONNX graph builder, so both run
    the very same numbers.
    """

    word: Any  # (30522, 384)
    position: Any  # (512, 384)
    type0: Any  # (384,): token type 0, the only one sentence embeddings use
    embed_ln: tuple[Any, Any]
    layers: tuple[dict[str, tuple[Any, Any]], ...]


def load_checkpoint(np: Any, weights: VerifiedFile) -> Checkpoint:
    """The tensors of a SHA-256-verified ``model.safetensors``; MODEL_UNAVAILABLE if it is not one."""
    try:
        return _read_checkpoint(np, parse(weights.data))
    except (SafetensorsError, KeyError, ValueError) as exc:
        raise model_unavailable(f"{weights.origin} is not a usable all-MiniLM-L6-v2 checkpoint: {exc}") from exc


def _read_checkpoint(np: Any, st: SafetensorsFile) -> Checkpoint:
    def tensor(name: str, shape: tuple[int, ...]) -> Any:
        info = st.tensors[name]
        if info.dtype != "F32" or info.shape != shape:
            raise ValueError(f"{name} is {info.dtype}{list(info.shape)}, expected F32{list(shape)}")
        return np.frombuffer(st.raw(name), dtype="<f4").reshape(shape).astype(np.float32)  # a copy

    def linear(prefix: str, n_in: int, n_out: int) -> tuple[Any, Any]:
        w = tensor(f"{prefix}.weight", (n_out, n_in))
        return np.ascontiguousarray(w.T), tensor(f"{prefix}.bias", (n_out,))

    e = "embeddings"
    layers = []
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q, k, v = (linear(f"{p}.attention.self.{n}", HIDDEN, HIDDEN) for n in ("query", "key", "value"))
        layers.append(
            {
                # one fused (384, 1152) projection for query, key and value
                "qkv": (np.concatenate([q[0], k[0], v[0]], axis=1), np.concatenate([q[1], k[1], v[1]])),
                "attn_out": linear(f"{p}.attention.output.dense", HIDDEN, HIDDEN),
                "attn_ln": (
                    tensor(f"{p}.attention.output.LayerNorm.weight", (HIDDEN,)),
                    tensor(f"{p}.attention.output.LayerNorm.bias", (HIDDEN,)),
                ),
                "inter": linear(f"{p}.intermediate.dense", HIDDEN, 4 * HIDDEN),
                "out": linear(f"{p}.output.dense", 4 * HIDDEN, HIDDEN),
                "out_ln": (
                    tensor(f"{p}.output.LayerNorm.weight", (HIDDEN,)),
                    tensor(f"{p}.output.LayerNorm.bias", (HIDDEN,)),
                ),
            }
        )
    return Checkpoint(
        word=tensor(f"{e}.word_embeddings.weight", (VOCAB_SIZE, HIDDEN)),
        position=tensor(f"{e}.position_embeddings.weight", (MAX_POSITIONS, HIDDEN)),
        type0=tensor(f"{e}.token_type_embeddings.weight", (2, HIDDEN))[0],
        embed_ln=(tensor(f"{e}.LayerNorm.weight", (HIDDEN,)), tensor(f"{e}.LayerNorm.bias", (HIDDEN,))),
        layers=tuple(layers),
    )


class NumpyMiniLM(MiniLMEmbedder):
    """all-MiniLM-L6-v2 on numpy. Immutable after construction; safe to share across threads."""

    def __init__(self, np: Any, weights: VerifiedFile, tokenizer: Any) -> None:
        fingerprint = EmbedderFingerprint(BACKEND, f"{RECIPE_VERSION}-fp32", DIMENSION, weights.sha256)
        super().__init__(np, tokenizer, fingerprint, token_budget=TOKEN_BUDGET)
        ckpt = load_checkpoint(np, weights)
        self._word, self._position, self._type0 = ckpt.word, ckpt.position, ckpt.type0
        self._embed_ln, self._layers = ckpt.embed_ln, ckpt.layers

    def _layer_norm(self, x: Any, params: tuple[Any, Any]) -> Any:
        np = self._np
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=-1, keepdims=True)
        centered *= 1.0 / np.sqrt(var + np.float32(LAYER_NORM_EPS))
        centered *= params[0]
        centered += params[1]
        return centered

    def _gelu(self, x: Any) -> Any:
        """x * Phi(x) with the erf form (not the tanh approximation), in place, float32."""
        np = self._np
        f32 = np.float32
        z = np.abs(x) * f32(0.7071067811865476)
        t = f32(1.0) / (f32(1.0) + f32(0.5) * z)
        poly = np.full_like(t, f32(_ERFC[-1]))
        for c in _ERFC[-2::-1]:
            poly *= t
            poly += f32(c)
        erfc = t * np.exp(poly - z * z)  # erfc(|x| / sqrt 2)
        # Phi(x) = 1 - erfc/2 for x >= 0, erfc/2 for x < 0
        phi = np.where(x >= 0, f32(1.0) - f32(0.5) * erfc, f32(0.5) * erfc)
        x *= phi
        return x

    def _pooled(self, sequences: list[list[int]]) -> Any:
        """Encoder forward pass on packed sequences, then the mean of each one's token states.

        No padding at all: the tokens of all sequences are stacked into one (tokens, 384) matrix
        for the dense layers, and attention runs per sequence over its own tokens only — the
        same result as a padded batch with an attention mask, without computing the padding.
        Working sets stay a few MB (large numpy temporaries are slow to allocate).
        """
        np = self._np
        lengths = [len(s) for s in sequences]
        if max(lengths) > self._position.shape[0]:
            raise ValueError(f"a sequence of {max(lengths)} tokens exceeds the 512 positions of the model")
        bounds = [0]
        for n in lengths:
            bounds.append(bounds[-1] + n)
        ids = np.fromiter((t for s in sequences for t in s), dtype=np.int64, count=bounds[-1])
        positions = np.concatenate([np.arange(n) for n in lengths])
        x = self._layer_norm(self._word[ids] + self._position[positions] + self._type0, self._embed_ln)
        head = HIDDEN // HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        context = np.empty_like(x)
        for layer in self._layers:
            w, b = layer["qkv"]
            qkv = x @ w + b  # (tokens, 1152): query | key | value
            for a, z in itertools.pairwise(bounds):
                n = z - a
                block = qkv[a:z].reshape(n, 3, HEADS, head).transpose(1, 2, 0, 3)  # (3, heads, n, head)
                scores = (block[0] * scale) @ block[1].transpose(0, 2, 1)  # (heads, n, n)
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                context[a:z] = (scores @ block[2]).transpose(1, 0, 2).reshape(n, HIDDEN)
            w, b = layer["attn_out"]
            x = self._layer_norm(context @ w + b + x, layer["attn_ln"])
            w, b = layer["inter"]
            hidden = self._gelu(x @ w + b)
            w, b = layer["out"]
            x = self._layer_norm(hidden @ w + b + x, layer["out_ln"])
        sums = np.add.reduceat(x, bounds[:-1], axis=0)
        return sums / np.asarray(lengths, dtype=np.float32)[:, None]
