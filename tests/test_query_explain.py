"""Query explain reports the order and the numbers ranking used (EXPL-1..EXPL-5).

Random corpora over a handful of common words (so BM25 ties and repeats are frequent) and small
integer vectors (so similarity ties are frequent): the explained order is the query's order, the
shown scores are the query's, each BM25 is the exact sum of its term contributions and equals the
ranker's score, the fused values reproduce the order, and ``decided_by`` names the key that did.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref import DocumentInfo, MossClient, QueryOptions
from moss_ref._bm25 import term_ids
from moss_ref._explain import HYBRID, KEYWORD, VECTOR, Explanation, format_explanation
from moss_ref._query import RRF_K
from moss_ref.stores.memory import MemoryStore

WORDS = ["the", "red", "fox", "a", "dog", "runs"]

texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join)
vectors = st.lists(st.integers(-2, 2), min_size=3, max_size=3).filter(any)
corpora = st.lists(st.tuples(texts, vectors), min_size=1, max_size=14)
alphas = st.sampled_from([0.0, 0.25, 0.5, 0.8, 1.0])


def check(
    explanation: Explanation, result_ids: list[str], result_scores: list[float], session_scores: dict[str, float]
) -> None:
    hits = explanation.hits
    assert [h.id for h in hits] == result_ids
    assert [h.score for h in hits] == result_scores
    for h in hits:
        if explanation.mode in (HYBRID, KEYWORD):
            total = math.fsum(t.contribution for t in h.terms)
            if h.bm25 is not None:
                assert total == h.bm25 == session_scores[h.id]  # EXPL-3: exactly the ranker's BM25
            else:
                assert h.id not in session_scores or explanation.mode == HYBRID
            for t in h.terms:
                if t.avgdl:
                    assert math.isclose(t.norm, t.k1 * (1 - t.b + t.b * t.doc_length / t.avgdl))
        if explanation.mode == HYBRID:
            parts = (h.vector_part or 0.0) + (h.keyword_part or 0.0)
            assert h.fused == parts
            expected = (0.0 if h.vector_rank is None else explanation.alpha / (RRF_K + h.vector_rank)) + (
                0.0 if h.keyword_rank is None else (1 - explanation.alpha) / (RRF_K + h.keyword_rank)
            )
            assert h.fused == expected
    key = {HYBRID: "fused", VECTOR: "similarity", KEYWORD: "bm25"}.get(explanation.mode)
    if key is None:
        return
    values = [getattr(h, key) for h in hits]
    assert [h.id for h in sorted(hits, key=lambda h: (-(getattr(h, key) or 0.0), h.position))] == result_ids
    for above, below, a, b in zip(hits, hits[1:], values, values[1:]):
        if a > b:
            assert above.decided_by == ("fused score" if key == "fused" else key)
        else:
            assert a == b and above.position < below.position and above.decided_by == "position"
    if hits:
        assert hits[-1].decided_by == ""


def ranked_bm25(corpus: Any, text: str) -> dict[str, float]:
    """Every document's BM25 as the keyword backend itself ranks it (the numbers ranking used)."""
    return dict(corpus.keywords.rank(term_ids(text), len(corpus), corpus.position, None))


@settings(max_examples=150)
@given(corpora, texts, alphas, st.integers(1, 8), vectors)
def test_session_explain_matches_the_query(
    corpus: list[tuple[str, list[int]]], text: str, alpha: float, top_k: int, query_vector: list[int]
) -> None:
    async def go() -> None:
        client = MossClient("p", "k", store=MemoryStore(), vector_backend="python")
        session = await client.session("idx", "custom")
        await session.add_docs(
            [DocumentInfo(f"d{i}", t, embedding=[float(x) for x in v]) for i, (t, v) in enumerate(corpus)]
        )
        options = QueryOptions(top_k=top_k, alpha=alpha, embedding=[float(x) for x in query_vector])
        result = await session.query(text, options)
        explanation = await session.explain_query(text, options)
        scores = ranked_bm25(session.core.corpus, text)
        check(explanation, [d.id for d in result.docs], [d.score for d in result.docs], scores)
        assert format_explanation(explanation).count("\n#") == len(result.docs)

    asyncio.run(go())


@settings(max_examples=100)
@given(corpora, texts, alphas, st.integers(1, 8))
def test_client_explain_matches_the_client_query(
    corpus: list[tuple[str, list[int]]], text: str, alpha: float, top_k: int
) -> None:
    async def go() -> None:
        client = MossClient("p", "k", store=MemoryStore(), embedder="hash-v1", vector_backend="python")
        await client.create_index("idx", [DocumentInfo(f"d{i}", t) for i, (t, _) in enumerate(corpus)], "moss-minilm")
        await client.load_index("idx")
        options = QueryOptions(top_k=top_k, alpha=alpha)
        result = await client.query("idx", text, options)
        explanation = await client.explain_query("idx", text, options)
        loaded = client._loaded.get("idx")
        assert loaded is not None
        scores = ranked_bm25(loaded.core.corpus, text)
        check(explanation, [d.id for d in result.docs], [d.score for d in result.docs], scores)

    asyncio.run(go())


