"""The comparison rules (CMP-1..CMP-7), one test each, on hand-made responses."""

from __future__ import annotations

from moss_ref_conformance.compare import compare, expectation_from
from moss_ref_conformance.protocol import TOLERANCE, error, failure, result, skip


def hit(doc_id: str, score: float, **extra: object) -> dict[str, object]:
    return {"id": doc_id, "score": score, "text": "t", "metadata": None, "payload": None, **extra}


def test_errors_compare_by_code_and_kind_never_message() -> None:
    want = {"error": {"code": "INVALID_ARGUMENT", "kind": "InvalidArgumentError"}}
    assert compare("query", want, error("INVALID_ARGUMENT", "InvalidArgumentError", "any text at all")) == []
    assert compare("query", want, error("NOT_FOUND", "MossError"))
    assert compare("query", want, error("INVALID_ARGUMENT", "ValueError"))
    # a target that does not report kinds is judged by code only
    assert compare("query", want, error("INVALID_ARGUMENT", "other"), error_kinds=False) == []
    assert compare("query", {"error": {"code": None, "kind": "ValueError"}}, error("INVALID_ARGUMENT", "ValueError"))
    assert compare("query", want, result({"docs": []}))
    assert compare("add_docs", {"result": {"added": 1}}, error("INVALID_ARGUMENT", "InvalidArgumentError"))


def test_results_are_partial() -> None:
    got = result({"added": 2, "updated": 0})
    assert compare("add_docs", {"result": {}}, got) == []
    assert compare("add_docs", {"result": {"added": 2}}, got) == []
    assert compare("add_docs", {"result": {"added": 1}}, got)
    assert compare("add_docs", {"result": {"removed": 1}}, got)
    docs = result({"docs": [{"id": "a", "text": "x", "metadata": {"k": "v"}, "payload": None, "embedding": None}]})
    assert compare("get_docs", {"result": {"docs": [{"id": "a"}]}}, docs) == []
    assert compare("get_docs", {"result": {"docs": [{"id": "a", "payload": "p"}]}}, docs)
    # metadata maps compare whole: an extra or missing key is a difference
    assert compare("get_docs", {"result": {"docs": [{"id": "a", "metadata": {}}]}}, docs)
    assert compare("get_docs", {"result": {"docs": [{"id": "a", "metadata": None}]}}, docs)


def test_scores_and_embeddings_within_tolerance() -> None:
    got = result({"docs": [hit("a", 0.8000000119)]})
    assert compare("query", {"result": {"docs": [{"id": "a", "score": 0.8}]}}, got) == []
    assert compare("query", {"result": {"docs": [{"id": "a", "score": 0.8 + 3 * TOLERANCE}]}}, got)
    emb = result({"docs": [{"id": "a", "embedding": [0.10000000149011612, 1.0]}]})
    assert compare("get_docs", {"result": {"docs": [{"id": "a", "embedding": [0.1, 1]}]}}, emb) == []
    assert compare("get_docs", {"result": {"docs": [{"id": "a", "embedding": [0.1]}]}}, emb)
    # counts are exact even though they are numbers
    assert compare("delete_docs", {"result": {"deleted": 1}}, result({"deleted": 1.00000001}))


def test_lists_have_the_expected_length_and_get_docs_order() -> None:
    got = result({"docs": [{"id": "b"}, {"id": "a"}]})
    assert compare("get_docs", {"result": {"docs": [{"id": "b"}, {"id": "a"}]}}, got) == []
    assert compare("get_docs", {"result": {"docs": [{"id": "a"}, {"id": "b"}]}}, got)
    assert compare("get_docs", {"result": {"docs": [{"id": "b"}]}}, got)
    # get_docs is always compared in order, whatever 'order' says
    assert compare("get_docs", {"result": {"docs": [{"id": "a"}, {"id": "b"}]}, "order": "set"}, got)


def test_query_ties_compare_as_sets_unless_exact() -> None:
    got = result({"docs": [hit("b", 1.0), hit("a", 1.0), hit("c", 0.5)]})
    tied = [{"id": "a", "score": 1.0}, {"id": "b", "score": 1.0}, {"id": "c", "score": 0.5}]
    assert compare("query", {"result": {"docs": tied}}, got) == []
    assert compare("query", {"result": {"docs": tied}, "order": "exact"}, got)
    # within a tie any order; across ties the order still matters
    assert compare("query", {"result": {"docs": [tied[2], tied[0], tied[1]]}}, got)
    # ties are within the tolerance
    near = result({"docs": [hit("b", 1.0 - TOLERANCE / 2), hit("a", 1.0)]})
    assert compare("query", {"result": {"docs": tied[:2]}}, near) == []
    # without scores the expected order is exact; 'set' ignores order altogether
    assert compare("query", {"result": {"docs": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}}, got)
    assert compare("query", {"result": {"docs": [{"id": "c"}, {"id": "a"}, {"id": "b"}]}, "order": "set"}, got) == []


def test_skip_and_failure_are_not_results() -> None:
    assert compare("query", {"result": {}}, skip("no text embedding"))
    assert compare("query", {"result": {}}, failure("driver bug"))
    assert compare("query", {"result": {}}, {"result": {}, "error": {}})


def test_expectation_from_a_response_is_met_by_it() -> None:
    for response in (
        result({"docs": [hit("b", 1.0), hit("a", 1.0)]}),
        result({"added": 1, "updated": 0}),
        error("INVALID_ARGUMENT", "InvalidArgumentError", "text"),
    ):
        assert compare("query", expectation_from(response), response) == []
    exact = expectation_from(result({"docs": [hit("b", 1.0), hit("a", 1.0)]}))
    assert compare("query", exact, result({"docs": [hit("a", 1.0), hit("b", 1.0)]}))
