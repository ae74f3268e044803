"""add_docs / delete_docs / get_docs rules (CONFORMANCE.md DOC-*)."""

from __future__ import annotations

import math

import pytest
from helpers import builtin_session, contents, custom_session

from moss_ref import (
    DocumentInfo,
    GetDocumentsOptions,
    InvalidArgumentError,
    MutationOptions,
    ParentGrouping,
    QueryOptions,
)


def _ids(docs: list[DocumentInfo]) -> list[str]:
    return [d.id for d in docs]


def _state(session) -> tuple[int, list[tuple]]:  # type: ignore[no-untyped-def]
    return session.doc_count, contents(session)


def test_add_counts_added_then_updated(vector_backend: str) -> None:
    s = builtin_session(vector_backend)
    assert s.core.add_docs([DocumentInfo("a", "x"), DocumentInfo("b", "y")]) == (2, 0)
    assert s.core.add_docs([DocumentInfo("a", "x2"), DocumentInfo("c", "z")]) == (1, 1)
    assert s.doc_count == 3
    assert [d.text for d in s.core.get_docs(GetDocumentsOptions(doc_ids=["a"]))] == ["x2"]


def test_upsert_replaces_document_entirely(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs([DocumentInfo("a", "old", {"k": "v"}, [1, 0], "p")])
    s.core.add_docs([DocumentInfo("a", "new", None, [0, 1])])
    assert contents(s) == [("a", "new", None, None, [0.0, 1.0])]


@pytest.mark.parametrize(
    "options", [None, MutationOptions(), MutationOptions(upsert=None), MutationOptions(upsert=True)]
)
def test_upsert_defaults_to_true(options: MutationOptions | None) -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo("a", "one")])
    assert s.core.add_docs([DocumentInfo("a", "two")], options) == (0, 1)
    assert s.core.get_docs()[0].text == "two"


def test_upsert_false_skips_existing_and_counts_nothing() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo("a", "one")])
    assert s.core.add_docs([DocumentInfo("a", "two"), DocumentInfo("b", "b")], MutationOptions(upsert=False)) == (1, 0)
    assert [d.text for d in s.core.get_docs()] == ["one", "b"]


def test_duplicates_in_batch_apply_in_order_last_wins() -> None:
    s = builtin_session()
    assert s.core.add_docs([DocumentInfo("a", "1"), DocumentInfo("a", "2"), DocumentInfo("a", "3")]) == (1, 2)
    assert s.core.get_docs()[0].text == "3"
    assert s.doc_count == 1


def test_duplicates_in_batch_with_upsert_false_first_wins() -> None:
    s = builtin_session()
    assert s.core.add_docs([DocumentInfo("a", "1"), DocumentInfo("a", "2")], MutationOptions(upsert=False)) == (1, 0)
    assert s.core.get_docs()[0].text == "1"


def test_empty_batch_returns_zero_zero() -> None:
    assert builtin_session().core.add_docs([]) == (0, 0)


def test_bad_document_rejects_whole_batch(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs([DocumentInfo("keep", "x", embedding=[1, 0])])
    before = _state(s)
    batch = [DocumentInfo("new", "y", embedding=[0, 1]), DocumentInfo("keep", "upd", embedding=[1, 1])]
    with pytest.raises(InvalidArgumentError, match="expected 2 but received 3"):
        s.core.add_docs(
            [*batch, DocumentInfo("bad", "z", embedding=[1, 0, 0]), DocumentInfo("after", "w", embedding=[1, 1])]
        )
    assert _state(s) == before


def test_empty_id_is_an_ordinary_id(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    assert s.core.add_docs([DocumentInfo("", "empty", {"k": "v"}, [1, 0])]) == (1, 0)
    assert s.core.add_docs([DocumentInfo("", "again", None, [0, 1]), DocumentInfo("", "last", None, [1, 1])]) == (0, 2)
    assert [(d.id, d.text) for d in s.core.get_docs(GetDocumentsOptions(doc_ids=[""]))] == [("", "last")]
    assert [d.id for d in s.core.query("", QueryOptions(embedding=[1, 1])).docs] == [""]
    assert s.core.delete_docs([""]) == 1 and s.doc_count == 0


def test_empty_text_is_allowed() -> None:
    s = builtin_session()
    assert s.core.add_docs([DocumentInfo("a", "")]) == (1, 0)


def test_builtin_session_ignores_carried_embedding() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo("a", "hello world", embedding=[1.0, 2.0])])  # wrong length: ignored, not rejected
    assert s.core.get_docs()[0].embedding is None
    assert s.core.query("hello", None).docs[0].id == "a"


