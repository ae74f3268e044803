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
    assert [d.score for d in top2.docs] == pytest.approx([0.1, 0.8], abs=1e-7)  # cosines, not fused values
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


def test_alpha_one_ranks_by_dot_and_scores_cosine(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs(
        [
            DocumentInfo("neg", "a", embedding=[-1, 0]),
            DocumentInfo("big", "b", embedding=[3, 0]),  # unnormalised: s = 3 ranks first, cosine 1
            DocumentInfo("half", "c", embedding=[0.5, 0.5]),  # s = 0.5, cosine 0.7071
            DocumentInfo("short", "d", embedding=[0.1, 0]),  # s = 0.1 ranks below half, cosine 1
            DocumentInfo("zero", "e", embedding=[0, 0]),  # s = 0, no direction: score 0
        ]
    )
    got = s.core.query("q", QueryOptions(embedding=[2, 0], alpha=1.0, top_k=5))
    assert [(d.id, d.score) for d in got.docs] == [
        ("big", 1.0),
        ("half", model.f32(math.sqrt(0.5))),
        ("short", 1.0),
        ("zero", 0.0),
        ("neg", 0.0),
    ]


def test_similarities_below_float32_resolution_tie(vector_backend: str) -> None:
    """QRY-1: b's exact dot product exceeds a's by 1e-14; rounded to float32 both are 1.0, so they
    tie in position order, on the vector list, in the hybrid and on the cut at top_k 1."""
    near = [1.0, 1e-7, 0.0]
    for first, second in (("a", "b"), ("b", "a")):
        s = custom_session(vector_backend, first)
        vectors = {"a": [1.0, 0.0, 0.0], "b": near}
        s.core.add_docs([DocumentInfo(i, "cat", embedding=vectors[i]) for i in (first, second)])
        for alpha, top_k in ((1.0, 2), (1.0, 1), (0.8, 1)):
            got = s.core.query("cat", QueryOptions(embedding=near, alpha=alpha, top_k=top_k))
            assert [d.id for d in got.docs] == [first, second][:top_k]
    s = custom_session(vector_backend, "visible")
    s.core.add_docs(
        [DocumentInfo("a", "cat", embedding=[1.0, 0.0, 0.0]), DocumentInfo("b", "cat", embedding=[1.0, 1e-3, 0.0])]
    )
    assert [d.id for d in s.core.query("", QueryOptions(embedding=[1.0, 1e-3, 0.0], alpha=1.0)).docs] == ["b", "a"]


def test_ties_come_in_position_order(vector_backend: str) -> None:
    for order in (["b", "a", "c"], ["c", "a", "b"]):
        s = custom_session(vector_backend)
        s.core.add_docs([DocumentInfo(i, "twin words", embedding=[1, 1]) for i in order])
        for alpha in (1.0, 0.5, 0.0):
            assert _ids(s.core.query("twin", QueryOptions(embedding=[1, 1], alpha=alpha))) == order
        s.core.add_docs([DocumentInfo(order[0], "twin words", embedding=[1, 1])])  # an upsert keeps its place
        s.core.delete_docs([order[1]])
        s.core.add_docs([DocumentInfo(order[1], "twin words", embedding=[1, 1])])  # re-added: last
        want = [order[0], order[2], order[1]]
        for alpha in (1.0, 0.5, 0.0):
            assert _ids(s.core.query("twin", QueryOptions(embedding=[1, 1], alpha=alpha))) == want
    many = custom_session(vector_backend)
    ids = [f"d{(7 * i) % 30:02d}" for i in range(30)]
    many.core.add_docs([DocumentInfo(i, "t", embedding=[1, 0]) for i in ids])
    assert _ids(many.core.query("", QueryOptions(embedding=[1, 0], alpha=1.0, top_k=4))) == ids[:4]  # cut by position


def test_repeated_query_words_count() -> None:
    s = custom_session()
    s.core.add_docs(
        [
            DocumentInfo("f", "fox blue green", embedding=[1, 0]),
            DocumentInfo("r", "red red blue", embedding=[1, 0]),
            DocumentInfo("x", "red fox oak elm pine owl", embedding=[1, 0]),
            DocumentInfo("y", "fox oak", embedding=[1, 0]),
        ]
    )
    assert _ids(s.core.query("red fox", QueryOptions(embedding=[1, 0], alpha=0.0))) == ["r", "x", "y", "f"]
    assert _ids(s.core.query("red fox fox", QueryOptions(embedding=[1, 0], alpha=0.0))) == ["x", "r", "y", "f"]


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


@pytest.mark.parametrize("alpha", [0.3, 0.8, 1.0])
def test_blank_query_with_embedding_ranks_by_vector_alone(alpha: float) -> None:
    s = custom_session()
    s.core.add_docs(x3_docs())
    got = s.core.query(" ", QueryOptions(embedding=E, alpha=alpha, top_k=3))
    ref = s.core.query("zzz", QueryOptions(embedding=E, alpha=1.0, top_k=3))
    assert [(d.id, d.score) for d in got.docs] == [(d.id, d.score) for d in ref.docs] != []
    assert s.core.query(" ", QueryOptions(embedding=E, alpha=0.0, top_k=3)).docs == []  # alpha 0: nothing


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


@pytest.mark.parametrize("alpha", [math.nan, math.inf, -math.inf, 1e39, "0.5", None])
def test_alpha_must_be_finite_and_is_clamped(alpha: object) -> None:
    s = _x1("python")
    if isinstance(alpha, str):  # API-6 (observed): the options read alpha as a number when set
        with pytest.raises(TypeError, match=r"QueryOptions\.alpha must be a real number"):
            QueryOptions(embedding=E, alpha=alpha)  # type: ignore[arg-type]
        return
    if alpha is None:
        for given, same_as in [(1.5, 1.0), (100, 1.0), (-0.1, 0.0), (-7, 0.0), (True, 1.0), (False, 0.0)]:
            got = s.core.query("x", QueryOptions(embedding=[0, 1, 0, 0], alpha=given, top_k=6))
            want = s.core.query("x", QueryOptions(embedding=[0, 1, 0, 0], alpha=same_as, top_k=6))
            assert [(d.id, d.score) for d in got.docs] == [(d.id, d.score) for d in want.docs]
        return
    with pytest.raises(InvalidArgumentError, match=r"alpha must be a finite number"):
        s.core.query("x", QueryOptions(embedding=E, alpha=alpha))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "embedding, match",
    [
        ([], "non-empty"),
        ([1, 0, 0], "expected 4 but received 3"),
        ([math.nan, 0, 0, 1], "finite"),
        ([1e300, 0, 0, 1], "finite"),
    ],
)
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_bad_query_vectors_rejected_at_every_alpha(embedding: list[float], match: str, alpha: float) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        _x1("python").core.query("x", QueryOptions(embedding=embedding, alpha=alpha))