def test_explain_names_the_tie_rule_and_each_term() -> None:
    async def go() -> Explanation:
        client = MossClient("p", "k", store=MemoryStore(), vector_backend="python")
        session = await client.session("idx", "custom")
        await session.add_docs(
            [
                DocumentInfo("first", "dog red", embedding=[1.0, 0.0]),  # vector rank 1, keyword rank 2
                DocumentInfo("second", "red fox", embedding=[0.8, 0.6]),  # vector rank 2, keyword rank 1
                DocumentInfo("third", "dog", embedding=[0.0, 1.0]),  # vector rank 3, no query word
            ]
        )
        return await session.explain_query("red fox red", QueryOptions(embedding=[1.0, 0.0], alpha=0.5))

    explanation = asyncio.run(go())
    first, second, third = explanation.hits
    assert explanation.mode == HYBRID and (first.id, second.id, third.id) == ("first", "second", "third")
    assert first.fused == second.fused and first.decided_by == "position"
    assert second.decided_by == "fused score" and third.decided_by == ""
    assert [(t.term, t.tf) for t in first.terms] == [("red", 1), ("fox", 0), ("red", 1)]  # repeats counted
    assert first.terms[0].df == 2 and first.terms[1].df == 1 and first.terms[0].avgdl == 5 / 3
    assert (first.vector_rank, first.keyword_rank, second.vector_rank, second.keyword_rank) == (1, 2, 2, 1)
    assert third.keyword_rank is None and third.bm25 is None and third.vector_rank == 3
    text = format_explanation(explanation)
    assert "above #2 by position" in text and "'fox': tf 1, df 1" in text and "0.5/(30+1) + 0.5/(30+2)" in text


def test_explain_counts_metadata_terms() -> None:
    """QRY-17: explain counts metadata words in tf, df and length, as the ranker does."""

    async def go() -> tuple[Explanation, dict[str, float], list[str]]:
        client = MossClient("p", "k", store=MemoryStore(), vector_backend="python")
        session = await client.session("idx", "custom")
        await session.add_docs(
            [
                DocumentInfo("meta", "fox", {"colour": "red red"}, embedding=[1.0, 0.0]),  # 4 terms
                DocumentInfo("text", "red fox", embedding=[1.0, 0.0]),  # 2 terms
            ]
        )
        options = QueryOptions(embedding=[1.0, 0.0], alpha=0.0)
        result = await session.query("red", options)
        return (
            await session.explain_query("red", options),
            ranked_bm25(session.core.corpus, "red"),
            [d.id for d in result.docs],
        )

    explanation, scores, ids = asyncio.run(go())
    meta = next(h for h in explanation.hits if h.id == "meta")
    assert [(t.tf, t.df, t.doc_length) for t in meta.terms] == [(2, 2, 4)] and explanation.avgdl == 3.0
    check(explanation, ids, [h.score for h in explanation.hits], scores)


def test_explain_terms_a_document_lacks() -> None:
    """EXPL-3: a query token a document lacks shows tf 0 and contributes 0; one no document has shows
    df 0 and idf 0; when no document has a term the norm is k1 * (1 - b); stop words are not listed;
    a blank document is not in the keyword index (QRY-17), so it lists no terms."""

    async def go() -> tuple[Explanation, Explanation]:
        client = MossClient("p", "k", store=MemoryStore(), vector_backend="python")
        empty = await client.session("empty", "custom")
        await empty.add_docs([DocumentInfo("e", "the", embedding=[1.0, 0.0])])  # in the index, no terms
        blank = await client.session("blank", "custom")
        await blank.add_docs([DocumentInfo("b", "", embedding=[1.0, 0.0])])
        (hit,) = (await blank.explain_query("the fox", QueryOptions(embedding=[1.0, 0.0], alpha=0.5))).hits
        assert hit.id == "b" and hit.terms == ()
        session = await client.session("idx", "custom")
        await session.add_docs(
            [DocumentInfo("fox", "fox", embedding=[1.0, 0.0]), DocumentInfo("dog", "dog", embedding=[0.0, 1.0])]
        )
        options = QueryOptions(embedding=[1.0, 0.0], alpha=0.5)
        return await empty.explain_query("the fox", options), await session.explain_query("the fox cat", options)

    empty, mixed = asyncio.run(go())
    (e,) = empty.hits
    assert [(t.term, t.tf, t.df, t.idf, t.doc_length, t.contribution) for t in e.terms] == [("fox", 0, 0, 0.0, 0, 0.0)]
    assert e.terms[0].norm == 1.2 * (1.0 - 0.75) and e.terms[0].avgdl == 0.0
    fox, dog = sorted(mixed.hits, key=lambda h: h.id != "fox")
    assert [(t.term, t.tf, t.df) for t in fox.terms] == [("fox", 1, 1), ("cat", 0, 0)]
    assert fox.terms[0].contribution > 0.0 and fox.terms[1].idf == 0.0 and fox.terms[1].contribution == 0.0
    assert [(t.term, t.tf, t.df, t.contribution) for t in dog.terms] == [("fox", 0, 1, 0.0), ("cat", 0, 0, 0.0)]
    assert dog.terms[0].idf > 0.0 and mixed.avgdl == 1.0