def test_custom_missing_embeddings_is_plain_value_error_listing_ids() -> None:
    s = custom_session()
    with pytest.raises(ValueError) as info:
        s.core.add_docs(
            [DocumentInfo("a", "x"), DocumentInfo("b", "y", embedding=[]), DocumentInfo("c", "z", embedding=[1])]
        )
    assert not isinstance(info.value, InvalidArgumentError)
    assert str(info.value) == (
        "Documents missing .embedding for custom model: ['a', 'b']. "
        "All documents must have .embedding set when using model_id='custom'."
    )
    assert s.doc_count == 0


def test_custom_dimension_fixed_by_first_vectors(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs([DocumentInfo("a", "x", embedding=[1, 0, 0])])
    with pytest.raises(InvalidArgumentError) as info:
        s.core.add_docs([DocumentInfo("b", "y", embedding=[1, 0])])
    assert (
        str(info.value) == "The request has an invalid argument. Invalid embedding length: expected 3 but received 2."
    )
    assert info.value.detail == "Invalid argument: Invalid embedding length: expected 3 but received 2."
    with pytest.raises(InvalidArgumentError, match="expected 2 but received 3"):
        custom_session(vector_backend).core.add_docs(
            [DocumentInfo("c", "y", embedding=[1, 0]), DocumentInfo("d", "y", embedding=[1, 0, 0])]
        )
    assert s.doc_count == 1


def test_custom_dimension_frees_when_session_empties(vector_backend: str) -> None:
    s = custom_session(vector_backend)
    s.core.add_docs([DocumentInfo("a", "x", embedding=[1, 0, 0])])
    s.core.delete_docs(["a"])
    assert s.core.add_docs([DocumentInfo("b", "y", embedding=[1, 0])]) == (1, 0)
    assert s.core.query("", QueryOptions(embedding=[0, 1])).docs[0].id == "b"


@pytest.mark.parametrize("bad, shown", [(math.nan, "NaN"), (math.inf, "inf"), (-math.inf, "-inf"), (1e39, "inf")])
def test_custom_non_finite_components_rejected(bad: float, shown: str) -> None:
    s = custom_session()
    with pytest.raises(InvalidArgumentError) as info:
        # every vector is checked for finite components before any dimension is compared
        s.core.add_docs(
            [DocumentInfo("b", "x", embedding=[1.0, 0.0, 0.0]), DocumentInfo("a", "x", embedding=[1.0, bad])]
        )
    assert info.value.detail == (
        f"Invalid argument: embedding for document 'a' holds {shown} at position 1; "
        "every component must be a finite number"
    )
    assert s.doc_count == 0


def test_embeddings_are_float32() -> None:
    s = custom_session()
    doc = DocumentInfo("a", "x", embedding=[0.1, 1.0])
    assert doc.embedding == [0.10000000149011612, 1.0]
    s.core.add_docs([doc])
    assert contents(s)[0][4] == [0.10000000149011612, 1.0]


def test_delete_counts_removed_ignores_unknown_and_repeats(vector_backend: str) -> None:
    s = builtin_session(vector_backend)
    s.core.add_docs([DocumentInfo(i, i) for i in "abc"])
    assert s.core.delete_docs(["a", "a", "zz", "b"]) == 2
    assert _ids(s.core.get_docs()) == ["c"]
    assert s.core.delete_docs([]) == 0


@pytest.mark.parametrize("bad", ["a", None, [1], ("a", 2), {"a": 1}])
def test_delete_rejects_non_list_of_str(bad: object) -> None:
    """API-6 (observed: moss 1.21.0): a plain TypeError, without an error code, and nothing deleted."""
    s = builtin_session()
    s.core.add_docs([DocumentInfo("a", "x")])
    with pytest.raises(TypeError, match="doc_ids") as info:
        s.core.delete_docs(bad)
    assert not isinstance(info.value, InvalidArgumentError)
    assert s.doc_count == 1
    assert s.core.delete_docs(("a",)) == 1  # any sequence of str


def test_get_docs_default_order_is_code_point_id_order() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo(i, i) for i in ["b", "a", "B", "é", "10", "9", "\U0001f600", "\uffff"]])
    want = ["10", "9", "B", "a", "b", "é", "\uffff", "\U0001f600"]
    assert _ids(s.core.get_docs()) == want
    assert _ids(s.core.get_docs(GetDocumentsOptions())) == want
    s.core.add_docs([DocumentInfo("a", "upsert does not move it"), DocumentInfo("0", "new")])
    s.core.delete_docs(["B"])
    assert _ids(s.core.get_docs()) == ["0", "10", "9", "a", "b", "é", "\uffff", "\U0001f600"]


