"""Query rules (CONFORMANCE.md QRY-*): scoring, fusion, order, validation, fixtures X-1..X-3."""

from __future__ import annotations

import math
from fractions import Fraction

import model
import pytest
from helpers import X1, X2, builtin_session, custom_session, x3_docs

from moss_ref import DocumentInfo, InvalidArgumentError, ParentGrouping, QueryOptions

E = [1.0, 0.0, 0.0, 0.0]


def _x1(vector_backend: str):  # type: ignore[no-untyped-def]
    s = custom_session(vector_backend)
    s.core.add_docs(X1)
    return s


def _ids(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.id for d in result.docs]


X1_CASES = [
    ({"field": "city", "condition": {"$eq": "NYC"}}, "13"),
    ({"field": "city", "condition": {"$ne": "NYC"}}, "245"),
    ({"field": "price", "condition": {"$gt": "10"}}, "124"),
    ({"field": "price", "condition": {"$gt": 10}}, "124"),
    ({"field": "price", "condition": {"$gt": 10.0}}, "124"),
    ({"field": "price", "condition": {"$lt": "15"}}, "135"),
    ({"field": "price", "condition": {"$gte": "20"}}, "24"),
    ({"field": "price", "condition": {"$lte": "8"}}, "35"),
    ({"field": "city", "condition": {"$in": ["NYC", "Paris"]}}, "134"),
    ({"field": "price", "condition": {"$in": [12, 20]}}, "14"),
    ({"field": "city", "condition": {"$nin": ["NYC"]}}, "245"),
    (
        {"$and": [{"field": "city", "condition": {"$eq": "NYC"}}, {"field": "category", "condition": {"$eq": "food"}}]},
        "1",
    ),
    (
        {
            "$or": [
                {"field": "city", "condition": {"$eq": "Paris"}},
                {"field": "category", "condition": {"$eq": "tech"}},
            ]
        },
        "34",
    ),
    (
        {
            "$and": [
                {
                    "$or": [
                        {"field": "city", "condition": {"$eq": "NYC"}},
                        {"field": "city", "condition": {"$eq": "Tokyo"}},
                    ]
                },
                {"field": "category", "condition": {"$eq": "food"}},
            ]
        },
        "125",
    ),
    ({"field": "city", "condition": {"$eq": "Berlin"}}, ""),
    ({"field": "city", "condition": {"$ne": "nonexistent"}}, "12345"),
    (None, "123456"),
]


@pytest.mark.parametrize("flt, expected", X1_CASES)
def test_x1_filter_fixture_through_session_query(vector_backend: str, flt: object, expected: str) -> None:
    s = _x1(vector_backend)
    got = s.core.query("test", QueryOptions(embedding=E, top_k=10, filter=flt))  # type: ignore[arg-type]
    assert sorted(_ids(got)) == list(expected)


@pytest.mark.parametrize(
    "radius, expected",
    [("10000", ["sol", "ts"]), ("5000", ["ts"]), ("100000", ["sol", "ts"]), ("10000000", ["par", "sol", "ts"])],
)
def test_x2_geo_fixture_through_session_query(vector_backend: str, radius: str, expected: list[str]) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs(X2)
    flt = {"field": "location", "condition": {"$near": f"40.7580,-73.9855,{radius}"}}
    assert sorted(_ids(s.core.query("x", QueryOptions(embedding=E, top_k=10, filter=flt)))) == expected


