"""What the numpy and onnx MiniLM embedders share: tokenization, batching, pooling, normalisation.

numpy is imported lazily (inside functions) so that importing this package costs nothing and a
missing numpy surfaces as MODEL_UNAVAILABLE with the install hint, not as an ImportError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from moss_ref._errors import invalid
from moss_ref._protocols import EmbedderFingerprint

from .weights import MODEL_ID, VerifiedFile, missing_dependency
from .wordpiece import DEFAULT_MAX_LENGTH, WordPieceTokenizer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DIMENSION = 384
BATCH_SIZE = 32  # texts per forward pass at most
TOKEN_BUDGET = 1024  # padded positions per forward pass at most (a single longer text still runs alone)
#: bumps whenever the same text may embed differently (tokenizer, truncation, pooling, normalisation)
RECIPE_VERSION = "1"


def import_numpy(backend: str, extra: str) -> Any:
    try:
        import numpy
    except ImportError as exc:
        raise missing_dependency("numpy", extra, backend, exc) from exc
    return numpy


def load_tokenizer(file: VerifiedFile) -> WordPieceTokenizer:
    if file.pin.name.endswith(".json"):
        return WordPieceTokenizer.from_tokenizer_json(file.data)
    return WordPieceTokenizer.from_vocab_txt(file.data)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (R-M-5); subclasses supply the encoder forward pass.

    ``embed`` tokenizes (at most 256 tokens), sorts the texts by length and runs them in batches
    of at most 32 texts and ``token_budget`` padded positions, padded to the batch's longest,
    mean-pools the last hidden states over the attention mask, L2-normalises, and returns the
    vectors in input order.
    """

    def __init__(
        self,
        np: Any,
        tokenizer: WordPieceTokenizer,
        fingerprint: EmbedderFingerprint,
        *,
        batch_size: int = BATCH_SIZE,
        token_budget: int = TOKEN_BUDGET,
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        self._np = np
        self.tokenizer = tokenizer
        self._fingerprint = fingerprint
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.max_length = max_length

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def fingerprint(self) -> EmbedderFingerprint:
        return self._fingerprint

    def _pooled(self, encoded: list[list[int]]) -> npt.NDArray[np.float32]:
        """Mean-pooled (not yet normalised) embeddings of a batch of token id lists, float32.

        This default pads the batch to its longest sequence and pools the last hidden states of
        ``_forward`` over the attention mask, as sentence-transformers does.
        """
        np = self._np
        input_ids, mask = self._padded(encoded)
        hidden = self._forward(input_ids, mask)
        m = mask.astype(np.float32)[:, :, None]
        summed = (hidden.astype(np.float32, copy=False) * m).sum(axis=1)
        return summed / np.maximum(m.sum(axis=1), np.float32(1e-9))  # type: ignore[no-any-return]

    def _padded(self, encoded: list[list[int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(input_ids, attention_mask)``, int64, padded with [PAD] to the batch's longest sequence."""
        np = self._np
        width = max(len(ids) for ids in encoded)
        input_ids = np.full((len(encoded), width), self.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for r, ids in enumerate(encoded):
            input_ids[r, : len(ids)] = ids
            mask[r, : len(ids)] = 1
        return input_ids, mask

    def _unit_vectors(self, encoded: list[list[int]]) -> npt.NDArray[np.float32]:
        """L2-normalised embeddings of a batch, float32: ``_pooled`` then :func:`l2_normalize`.

        A backend whose model already pools and normalises (the fp32 ONNX graph) overrides this.
        """
        return l2_normalize(self._np, self._pooled(encoded))  # type: ignore[no-any-return]

    def _forward(self, input_ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Last hidden states of a padded batch, shape (batch, length, 384), float32."""
        raise NotImplementedError

    def embed_array(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit vectors as a float32 array of shape (len(texts), 384), in input order."""
        np = self._np
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise invalid(f"texts[{i}] must be a str, got {type(text).__name__}")
        encoded = [self.tokenizer.encode(t, self.max_length) for t in texts]
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))  # similar lengths share a batch
        start = 0
        while start < len(order):
            # at most batch_size texts, and at most token_budget positions once padded (one text always fits)
            stop = start + 1
            while (
                stop < len(order)
                and stop - start < self.batch_size
                and (stop - start + 1) * len(encoded[order[stop]]) <= self.token_budget
            ):
                stop += 1
            rows = order[start:stop]
            out[rows] = self._unit_vectors([encoded[i] for i in rows])
            start = stop
        return out  # type: ignore[no-any-return]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised 384-vector per text, in input order (the Embedder protocol)."""
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        fp = self._fingerprint
        return f"<{type(self).__name__} {MODEL_ID} {fp.backend} {fp.version} sha256={fp.weights_sha256[:12]}>"


def l2_normalize(np: Any, pooled: Any) -> Any:
    """Rows divided by their L2 norm (at least 1e-12, as torch's F.normalize), float32."""
    pooled = pooled.astype(np.float32, copy=False)
    norms = np.sqrt((pooled * pooled).sum(axis=1, keepdims=True))
    return pooled / np.maximum(norms, np.float32(1e-12))