def test_get_docs_by_ids_keeps_request_order_skips_missing_keeps_repeats() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo(i, i, {"n": str(n)}) for n, i in enumerate("abcd")])
    opts = GetDocumentsOptions(doc_ids=["c", "zz", "a", "c"], sort_by="n", ascending=False)
    assert _ids(s.core.get_docs(opts)) == ["c", "a", "c"]
    assert s.core.get_docs(GetDocumentsOptions(doc_ids=[])) == []


def test_get_docs_ids_and_filter_intersect() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo(i, i, {"k": "1" if i in "ab" else "2"}) for i in "abcd"])
    opts = GetDocumentsOptions(doc_ids=["d", "b", "a", "b"], filter={"field": "k", "condition": {"$eq": "1"}})
    assert _ids(s.core.get_docs(opts)) == ["b", "a", "b"]


def test_get_docs_sort_by_numbers_then_text_then_missing_reversed_whole() -> None:
    s = builtin_session()
    values = {"a": "50", "b": "9", "c": "apple", "d": "-1.5", "e": "Zed", "f": None, "g": "9", "h": None}
    s.core.add_docs([DocumentInfo(i, i, None if v is None else {"v": v}) for i, v in reversed(values.items())])
    asc = _ids(s.core.get_docs(GetDocumentsOptions(sort_by="v")))
    assert asc == ["d", "b", "g", "a", "e", "c", "f", "h"]
    desc = _ids(s.core.get_docs(GetDocumentsOptions(sort_by="v", ascending=False)))
    assert desc == ["f", "h", "c", "e", "a", "b", "g", "d"]  # equal keys stay in ascending id order


def test_get_docs_sort_numbers_are_finite_plain_decimals_ties_by_text() -> None:
    s = builtin_session()
    values = ["1", "1.0", "01", "-0", "0", "+4", "1e2", ".5", "7.", "inf", " 3", "1" + "0" * 400, "2"]
    s.core.add_docs([DocumentInfo(f"d{i:02d}", "t", {"v": v}) for i, v in enumerate(values)])
    got = [d.metadata["v"] for d in s.core.get_docs(GetDocumentsOptions(sort_by="v"))]  # type: ignore[index]
    numbers = ["-0", "0", "01", "1", "1.0", "2"]  # by float value, equal floats by their text
    assert got == numbers + sorted(set(values) - set(numbers))


def test_get_docs_never_returns_embeddings() -> None:
    c = custom_session()
    c.core.add_docs([DocumentInfo("a", "x", {"p": "P", "o": "1"}, embedding=[0.5, 0.5])])
    assert c.core.get_docs()[0].embedding is None
    assert c.core.get_docs(GetDocumentsOptions(doc_ids=["a"]))[0].embedding is None
    assert c.core.get_docs(GetDocumentsOptions(group_by=ParentGrouping("p", "o")))[0].embedding is None
    b = builtin_session()
    b.core.add_docs([DocumentInfo("a", "x")])
    assert b.core.get_docs()[0].embedding is None


def test_get_docs_returns_copies() -> None:
    s = builtin_session()
    s.core.add_docs([DocumentInfo("a", "x", {"k": "v"})])
    s.core.get_docs()[0].metadata["k"] = "mutated"  # type: ignore[index]
    assert s.core.get_docs()[0].metadata == {"k": "v"}


def test_add_docs_copies_caller_metadata() -> None:
    s = builtin_session()
    doc = DocumentInfo("a", "x", {"k": "v"})
    s.core.add_docs([doc])
    doc.metadata["k"] = "mutated"  # type: ignore[index]
    assert s.core.get_docs()[0].metadata == {"k": "v"}


def test_get_docs_group_by_parent() -> None:
    s = builtin_session()
    s.core.add_docs(
        [
            DocumentInfo("p1#1", "second", {"parentId": "p1", "n": "10"}),
            DocumentInfo("p1#0", "first", {"parentId": "p1", "n": "9"}),
            DocumentInfo("solo", "alone", {"other": "x"}),
            DocumentInfo("p2#0", "only", {"parentId": "p2", "n": "0"}),
        ]
    )
    got = s.core.get_docs(GetDocumentsOptions(group_by=ParentGrouping("parentId", "n")))
    assert [(d.id, d.text) for d in got] == [("p1", "first\nsecond"), ("p2", "only"), ("solo", "alone")]
    assert got[0].metadata == {"parentId": "p1", "n": "9"}  # the first member in order_field order