def test_x3_hybrid_fixture(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs(x3_docs())
    top2 = s.core.query("focusterm", QueryOptions(embedding=E, alpha=0.5, top_k=2))
    assert _ids(top2) == ["kw1", "cross"]
    assert [d.score for d in top2.docs] == [model.f32(0.1), model.f32(0.8)]
    kept = s.core.query(
        "focusterm",
        QueryOptions(embedding=E, alpha=0.5, top_k=4, filter={"field": "group", "condition": {"$eq": "keep"}}),
    )
    assert "drop" not in _ids(kept) and len(kept.docs) == 4


def test_x3_matches_plain_model_at_many_alphas(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    docs = x3_docs()
    s.core.add_docs(docs)
    mdocs = {d.id: model.Doc(d.id, d.text, d.metadata, d.embedding or []) for d in docs}
    for alpha in [0.0, 0.1, 0.25, 0.5, 0.8, 0.99, 1.0]:
        for top_k in [1, 2, 3, 6, 10]:
            got = s.core.query("focusterm noise", QueryOptions(embedding=E, alpha=alpha, top_k=top_k))
            want = model.query(mdocs, "focusterm noise", embedding=E, alpha=alpha, top_k=top_k)
            assert [(d.id, d.score) for d in got.docs] == want, (alpha, top_k)


def test_alpha_one_ranks_by_similarity_and_scores_clamp(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs(
        [
            DocumentInfo("neg", "a", embedding=[-1, 0]),
            DocumentInfo("big", "b", embedding=[3, 0]),  # unnormalised: s = 3, shown score 1
            DocumentInfo("half", "c", embedding=[0.5, 0.5]),
        ]
    )
    got = s.core.query("q", QueryOptions(embedding=[2, 0], alpha=1.0, top_k=5))
    assert [(d.id, d.score) for d in got.docs] == [("big", 1.0), ("half", 0.5), ("neg", 0.0)]


def test_ties_break_by_id_not_insertion(vector_backend: str) -> None:
    for order in (["b", "a", "c"], ["c", "a", "b"]):
        s = custom_session(vector_backend)
        s.core.add_docs([DocumentInfo(i, "same words", embedding=[1, 1]) for i in order])
        for alpha in (1.0, 0.5, 0.0):
            assert _ids(s.core.query("same", QueryOptions(embedding=[1, 1], alpha=alpha))) == ["a", "b", "c"]


def test_alpha_zero_is_keyword_ranking_with_zero_scores() -> None:
    s = custom_session()
    s.core.add_docs(x3_docs())
    got = s.core.query("focusterm", QueryOptions(embedding=E, alpha=0.0, top_k=10))
    assert _ids(got) == ["kw1", "kw2", "cross"]
    assert all(d.score == 0.0 for d in got.docs)


def test_builtin_alpha_zero_never_embeds() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo("a", "apples"), DocumentInfo("b", "pears")])
    calls: list[int] = []
    real = s.core.embed_texts
    s.core.embed_texts = lambda texts: calls.append(len(texts)) or real(texts)  # type: ignore[method-assign]
    assert _ids(s.core.query("pears", QueryOptions(alpha=0.0))) == ["b"]
    assert calls == []


def test_blank_query_without_embedding_is_empty_and_embeds_nothing() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo("a", "x")])
    calls: list[int] = []
    s.core.embed_texts = lambda texts: calls.append(1) or []  # type: ignore[method-assign]
    for text in ["", "   ", "\n\t"]:
        for alpha in (0.0, 0.5, 1.0):
            assert s.core.query(text, QueryOptions(alpha=alpha)).docs == []
    assert calls == []


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_blank_query_with_embedding_ranks_by_vector_alone(alpha: float) -> None:
    s = custom_session()
    s.core.add_docs(x3_docs())
    got = s.core.query(" ", QueryOptions(embedding=E, alpha=alpha, top_k=3))
    ref = s.core.query("zzz", QueryOptions(embedding=E, alpha=1.0, top_k=3))
    assert [(d.id, d.score) for d in got.docs] == [(d.id, d.score) for d in ref.docs] != []


def test_custom_session_requires_query_embedding_even_blank_and_alpha_zero() -> None:
    s = custom_session()
    for text, alpha in [("x", 0.0), ("", 0.8), ("x", 1.0)]:
        with pytest.raises(InvalidArgumentError) as info:
            s.core.query(text, QueryOptions(alpha=alpha))
        assert (
            str(info.value)
            == "This session uses custom embeddings. Provide a query embedding via QueryOptions.embedding."
        )


def test_empty_custom_session_answers_empty() -> None:
    assert custom_session().core.query("x", QueryOptions(embedding=[1, 2, 3])).docs == []