@pytest.mark.parametrize("embedding", [[0, 0, 0, 0], [1e-30, 0, 0, 0], [2e19, 0, 0, 0]])
def test_zero_query_vector_only_refused_when_vectors_rank(embedding: list[float]) -> None:
    s = _x1("python")
    for alpha in (0.5, 1.0):
        with pytest.raises(InvalidArgumentError, match="nonzero, finite norm"):
            s.core.query("x", QueryOptions(embedding=embedding, alpha=alpha))
    keyword = s.core.query("tokyo", QueryOptions(embedding=embedding, alpha=0.0))
    assert keyword.docs and all(d.score == 0.0 for d in keyword.docs)
    assert len(s.core.query("", QueryOptions(embedding=[1e-12, 0, 0, 0], alpha=1.0)).docs) == 5


def test_an_index_without_vectors_answers_before_the_norm_is_checked() -> None:
    """QRY-2: an empty custom session answers [] for a zero or wrong-length vector (there is no
    dimension yet), but still refuses non-finite components; a non-empty one refuses all three,
    even at top_k 0 (observed: moss 1.21.0)."""
    s = custom_session("python")
    for embedding in ([0, 0, 0], [1, 0]):
        assert s.core.query("the cat", QueryOptions(embedding=embedding)).docs == []
    with pytest.raises(InvalidArgumentError, match="finite"):
        s.core.query("the cat", QueryOptions(embedding=[math.nan, 0, 0]))
    s.core.add_docs([DocumentInfo("a", "the cat", embedding=[1.0, 0.0, 0.0])])
    for embedding, match in (([0, 0, 0], "norm"), ([1, 0], "length")):
        with pytest.raises(InvalidArgumentError, match=match):
            s.core.query("x", QueryOptions(embedding=embedding, top_k=0))
    s.core.delete_docs(["a"])  # emptied: the dimension is free again
    assert s.core.query("x", QueryOptions(embedding=[0, 0])).docs == []


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
    with pytest.raises(OverflowError, match="top_k"):  # API-6: when set, as in the constructor (observed)
        opts.top_k = -1
    opts.top_k = True  # a bool counts as 1, as moss 1.21 reads it
    assert opts.top_k == 1 and len(s.core.query("x", opts).docs) == 1