def test_get_docs_group_order_parents_first_then_the_rest_in_list_order() -> None:
    s = builtin_session()
    s.core.add_docs(
        [
            DocumentInfo("0solo", "a0", {"r": "0"}),
            DocumentInfo("c1", "P2", {"parent": "P", "pos": "2", "r": "5"}, payload="pl1"),
            DocumentInfo("c2", "P1", {"parent": "P", "pos": "1", "r": "1"}, payload="pl2"),
            DocumentInfo("c3", "Q1", {"parent": "Q", "pos": "1", "r": "3"}),
            DocumentInfo("m", "msolo"),
            DocumentInfo("z1", "Z", {"parent": "", "r": "4"}),
        ]
    )
    g = ParentGrouping("parent", "pos")
    got = s.core.get_docs(GetDocumentsOptions(group_by=g, sort_by="r", ascending=False))
    assert [(d.id, d.text, d.payload) for d in got] == [
        ("P", "P1\nP2", "pl2"),
        ("", "Z", None),
        ("Q", "Q1", None),
        ("m", "msolo", None),
        ("0solo", "a0", None),
    ]
    got = s.core.get_docs(GetDocumentsOptions(group_by=g, doc_ids=["m", "c2", "c1", "c2"]))
    assert [(d.id, d.text) for d in got] == [("P", "P1\nP1\nP2"), ("m", "msolo")]


@pytest.mark.parametrize(
    "field, value",
    [
        ("doc_ids", "a"),
        ("doc_ids", [1]),
        ("sort_by", 3),
        ("ascending", "yes"),
        ("ascending", 1),
        ("group_by", ("a", "b")),
    ],
)
def test_get_docs_options_read_their_fields_when_set(field: str, value: object) -> None:
    """API-6 (observed: moss 1.21.0): GetDocumentsOptions reads doc_ids, sort_by, ascending and
    group_by when built and when set, raising a plain TypeError (no error code) right there."""
    with pytest.raises(TypeError, match=f"GetDocumentsOptions.{field}") as info:
        GetDocumentsOptions(**{field: value})
    assert not isinstance(info.value, InvalidArgumentError)
    options = GetDocumentsOptions()
    with pytest.raises(TypeError, match=f"GetDocumentsOptions.{field}"):
        setattr(options, field, value)
    assert getattr(options, field) is None


def test_get_docs_options_copy_ids_as_plain_str() -> None:
    """API-6: doc_ids may be any sequence of str (a tuple too); the list holds plain str copies."""

    class Sub(str):
        pass

    options = GetDocumentsOptions(doc_ids=(Sub("a"), "b"))
    assert options.doc_ids == ["a", "b"] and type(options.doc_ids[0]) is str


@pytest.mark.parametrize(
    "options, match",
    [(GetDocumentsOptions(filter={"field": "k"}), "condition"), ({"doc_ids": ["a"]}, "GetDocumentsOptions")],
)
def test_get_docs_rejects_bad_options(options: object, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        builtin_session().core.get_docs(options)  # type: ignore[arg-type]
    # a wrong options type is a TypeError too, as moss 1.21 raises it; a malformed filter is not
    assert isinstance(info.value, TypeError) == (match != "condition")


def test_add_docs_accepts_dicts() -> None:
    s = builtin_session()
    assert s.core.add_docs([{"id": 7, "text": "x", "metadata": {"n": 1.0, "b": True, "skip": None}}]) == (1, 0)
    (doc,) = s.core.get_docs()
    assert (doc.id, doc.metadata) == ("7", {"n": "1.0", "b": "true"})


def test_list_of_strings_is_rejected_with_clear_error() -> None:
    with pytest.raises(InvalidArgumentError, match=r"docs\[1\] must be a DocumentInfo") as info:
        builtin_session().core.add_docs([DocumentInfo("a", "x"), "just text"])
    assert isinstance(info.value, AttributeError)  # moss 1.21 raises AttributeError for such an item


def test_the_byte_level_finite_check_agrees_with_math_isfinite() -> None:
    """DOC-8's fast path: all_finite_float32 reads the exponent bits of array('f') rows."""
    import math
    import struct
    from array import array

    from moss_ref._types import all_finite_float32

    edges = [0.0, -0.0, 1.0, -2.5, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, 2.0**127, -(2.0**-149)]
    for bits in (0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0x7F7FFFFF, 0xFF7FFFFF, 0x00000001):
        value = struct.unpack("<f", struct.pack("<I", bits))[0]
        rows = [array("f", edges), array("f", [*edges[:4], value, 0.5])]
        assert all_finite_float32(rows) == math.isfinite(value), hex(bits)
    assert all_finite_float32([array("f", edges)] * 3)
    assert not all_finite_float32([array("f", [1.0]), [1.0]])  # not all array('f'): the caller checks
    assert not all_finite_float32([array("d", [1.0])])