@pytest.mark.parametrize("alpha", [-0.1, 1.5, math.nan, math.inf, "0.5", True])
def test_alpha_out_of_range_rejected(alpha: object) -> None:
    s = _x1("python")
    with pytest.raises(InvalidArgumentError, match=r"alpha must be a finite number between 0\.0 and 1\.0"):
        s.core.query("x", QueryOptions(embedding=E, alpha=alpha))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "embedding, match",
    [
        ([], "non-empty"),
        ([0, 0, 0, 0], "nonzero norm"),
        ([1, 0, 0], "expected 4 but received 3"),
        ([math.nan, 0, 0, 1], "finite"),
    ],
)
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_bad_query_vectors_rejected_at_every_alpha(embedding: list[float], match: str, alpha: float) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        _x1("python").core.query("x", QueryOptions(embedding=embedding, alpha=alpha))


def test_top_k_rules() -> None:
    s = _x1("python")
    assert len(s.core.query("x", QueryOptions(embedding=E)).docs) == 5  # default 5
    assert s.core.query("x", QueryOptions(embedding=E, top_k=0)).docs == []
    assert len(s.core.query("x", QueryOptions(embedding=E, top_k=100)).docs) == 6
    with pytest.raises(OverflowError):
        QueryOptions(top_k=-1)
    with pytest.raises(TypeError):
        QueryOptions(top_k=2.0)  # type: ignore[arg-type]
    opts = QueryOptions(embedding=E)
    opts.top_k = -1
    with pytest.raises(InvalidArgumentError, match="top_k"):
        s.core.query("x", opts)