@pytest.mark.parametrize("min_score", [0.5, -0.1, 1.1, math.nan, True])
def test_min_score_is_ignored_by_sessions(min_score: object) -> None:
    s = custom_session()
    s.core.add_docs([DocumentInfo(str(i), "tea", embedding=[1, i / 10]) for i in range(10)])
    for alpha in (1.0, 0.5, 0.0):
        plain = s.core.query("tea", QueryOptions(embedding=[0, 1], top_k=10, alpha=alpha))
        got = s.core.query("tea", QueryOptions(embedding=[0, 1], top_k=10, alpha=alpha, min_score=min_score))  # type: ignore[arg-type]
        assert [(d.id, d.score) for d in got.docs] == [(d.id, d.score) for d in plain.docs]
        assert len(got.docs) == 10


def test_candidate_depth_rules() -> None:
    """Sessions ignore candidate_depth (QRY-7); the client's rule is tested in test_cloud_api."""
    s = custom_session()
    s.core.add_docs(x3_docs())
    for depth in (0, 1, 3, 8, 2**40):
        opts = QueryOptions(embedding=E, alpha=0.5, top_k=2)
        opts.candidate_depth = depth
        got = s.core.query("focusterm", opts)
        assert _ids(got) == ["kw1", "cross"]  # the default depth 2 * top_k
    mdocs = {d.id: model.Doc(d.id, d.text, d.metadata, d.embedding or []) for d in x3_docs()}
    got = s.core.query("focusterm", QueryOptions(embedding=E, alpha=0.5, top_k=1))
    assert [(d.id, d.score) for d in got.docs] == model.query(mdocs, "focusterm", embedding=E, alpha=0.5, top_k=1)
    assert model.query(mdocs, "focusterm", embedding=E, alpha=0.5, top_k=1, depth=3)[0][0] == "cross"  # would differ


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
    assert (r.query, r.index_name, r.model_id) == ("hello", "support", None)  # a custom session: no model id
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
            DocumentInfo("p#1", "second", {"parentId": "p", "n": "1"}, [1, 0.1], payload="p1"),
            DocumentInfo("p#0", "first", {"parentId": "p", "n": "0", "m": "x"}, [0.5, 0.5], payload="p0"),
            DocumentInfo("q#0", "other", {"parentId": "q", "n": "0"}, [0, 1]),
            DocumentInfo("solo", "alone", None, [0.9, 0]),
        ]
    )
    grouping = ParentGrouping("parentId", "n")
    r = s.core.query("x", QueryOptions(embedding=[1, 0], alpha=1.0, top_k=2, group_by=grouping))
    assert [(d.id, d.text) for d in r.docs] == [("p", "first\nsecond"), ("solo", "alone")]
    lead = r.docs[0]  # first sibling in order_field order gives metadata and payload; the best sibling the score
    assert (lead.metadata, lead.payload, lead.score) == (
        {"parentId": "p", "n": "0", "m": "x"},
        "p0",
        model.f32(1 / math.sqrt(1.01)),
    )
    keyword = s.core.query("second", QueryOptions(embedding=[1, 0], alpha=0.0, top_k=3, group_by=grouping))
    assert [(d.id, d.text, d.payload) for d in keyword.docs] == [("p", "second", "p1")]  # only the hits join
    many = custom_session()
    many.core.add_docs(
        [DocumentInfo(f"s{i:02d}", f"t{i}", {"parentId": "P", "n": str(i)}, [1, i / 1000]) for i in range(25)]
    )
    for top_k, joined in [(1, 10), (2, 20), (3, 25)]:
        (g,) = many.core.query("", QueryOptions(embedding=[1, 0], alpha=1.0, top_k=top_k, group_by=grouping)).docs
        assert g.text.split("\n") == [f"t{i}" for i in range(joined)]  # 10 * top_k hits ranked, then grouped


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
        ("embedding", [10**400, 0, 0, 0], "finite"),
        ("embedding", [Fraction(10**400, 3), 0, 0, 0], "finite"),
    ],
)
def test_numbers_too_large_for_a_float_overflow_when_set(attribute: str, value: object, match: str) -> None:
    """ERR-2, API-6 (observed: moss 1.21.0): a number too large for a float is an OverflowError when
    set, as float() raises it; the options keep their previous value and still query."""
    opts = QueryOptions(embedding=E)
    with pytest.raises(OverflowError):
        setattr(opts, attribute, value)
    assert opts.embedding == E and opts.alpha is None
    assert _x1("python").core.query("x", opts).docs


