"""The deterministic hash embedder ``hash-v1`` (R-M-4): a stand-in for the real models.

It is a signed feature-hashing ("hashing trick") bag of words and character trigrams, defined
bit for bit in ``docs/rules/hash_embedder.md`` (rules HASH-1..HASH-10) so that any language can
reproduce it exactly. In short, for a text and a model id (the *seed*)::

    tokens   = maximal runs of [\\p{L}\\p{N}_] in casefold(NFKC(text))
    features = for each token t: "w|" + t (weight 3), and "t|" + g (weight 1) for every
               code-point trigram g of "<" + t + ">"
    h        = first 8 bytes of SHA-256(UTF-8(seed + "|" + feature)), little-endian uint64
    v[h % 384] += weight * (-1 if h >> 63 else +1)        (exact integers)
    if v == 0: v[h_e % 384] = sign(h_e) with feature "e|"   (blank text, full cancellation)
    out[i]   = float32(float64(v[i]) / sqrt(float64(sum(v[j]**2))))

Only exact integer arithmetic, one correctly rounded square root, one correctly rounded division
and one float64 -> float32 rounding per component: IEEE 754 makes the result reproducible
everywhere. It never uses Python's per-process ``hash()``.

The vectors carry no meaning beyond shared words and shared trigrams (``run`` ~ ``running``);
each model id is its own space, so vectors of different model ids are unrelated.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from ._errors import invalid
from ._models import BUILTIN_DIMENSION, BUILTIN_MODEL_IDS
from ._protocols import Embedder, EmbedderFingerprint

__all__ = ["BACKEND", "VERSION", "DIMENSION", "HashEmbedder", "create", "tokenize", "features", "feature_hash"]

BACKEND: Final = "hash-v1"
VERSION: Final = "1"
DIMENSION: Final = BUILTIN_DIMENSION  # 384
WORD_WEIGHT: Final = 3
TRIGRAM_WEIGHT: Final = 1
EMPTY_FEATURE: Final = "e|"

# Python's str-pattern \w is exactly [\p{L}\p{N}_] (checked over every code point in the tests).
_TOKEN_RE: Final = re.compile(r"\w+")
_CACHE_LIMIT: Final = 1 << 16
_SIGN_BIT: Final = 1 << 63


def tokenize(text: str) -> list[str]:
    """HASH-2 and HASH-3: NFKC, full case folding, then maximal runs of word characters."""
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold())


def features(token: str) -> list[tuple[str, int]]:
    """HASH-4: the weighted features of one token occurrence, in order."""
    padded = f"<{token}>"
    out = [("w|" + token, WORD_WEIGHT)]
    out.extend(("t|" + padded[i : i + 3], TRIGRAM_WEIGHT) for i in range(len(padded) - 2))
    return out


def feature_hash(seed: str, feature: str) -> tuple[int, int]:
    """HASH-5: ``(bucket, sign)`` of a feature under a seed."""
    h = int.from_bytes(hashlib.sha256(f"{seed}|{feature}".encode()).digest()[:8], "little")
    return h % DIMENSION, (-1 if h & _SIGN_BIT else 1)


class HashEmbedder:
    """``hash-v1`` for one built-in model id. Thread-safe; keeps a bounded per-token cache."""

    __slots__ = ("_cache", "_empty", "_fingerprint", "_model_id")

    def __init__(self, model_id: str) -> None:
        if model_id not in BUILTIN_MODEL_IDS:
            raise invalid(
                f"The hash-v1 embedder serves the built-in model ids {', '.join(map(repr, BUILTIN_MODEL_IDS))}; "
                f"got {model_id!r}."
            )
        self._model_id = model_id
        self._fingerprint = EmbedderFingerprint(BACKEND, VERSION, DIMENSION, "")
        self._cache: dict[str, tuple[tuple[int, int], ...]] = {}
        bucket, sign = feature_hash(model_id, EMPTY_FEATURE)
        empty = [0.0] * DIMENSION
        empty[bucket] = float(sign)
        self._empty = empty

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def fingerprint(self) -> EmbedderFingerprint:
        return self._fingerprint

    def __repr__(self) -> str:
        return f"HashEmbedder({self._model_id!r})"

    def _token_terms(self, token: str) -> tuple[tuple[int, int], ...]:
        """The summed ``(bucket, signed weight)`` terms of one token occurrence (zeros dropped)."""
        terms = self._cache.get(token)
        if terms is None:
            acc: dict[int, int] = {}
            seed = self._model_id
            for feature, weight in features(token):
                bucket, sign = feature_hash(seed, feature)
                acc[bucket] = acc.get(bucket, 0) + sign * weight
            terms = tuple((b, w) for b, w in acc.items() if w)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[token] = terms
        return terms

    def embed_one(self, text: str) -> list[float]:
        """HASH-6..HASH-8 for one text: a float32-valued unit vector of length 384."""
        acc: dict[int, int] = {}
        get = acc.get
        for token, count in Counter(tokenize(text)).items():
            for bucket, weight in self._token_terms(token):
                acc[bucket] = get(bucket, 0) + count * weight
        total = 0
        for weight in acc.values():
            total += weight * weight
        if total == 0:  # no token, or every bucket cancelled out (HASH-7)
            return list(self._empty)
        norm = math.sqrt(total)  # int -> float64 is correctly rounded, sqrt is correctly rounded
        out = [0.0] * DIMENSION
        for bucket, weight in acc.items():
            out[bucket] = weight / norm
        return array("f", out).tolist()  # float64 -> float32, round to nearest even

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise invalid("embed() takes a sequence of texts, not a single str; wrap it in a list.")
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise invalid(f"texts[{i}] must be a str, got {type(text).__name__}.")
            out.append(self.embed_one(text))
        return out


def create(model_id: str, **options: object) -> HashEmbedder:
    """Registry factory for ``hash-v1``. It takes no options."""
    if options:
        raise invalid(f"The hash-v1 embedder takes no options; got {', '.join(sorted(options))}.")
    if not isinstance(model_id, str):
        raise invalid(f"model_id must be a str, got {type(model_id).__name__}.")
    return HashEmbedder(model_id)


if TYPE_CHECKING:  # static proof that the class satisfies the protocol (mypy --strict)
    _protocol_check: Embedder = HashEmbedder("moss-minilm")