def test_min_score_filters_before_top_k(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs([DocumentInfo(str(i), "t", embedding=[1, i / 10]) for i in range(10)])
    got = s.core.query("t", QueryOptions(embedding=[0, 1], min_score=0.5, top_k=3, alpha=1.0))
    assert all(d.score >= 0.5 for d in got.docs) and len(got.docs) == 3
    assert _ids(got) == ["9", "8", "7"]
    hybrid = s.core.query("t", QueryOptions(embedding=[0, 1], min_score=0.6, top_k=10))
    assert hybrid.docs and all(d.score >= 0.6 for d in hybrid.docs)


@pytest.mark.parametrize("min_score", [-0.1, 1.1, math.nan, "0.5"])
def test_min_score_range(min_score: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"min_score must be a number between 0\.0 and 1\.0"):
        _x1("python").core.query("x", QueryOptions(embedding=E, min_score=min_score))  # type: ignore[arg-type]


def test_min_score_refused_at_alpha_zero() -> None:
    with pytest.raises(InvalidArgumentError, match="keyword-only"):
        _x1("python").core.query("x", QueryOptions(embedding=E, min_score=0.1, alpha=0.0))


def test_candidate_depth_rules() -> None:
    s = custom_session()
    s.core.add_docs(x3_docs())
    with pytest.raises(InvalidArgumentError, match="candidate_depth must be at least 1; got 0"):
        s.core.query("focusterm", QueryOptions(embedding=E, candidate_depth=0))
    shallow = s.core.query("focusterm", QueryOptions(embedding=E, alpha=0.5, top_k=6, candidate_depth=1))
    # depth raised to top_k: every doc in either top-6 list can appear
    assert len(shallow.docs) == 6
    mdocs = {d.id: model.Doc(d.id, d.text, d.metadata, d.embedding or []) for d in x3_docs()}
    for depth in (1, 2, 3, 8):
        got = s.core.query("focusterm", QueryOptions(embedding=E, alpha=0.5, top_k=2, candidate_depth=depth))
        want = model.query(mdocs, "focusterm", embedding=E, alpha=0.5, top_k=2, depth=depth)
        assert [(d.id, d.score) for d in got.docs] == want


def test_filter_applies_before_top_k(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs([DocumentInfo(f"d{i}", "t", {"odd": str(i % 2)}, [1, i]) for i in range(20)])
    got = s.core.query("t", QueryOptions(embedding=[1, 0], top_k=5, filter={"field": "odd", "condition": {"$eq": "1"}}))
    assert len(got.docs) == 5 and all(d.metadata == {"odd": "1"} for d in got.docs)


def test_filter_is_validated_before_anything_and_names_path() -> None:
    s = _x1("python")
    with pytest.raises(InvalidArgumentError, match=r"\$and\[1\]"):
        s.core.query(
            "x", QueryOptions(embedding=E, filter={"$and": [{"field": "a", "condition": {"$eq": "1"}}, {"field": "b"}]})
        )


def test_result_shape(vector_backend: str) -> None:
    s = custom_session(vector_backend, name="support")
    s.core.add_docs([DocumentInfo("a", "hello", {"k": "v"}, [1, 0], payload='{"x":1}')])
    r = s.core.query("hello", QueryOptions(embedding=[1, 0]))
    assert (r.query, r.index_name, r.model_id) == ("hello", "support", "custom")
    assert isinstance(r.time_taken_ms, int) and r.time_taken_ms >= 0
    (d,) = r.docs
    assert (d.id, d.text, d.metadata, d.score, d.payload, d.index_name) == (
        "a",
        "hello",
        {"k": "v"},
        1.0,
        '{"x":1}',
        None,
    )


def test_query_group_by_collapses_siblings() -> None:
    s = custom_session()
    s.core.add_docs(
        [
            DocumentInfo("p#0", "first", {"parentId": "p", "n": "0"}, [1, 0.1]),
            DocumentInfo("p#1", "second", {"parentId": "p", "n": "1"}, [1, 0]),
            DocumentInfo("q#0", "other", {"parentId": "q", "n": "0"}, [0, 1]),
        ]
    )
    r = s.core.query("x", QueryOptions(embedding=[1, 0], alpha=1.0, top_k=2, group_by=ParentGrouping("parentId", "n")))
    assert [(d.id, d.text) for d in r.docs] == [("p", "first\nsecond"), ("q", "other")]
    assert r.docs[0].score == 1.0


def test_builtin_text_query_finds_matching_doc() -> None:
    s = builtin_session()
    s.core.add_docs(
        [
            DocumentInfo("billing", "Refunds are issued to the original card within five days of an invoice dispute."),
            DocumentInfo("garden", "Prune tomato plants by pinching the suckers between stem and branch."),
        ]
    )
    assert _ids(s.core.query("refund for a billing issue", QueryOptions(top_k=1))) == ["billing"]
    explicit = s.core.query("ignored text", QueryOptions(embedding=[1.0] + [0.0] * 383, alpha=1.0))
    assert len(explicit.docs) == 2
    with pytest.raises(InvalidArgumentError, match="expected 384"):
        s.core.query("x", QueryOptions(embedding=[1.0, 0.0]))


@pytest.mark.parametrize(
    "attribute, value, match",
    [
        ("alpha", 10**400, "alpha"),
        ("min_score", 10**400, "min_score"),
        ("min_score", -(10**400), "min_score"),
        ("embedding", [10**400, 0, 0, 0], "finite"),
        ("embedding", [Fraction(10**400, 3), 0, 0, 0], "finite"),
    ],
)
def test_numbers_too_large_for_a_float_are_invalid_arguments(attribute: str, value: object, match: str) -> None:
    """ERR-2: no OverflowError escapes when junk is assigned to option attributes."""
    opts = QueryOptions(embedding=E)
    setattr(opts, attribute, value)
    with pytest.raises(InvalidArgumentError, match=match):
        _x1("python").core.query("x", opts)


@pytest.mark.parametrize("grouping", [ParentGrouping(1, 2), ParentGrouping([1], "x"), ("a", "b")])  # type: ignore[arg-type]
def test_query_group_by_is_validated_like_get_docs(grouping: object) -> None:
    opts = QueryOptions(embedding=E)
    opts.group_by = grouping  # type: ignore[assignment]
    with pytest.raises(InvalidArgumentError, match="group_by"):
        _x1("python").core.query("x", opts)
