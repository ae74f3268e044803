"""A deliberately plain model of the session rules, written straight from CONFORMANCE.md.

No incremental indexes, no shortlists: every query recomputes BM25 statistics from all documents
and scores every vector. ``docs`` is a dict kept like the index: an upsert keeps a document's
place, a delete drops it, so its order is the position order that breaks ties (QRY-6). The
state-machine test compares the real session with this after every step.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional


def f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


@dataclass
class Doc:
    id: str
    text: str
    metadata: Optional[dict[str, str]]
    vector: list[float]  # float32 values


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())


def keyword_document(d: Doc) -> list[str]:
    """KW-4: the text, then every metadata key and value."""
    return tokens(d.text) + [t for k, v in (d.metadata or {}).items() for t in tokens(k) + tokens(v)]


def bm25_all(docs: Mapping[str, Doc], query: str) -> dict[str, float]:
    # QRY-17: a blank text without metadata is not in the keyword index (N and avgdl skip it)
    toks = {i: keyword_document(d) for i, d in docs.items() if d.text.strip() or d.metadata}
    n_docs = len(toks)
    avgdl = sum(len(t) for t in toks.values()) / n_docs if n_docs else 0.0
    out: dict[str, list[float]] = {}
    for q in tokens(query):
        having = [i for i, t in toks.items() if q in t]
        if not having:
            continue
        idf = math.log(1.0 + (n_docs - len(having) + 0.5) / (len(having) + 0.5))
        for i in having:
            tf = toks[i].count(q)
            norm = 1.2 * (1.0 - 0.75 + 0.75 * len(toks[i]) / avgdl)
            out.setdefault(i, []).append(idf * tf * (1.2 + 1.0) / (tf + norm))
    return {i: math.fsum(p) for i, p in out.items()}


def unit32(q: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in q))
    return [f32(x / norm) for x in q]


def similarity(q32: list[float], v: list[float]) -> float:
    """QRY-1: the exact dot product, rounded to float32."""
    return f32(math.fsum(a * b for a, b in zip(q32, v)))


def cosine_score(s: float, v: list[float]) -> float:
    """QRY-1: s / |v| clamped to [0, 1], as float32; 0 for a zero vector."""
    norm = math.sqrt(math.fsum(x * x for x in v))
    return 0.0 if norm == 0 else f32(min(1.0, max(0.0, s / norm)))


def query(
    docs: Mapping[str, Doc],
    text: str,
    *,
    embedding: Optional[list[float]],
    top_k: int = 5,
    alpha: float = 0.8,
    where: Optional[Callable[[Optional[dict[str, str]]], bool]] = None,
    min_score: Optional[float] = None,
    depth: Optional[int] = None,
) -> list[tuple[str, float]]:
    """``[(id, shown score)]`` per the ranking rules, for a custom-embedding query.

    ``min_score`` and ``depth`` are the client's options (QRY-7, QRY-9); a session ignores them.
    """
    blank = not text.strip()
    alpha = min(1.0, max(0.0, alpha))
    if top_k == 0 or (blank and (embedding is None or alpha == 0)) or not docs:
        return []
    place = {i: n for n, i in enumerate(docs)}
    pool = {i: d for i, d in docs.items() if where is None or where(d.metadata)}
    depth = 2 * top_k if depth is None else max(depth, top_k)
    sims: dict[str, float] = {}
    if embedding is not None and alpha > 0:
        q = unit32(embedding)
        sims = {i: similarity(q, d.vector) for i, d in pool.items()}

    def shown(i: str) -> float:
        return cosine_score(sims[i], pool[i].vector)

    if alpha >= 1 or blank:
        ranked = sorted(pool, key=lambda i: (-sims[i], place[i]))
        out = [(i, shown(i)) for i in ranked]
    elif alpha <= 0:
        bm = {i: s for i, s in bm25_all(docs, text).items() if i in pool}
        out = [(i, 0.0) for i in sorted(bm, key=lambda i: (-bm[i], place[i]))]
    else:
        vec = sorted(pool, key=lambda i: (-sims[i], place[i]))[:depth]
        bm = {i: s for i, s in bm25_all(docs, text).items() if i in pool}
        kw = sorted(bm, key=lambda i: (-bm[i], place[i]))[:depth]
        fused: dict[str, float] = {}
        for r, i in enumerate(vec, 1):
            fused[i] = alpha / (30 + r)
        for r, i in enumerate(kw, 1):
            fused[i] = fused.get(i, 0.0) + (1 - alpha) / (30 + r)
        ranked = sorted(fused, key=lambda i: (-fused[i], place[i]))
        out = [(i, shown(i)) for i in ranked]
    if min_score is not None:
        out = [(i, s) for i, s in out if s >= min_score]
    return out[:top_k]