@pytest.mark.parametrize("fields", [(1, 2), ("x", [1]), ("a", None)])
def test_parent_grouping_fields_are_str_when_set(fields: tuple[object, object]) -> None:
    """API-6 (observed: moss 1.21.0): ParentGrouping reads both fields as str when built and when set."""
    with pytest.raises(TypeError, match="ParentGrouping"):
        ParentGrouping(*fields)  # type: ignore[arg-type]
    grouping = ParentGrouping("a", "b")
    with pytest.raises(TypeError, match=r"ParentGrouping\.order_field"):
        grouping.order_field = fields[1]  # type: ignore[assignment]
    assert (grouping.parent_field, grouping.order_field) == ("a", "b")


@pytest.mark.parametrize("grouping", [("a", "b"), "parent", {"parent_field": "a", "order_field": "b"}])
def test_query_group_by_is_a_parent_grouping_when_set(grouping: object) -> None:
    """API-6: QueryOptions.group_by takes a ParentGrouping or None, in the constructor and when set."""
    with pytest.raises(TypeError, match=r"QueryOptions\.group_by"):
        QueryOptions(embedding=E, group_by=grouping)  # type: ignore[arg-type]
    opts = QueryOptions(embedding=E)
    with pytest.raises(TypeError, match=r"QueryOptions\.group_by"):
        opts.group_by = grouping  # type: ignore[assignment]
    assert opts.group_by is None


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_metadata_words_are_part_of_the_keyword_document(backend: str) -> None:
    """KW-4 (observed: moss 1.21.0): metadata keys and values match queries, count in df and
    lengthen the document; the id and the payload do not; ties stay in position order (QRY-6)."""
    same = [1.0, 0.0, 0.0]
    keyword = QueryOptions(embedding=same, alpha=0.0, top_k=5)

    def ranked(docs: list[DocumentInfo], query: str, *later: list[DocumentInfo]) -> list[str]:
        s = custom_session(backend, str(len(docs)) + query + str(len(later)))
        for batch in (docs, *later):
            s.core.add_docs(batch)
        return [d.id for d in s.core.query(query, keyword).docs]

    # a value and a key match; the id and the payload do not
    assert ranked(
        [DocumentInfo("b", "cherry", {"color": "red"}, same), DocumentInfo("a", "pie", None, same)], "red"
    ) == ["b"]
    assert ranked([DocumentInfo("b", "cherry", {"color": "x"}, same)], "color") == ["b"]
    assert ranked([DocumentInfo("zebra", "cherry", None, same, "zebra")], "zebra") == []
    # the keyword document "apple banana k v" ties with that text; one word more ranks it lower
    tie = [DocumentInfo("b", "apple banana", {"k": "v"}, same), DocumentInfo("c", "apple banana k v", None, same)]
    assert ranked(tie, "apple banana") == ["b", "c"] and ranked(tie[::-1], "apple banana") == ["c", "b"]
    longer = [DocumentInfo("b", "apple banana", {"k": "v"}, same), DocumentInfo("c", "apple banana k", None, same)]
    assert ranked(longer, "apple banana") == ["c", "b"]
    # the fuzzer's counterexample: an upsert to a text without metadata outranks the same text with it
    first = [DocumentInfo("b", "apple banana", {"color": "red"}, same), DocumentInfo("a", "the cat sat", None, same)]
    assert ranked(first, "apple banana", [DocumentInfo("a", "apple banana", None, same)]) == ["a", "b"]
    # an upsert replaces the metadata words: the old value no longer matches
    stale = [DocumentInfo("b", "pie", {"k": "zebra"}, same), DocumentInfo("c", "zebra", None, same)]
    assert ranked(stale, "zebra", [DocumentInfo("b", "pie", {"k": "x"}, same)]) == ["c"]
    # stop words and stems apply to metadata as to text
    assert ranked([DocumentInfo("b", "pie", {"k": "running"}, same)], "run") == ["b"]
    stop = [DocumentInfo("b", "apple banana", {"k": "the"}, same), DocumentInfo("c", "apple banana", {"k": ""}, same)]
    assert ranked(stop, "apple banana") == ["b", "c"] and ranked(stop[::-1], "apple banana") == ["c", "b"]


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_blank_documents_are_not_in_the_keyword_index(backend: str) -> None:
    """QRY-17 (observed: moss 1.21.0): a blank text without metadata counts in neither N nor avgdl."""
    same = [1.0, 0.0, 0.0]
    keyword = QueryOptions(embedding=same, alpha=0.0, top_k=5)

    def order(b_text: str, b_meta: dict[str, str] | None = None, later: str | None = None) -> list[str]:
        s = custom_session(backend, f"{b_text!r}{b_meta}{later}")
        s.core.add_docs(
            [
                DocumentInfo("c", "apple banana", {"n": "1", "color": "red", "order": "1"}, same),
                DocumentInfo("b", b_text, b_meta, same),
            ]
        )
        s.core.add_docs(
            [DocumentInfo("a", "banana banana cherry", None, same), DocumentInfo("d", "cherry apple apple", None, same)]
        )
        if later is not None:
            s.core.add_docs([DocumentInfo("b", later, None, same)])
        return [d.id for d in s.core.query("apple banana", keyword).docs]

    counted, left_out = ["a", "d", "c"], ["c", "a", "d"]
    assert order("the") == counted and order("!!") == counted and order("", {"k": ""}) == counted
    assert order("") == left_out and order(" \t\u3000") == left_out and order("\x1c") == counted
    assert order("the", later="") == left_out and order("", later="the") == counted


@pytest.mark.parametrize(
    ("component", "refused"),
    [(1e-18, False), (1e-19, False), (1e-22, False), (1e-23, True), (1.8e19, False), (1.85e19, True), (1e18, False)],
)
def test_query_norm_near_float32_underflow_and_overflow(component: float, refused: bool) -> None:
    """QRY-2's norm check around both float32 edges: the sum of the squared float32 components,
    rounded to float32, is refused only when it is 0 (1e-23 squared) or infinite (1.85e19
    squared); a subnormal float32 sum (1e-22 squared) is a norm."""
    s = _x1("python")
    options = QueryOptions(embedding=[component, 0, 0, 0], alpha=1.0)
    if refused:
        with pytest.raises(InvalidArgumentError, match="nonzero, finite norm"):
            s.core.query("x", options)
    else:
        assert len(s.core.query("x", options).docs) == 5
