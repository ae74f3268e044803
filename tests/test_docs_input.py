"""Document input (``DocsInput``): D-1..D-19 of MOSS-BEHAVIOUR.md §5 and docs/rules/docs_input.md.

Each test names the rule it pins; messages and exception classes are compared exactly.
"""

from __future__ import annotations

import json
import math
import os
import string
import types
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref._docs_input import to_document_infos
from moss_ref._errors import INTERNAL, InvalidArgumentError, MossError
from moss_ref._json_docs import _Scanner
from moss_ref._types import DocumentInfo


def _fields(doc: DocumentInfo) -> tuple[Any, ...]:
    return (doc.id, doc.text, doc.metadata, doc.embedding, doc.payload)


def _same_fields(self: DocumentInfo, other: object) -> bool:
    return isinstance(other, DocumentInfo) and _fields(self) == _fields(other)


@pytest.fixture(autouse=True, scope="module")
def _documents_compare_by_value() -> Iterator[None]:
    """Expected documents compare by value in this module; moss_ref's (like moss's) compare by
    identity, and cannot be subclassed to change that (API-7), so the class is patched meanwhile."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DocumentInfo, "__eq__", _same_fields)
        yield


def raises(kind: type[BaseException], message: str, docs: object, **options: Any) -> BaseException:
    """Assert that ``to_document_infos(docs, **options)`` raises exactly ``kind(message)``."""
    with pytest.raises(BaseException) as info:
        to_document_infos(docs, **options)
    assert type(info.value) is kind, f"{type(info.value).__name__}: {info.value}"
    assert str(info.value) == message
    return info.value


def one(docs: object, **options: Any) -> DocumentInfo:
    [doc] = to_document_infos(docs, **options)
    return doc


def meta_value(value: object) -> str:
    doc = one([{"id": "a", "text": "t", "metadata": {"k": value}}])
    assert doc.metadata is not None
    return doc.metadata["k"]


def json_meta_value(literal: str) -> str:
    doc = one(f'[{{"id": "a", "text": "t", "metadata": {{"k": {literal}}}}}]')
    assert doc.metadata is not None
    return doc.metadata["k"]


def json_payload(literal: str) -> str | None:
    return one(f'[{{"id": "a", "text": "t", "payload": {literal}}}]').payload


def split_words(text: str) -> list[str]:
    return text.split()


# -- D-1 DocumentInfo items ----------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [list, tuple, iter, lambda xs: (x for x in xs)], ids=["list", "tuple", "iter", "gen"])
def test_document_infos_pass_through_unchanged(wrap: Any) -> None:
    docs = [DocumentInfo("", "no validation here"), DocumentInfo("b", "", embedding=[math.nan])]
    result = to_document_infos(wrap(docs))
    assert type(result) is list
    assert len(result) == 2 and result[0] is docs[0] and result[1] is docs[1]


def test_empty_iterable_gives_no_documents() -> None:
    assert to_document_infos([]) == []
    assert to_document_infos(()) == []


# -- D-2 mappings ------------------------------------------------------------------------------


class FrozenMapping(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_mapping_items_become_documents() -> None:
    items = [
        {"id": "a", "text": "alpha", "metadata": {"k": "v"}, "embedding": [1, 0], "payload": "p", "extra": object()},
        types.MappingProxyType({"id": "b", "text": "beta"}),
        FrozenMapping({"id": "c", "text": "gamma"}),
    ]
    assert to_document_infos(items) == [
        DocumentInfo("a", "alpha", {"k": "v"}, [1.0, 0.0], "p"),
        DocumentInfo("b", "beta"),
        DocumentInfo("c", "gamma"),
    ]


@pytest.mark.parametrize(
    "items",
    [[{"id": "a", "text": "t"}, DocumentInfo("b", "t")], [DocumentInfo("b", "t"), {"id": "a", "text": "t"}]],
    ids=["dict-first", "doc-first"],
)
def test_mixing_dicts_with_other_items(items: list[object]) -> None:
    message = "docs mixes dicts with other items; pass only dicts or only DocumentInfo objects"
    raises(TypeError, message, items)


def test_single_dict_is_rejected() -> None:
    raises(TypeError, "docs must be a list of documents, not a single dict", {"id": "a", "text": "t"})


# -- D-3 id ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x", "x"),
        ("", ""),
        (7, "7"),
        (-5, "-5"),
        (2**64 - 1, "18446744073709551615"),
        (-(2**63), "-9223372036854775808"),
    ],
)
def test_id_string_or_integer(value: object, expected: str) -> None:
    assert one([{"id": value, "text": "t"}]).id == expected


@pytest.mark.parametrize("value", [True, False, 1.0, 1.5, [1], {"a": 1}, b"x"])
def test_id_of_other_types_is_rejected(value: object) -> None:
    raises(
        InvalidArgumentError,
        'index 1: "id" must be a string or an integer',
        [{"id": "a", "text": ""}, {"id": value, "text": "t"}],
    )


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1])
def test_id_integer_out_of_range(value: int) -> None:
    raises(InvalidArgumentError, 'index 0: "id" is an integer out of range', [{"id": value, "text": "t"}])


@pytest.mark.parametrize("item", [{"text": "t"}, {"id": None, "text": "t"}], ids=["missing", "None"])
def test_id_missing(item: dict[str, object]) -> None:
    raises(InvalidArgumentError, 'index 0: missing field "id"', [item])


# -- D-4 text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("item", [{"id": "a"}, {"id": "a", "text": None}], ids=["missing", "None"])
def test_text_missing(item: dict[str, object]) -> None:
    raises(InvalidArgumentError, 'index 0: missing field "text"', [item])


@pytest.mark.parametrize("value", [5, b"bytes", ["t"], True])
def test_text_must_be_a_string(value: object) -> None:
    raises(InvalidArgumentError, 'index 0: "text" must be a string', [{"id": "a", "text": value}])


def test_empty_text_is_accepted() -> None:
    assert one([{"id": "a", "text": ""}]).text == ""


def test_fields_are_checked_in_order() -> None:
    raises(InvalidArgumentError, 'index 0: missing field "id"', [{"text": 5, "metadata": 5}])
    raises(InvalidArgumentError, 'index 0: "text" must be a string', [{"id": "a", "text": 5, "metadata": 5}])


# -- D-5 metadata ------------------------------------------------------------------------------


def test_metadata_none_and_empty() -> None:
    assert one([{"id": "a", "text": "t", "metadata": None}]).metadata is None
    assert one([{"id": "a", "text": "t"}]).metadata is None
    assert one([{"id": "a", "text": "t", "metadata": {}}]).metadata == {}


@pytest.mark.parametrize("value", [[("k", "v")], "k=v", 5])
def test_metadata_must_be_a_mapping(value: object) -> None:
    raises(TypeError, "index 0: metadata must be a dict", [{"id": "a", "text": "t", "metadata": value}])


def test_metadata_keys_must_be_str() -> None:
    raises(TypeError, "index 0: metadata keys must be str", [{"id": "a", "text": "t", "metadata": {1: "v"}}])


def test_metadata_none_values_are_dropped() -> None:
    metadata = {"keep": "v", "drop": None}
    assert one([{"id": "a", "text": "t", "metadata": metadata}]).metadata == {"keep": "v"}


@pytest.mark.parametrize("value", [[1], {"a": 1}, (1,), b"x", object()])
def test_metadata_value_of_other_types(value: object) -> None:
    message = 'index 0: metadata."k" must be a string, number, or boolean'
    raises(InvalidArgumentError, message, [{"id": "a", "text": "t", "metadata": {"k": value}}])


def test_metadata_key_order_is_kept() -> None:
    metadata = {"z": "1", "a": 2, "m": None, "b": True}
    assert list(one([{"id": "a", "text": "t", "metadata": metadata}]).metadata or {}) == ["z", "a", "b"]
    json_doc = one('{"id": "a", "text": "t", "metadata": {"z": "1", "a": 2, "m": null, "b": true}}')
    assert list(json_doc.metadata or {}) == ["z", "a", "b"]


# -- D-6 metadata values as text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s", "s"),
        (True, "true"),
        (False, "false"),
        (-5, "-5"),
        (9223372036854775808, "9223372036854775808"),
        (2**64 - 1, "18446744073709551615"),
        (-(2**63), "-9223372036854775808"),
        (3.0, "3.0"),
        (100.0, "100.0"),
        (1e15, "1000000000000000.0"),
        (-0.0, "-0.0"),
        (1e16, "10000000000000000"),
        (1e20, "100000000000000000000"),
        (0.1, "0.1"),
        (1.5e-7, "0.00000015"),
        (1 / 3, "0.3333333333333333"),
        (Decimal("1.5"), "1.5"),
    ],
)
def test_metadata_value_to_string(value: object, expected: str) -> None:
    assert meta_value(value) == expected


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**400])
def test_metadata_integer_out_of_range(value: int) -> None:
    message = 'index 0: metadata."k" is an integer out of range'
    raises(InvalidArgumentError, message, [{"id": "a", "text": "t", "metadata": {"k": value}}])


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1e400")]
)
def test_metadata_non_finite_number(value: object) -> None:
    message = 'index 0: metadata."k" must be a finite number'
    raises(InvalidArgumentError, message, [{"id": "a", "text": "t", "metadata": {"k": value}}])


def test_metadata_other_real_numbers_are_floats() -> None:
    assert meta_value(Fraction(1, 4)) == "0.25"
    raises(
        InvalidArgumentError,
        'index 0: metadata."k" must be a finite number',
        [{"id": "a", "text": "t", "metadata": {"k": Fraction(10**400)}}],
    )


# -- D-7 embedding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([0.5, 1, -2], [0.5, 1.0, -2.0]),
        ((0.25, 0.75), [0.25, 0.75]),
        ([True, False], [1.0, 0.0]),
        ((x for x in [1.5]), [1.5]),
        ([Decimal("0.5"), Fraction(1, 2)], [0.5, 0.5]),
        ([], []),
    ],
)
def test_embedding_any_sequence_of_numbers(value: object, expected: list[float]) -> None:
    assert one([{"id": "a", "text": "t", "embedding": value}]).embedding == expected


def test_embedding_is_float32_and_nonfinite_kept() -> None:
    emb = one([{"id": "a", "text": "t", "embedding": [0.1, math.nan, math.inf, 10**400]}]).embedding
    assert emb is not None
    assert emb[0] == 0.10000000149011612
    assert math.isnan(emb[1]) and emb[2] == math.inf and emb[3] == math.inf


@pytest.mark.parametrize("value", ["0.1,0.2", b"\x00", {"a": 1.0}, 5, [1.0, "2"], [None]])
def test_embedding_must_be_a_sequence_of_numbers(value: object) -> None:
    message = "index 0: embedding must be a sequence of numbers"
    raises(TypeError, message, [{"id": "a", "text": "t", "embedding": value}])


# -- D-8 payload -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("kept  as {is}", "kept  as {is}"),
        (None, None),
        ({"é": "ü", "f": 1.5, "b": True, "n": None, "l": [1, "x"]}, '{"é":"ü","f":1.5,"b":true,"n":null,"l":[1,"x"]}'),
        (5, "5"),
        (True, "true"),
        ((1, 2), "[1,2]"),
    ],
)
def test_payload_compact_json(value: object, expected: str | None) -> None:
    assert one([{"id": "a", "text": "t", "payload": value}]).payload == expected


@pytest.mark.parametrize("value", [math.nan, {"x": [math.inf]}])
def test_payload_nan(value: object) -> None:
    message = "index 0: payload: ValueError: Out of range float values are not JSON compliant"
    raises(InvalidArgumentError, message, [{"id": "a", "text": "t", "payload": value}])


def test_payload_not_serialisable() -> None:
    message = "index 0: payload is not JSON serializable: TypeError: Object of type set is not JSON serializable"
    raises(TypeError, message, [{"id": "a", "text": "t", "payload": {1, 2}}])


def test_payload_circular_and_too_deep() -> None:
    loop: list[object] = []
    loop.append(loop)
    raises(
        InvalidArgumentError,
        "index 0: payload: ValueError: Circular reference detected",
        [{"id": "a", "text": "t", "payload": loop}],
    )
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    raises(
        InvalidArgumentError,
        "index 0: payload: ValueError: nested too deeply",
        [{"id": "a", "text": "t", "payload": deep}],
    )


# -- D-9 JSON text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '[{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]',
        '\ufeff \n[{"id": "a", "text": "x"},\n {"id": "b", "text": "y"}]\n',
        '{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}',
        '\ufeff{"id": "a", "text": "x"}\r\n\r\n   \n{"id": "b", "text": "y"}\n',
        b'[{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]',
        bytearray(b'{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}'),
        memoryview(b'{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}'),
    ],
)
def test_json_array_and_json_lines(text: object) -> None:
    assert to_document_infos(text) == [DocumentInfo("a", "x"), DocumentInfo("b", "y")]


@pytest.mark.parametrize("text", ["", " \n\t", "\ufeff", b"", "[]", " [ ] "])
def test_empty_json_text(text: object) -> None:
    assert to_document_infos(text) == []


def test_json_lines_object_may_span_lines() -> None:
    text = '{\n  "id": "a",\n  "text": "x"\n}\n{"id": "b", "text": "y"}'
    assert to_document_infos(text) == [DocumentInfo("a", "x"), DocumentInfo("b", "y")]


def test_bytes_must_be_utf8() -> None:
    raises(InvalidArgumentError, "docs bytes are not valid UTF-8", b'[{"id": "\xff", "text": "t"}]')


@pytest.mark.parametrize(
    ("text", "hinted"),
    [
        ("hello", False),
        ("1", False),
        ("docs.json", True),
        ("docs.jsonl", True),
        ("docs.ndjson", True),
        ("notes.txt", True),
        ("README.MD", True),
        ("  book.markdown\n", True),
        (b"docs.json", True),
        ("report.pdf", False),
    ],
)
def test_text_that_is_not_json(text: object, hinted: bool) -> None:
    message = "expected a JSON array ('[') or JSON Lines ('{')"
    if hinted:
        message += "; to read a file, pass pathlib.Path(...)"
    raises(InvalidArgumentError, message, text)


@pytest.mark.parametrize(
    "text",
    ['{"documents": [{"id": "a", "text": "x"}]}', '{\n  "documents": []\n}\n'],
    ids=["one-line", "pretty"],
)
def test_wrapper_object(text: str) -> None:
    message = 'line 1: this looks like a wrapper object; pass the array inside "documents" instead'
    raises(InvalidArgumentError, message, text)


def test_wrapper_check_needs_no_id_or_text() -> None:
    assert one('{"id": "a", "text": "x", "documents": []}') == DocumentInfo("a", "x")
    message = 'line 2: this looks like a wrapper object; pass the array inside "documents" instead'
    raises(InvalidArgumentError, message, '{"id": "a", "text": "x"}\n{"documents": []}')
    raises(InvalidArgumentError, 'index 0: missing field "id"', '[{"documents": []}]')


# -- D-10 JSON errors --------------------------------------------------------------------------


def test_json_item_prefixes() -> None:
    raises(InvalidArgumentError, 'index 1: missing field "text"', '[{"id": "a", "text": "x"}, {"id": "b"}]')
    raises(InvalidArgumentError, 'line 3: missing field "text"', '{"id": "a", "text": "x"}\n\n{"id": "b"}')


@pytest.mark.parametrize(
    ("item", "described"),
    [
        ("1", "integer `1`"),
        ("-1.50", "floating point `-1.50`"),
        ("2e3", "floating point `2e3`"),
        ('"s"', 'string "s"'),
        ("true", "boolean `true`"),
        ("null", "null"),
        ("[1]", "sequence"),
    ],
)
def test_json_non_object_items(item: str, described: str) -> None:
    column = len('[{"id": "a", "text": "x"}, ') + 1
    message = f"index 1: invalid type: {described}, expected a document object at line 1 column {column}"
    raises(InvalidArgumentError, message, f'[{{"id": "a", "text": "x"}}, {item}]')
    message = f"line 2: invalid type: {described}, expected a document object at line 2 column 1"
    raises(InvalidArgumentError, message, f'{{"id": "a", "text": "x"}}\n{item}')


@pytest.mark.parametrize("field", ["id", "text", "metadata", "embedding", "payload"])
def test_json_duplicate_field(field: str) -> None:
    text = '[{"id": "a", "text": "x", "metadata": null, "embedding": null, "payload": null, "FIELD": null}]'.replace(
        "FIELD", field
    )
    column = text.rindex(f'"{field}"') + 1
    raises(InvalidArgumentError, f"index 0: duplicate field `{field}` at line 1 column {column}", text)


def test_json_duplicate_unknown_or_nested_keys_are_fine() -> None:
    doc = one('[{"id": "a", "text": "x", "x": 1, "x": 2, "metadata": {"k": "1", "k": "2"}}]')
    assert doc.metadata == {"k": "2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"id": "a", "text": "x"}] []', "trailing characters at line 1 column 28"),
        ('[{"id": "a", "text": "x"}]\n,', "trailing characters at line 2 column 1"),
        ('{"id": "a", "text": "x"} {"id": "b", "text": "y"}', "line 1: trailing characters at line 1 column 26"),
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"},', "line 2: trailing characters at line 2 column 25"),
    ],
)
def test_json_trailing_characters(text: str, message: str) -> None:
    raises(InvalidArgumentError, message, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[", "EOF while parsing a list at line 1 column 2"),
        ('[{"id": "a", "text": "x"},', "EOF while parsing a list at line 1 column 27"),
        ('[{"id": "a", "text": "x"},]', "trailing comma at line 1 column 27"),
        ('[{"id": "a", "text": "x"} {}]', "expected `,` or `]` at line 1 column 27"),
        ('[{"id": "a",\n "text": "x",}]', "index 0: trailing comma at line 2 column 14"),
        ('[{"id" "a"}]', "index 0: expected `:` at line 1 column 8"),
        ("[{id: 1}]", "index 0: key must be a string at line 1 column 3"),
        ('[{"id": "a" "text": "x"}]', "index 0: expected `,` or `}` at line 1 column 13"),
        ('[{"id": "a", "text": "x', "index 0: EOF while parsing a string at line 1 column 24"),
        (
            '[{"id": "a", "text": "x\ty"}]',
            "index 0: control character (\\u0000-\\u001F) found while parsing a string at line 1 column 24",
        ),
        ('[{"id": "a", "text": "\\x"}]', "index 0: invalid escape at line 1 column 24"),
        ('[{"id": "a", "text": "\\u12G4"}]', "index 0: invalid escape at line 1 column 25"),
        ('[{"id": "a", "text": tru}]', "index 0: expected value at line 1 column 22"),
        ('[{"id": "a", "text": NaN}]', "index 0: expected value at line 1 column 22"),
        ('[{"id": "a", "text": "x", "e": Infinity}]', "index 0: expected value at line 1 column 32"),
        ('[{"id": 01, "text": "x"}]', "index 0: invalid number at line 1 column 10"),
        ('[{"id": 1., "text": "x"}]', "index 0: invalid number at line 1 column 10"),
        ('[{"id": -, "text": "x"}]', "index 0: invalid number at line 1 column 9"),
        ('[{"id": .5, "text": "x"}]', "index 0: expected value at line 1 column 9"),
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": }', "line 2: expected value at line 2 column 21"),
        ('{"id": "a", "text": "x"}\n{"id": "b"', "line 2: EOF while parsing an object at line 2 column 11"),
        ("{\n", "line 1: EOF while parsing an object at line 2 column 1"),
    ],
)
def test_malformed_json_messages(text: str, message: str) -> None:
    raises(InvalidArgumentError, message, text)


def test_json_escapes() -> None:
    doc = one(r'[{"id": "\u00e9\/\"\\", "text": "\ud83d\ude00\b\f\n\r\t"}]')
    assert doc.id == 'é/"\\'
    assert doc.text == "\U0001f600\b\f\n\r\t"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (r'["\ud800"]', "index 0: lone leading surrogate in hex escape at line 1 column 9"),
        (r'["\ud800\u0041"]', "index 0: lone leading surrogate in hex escape at line 1 column 9"),
        (r'["\udc00"]', "index 0: lone trailing surrogate in hex escape at line 1 column 9"),
    ],
)
def test_json_lone_surrogates(text: str, message: str) -> None:
    raises(InvalidArgumentError, message, text)


def test_json_recursion_limit() -> None:
    ok = '[{"id": "a", "text": "x", "payload": %s}]' % ("[" * 126 + "]" * 126)
    assert one(ok).payload == "[" * 126 + "]" * 126
    too_deep = '[{"id": "a", "text": "x", "payload": %s}]' % ("[" * 127 + "]" * 127)
    raises(InvalidArgumentError, "index 0: recursion limit exceeded at line 1 column 164", too_deep)
    raises(InvalidArgumentError, "line 1: recursion limit exceeded at line 1 column 134", '{"x": ' + "[" * 100_000)


def test_syntax_errors_come_before_field_errors() -> None:
    raises(InvalidArgumentError, "trailing characters at line 1 column 15", '[{"id": 1.5}] oops')


# -- D-11 JSON coercions -----------------------------------------------------------------------


def test_json_integer_id() -> None:
    assert to_document_infos(
        '[{"id": 7, "text": "x"}, {"id": -3, "text": "y"}, {"id": 18446744073709551615, "text": "z"}]'
    ) == [
        DocumentInfo("7", "x"),
        DocumentInfo("-3", "y"),
        DocumentInfo("18446744073709551615", "z"),
    ]


@pytest.mark.parametrize("literal", ["1.0", "1e2", "-0", "18446744073709551616", "true", "[]"])
def test_json_non_integer_id_is_rejected(literal: str) -> None:
    raises(InvalidArgumentError, 'index 0: "id" must be a string or an integer', f'[{{"id": {literal}, "text": "x"}}]')


def test_json_null_id_and_text_are_missing() -> None:
    raises(InvalidArgumentError, 'line 1: missing field "id"', '{"id": null, "text": "x"}')
    raises(InvalidArgumentError, 'line 1: missing field "text"', '{"id": "a", "text": null}')


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ('"s"', "s"),
        ("true", "true"),
        ("false", "false"),
        ("-5", "-5"),
        ("9223372036854775808", "9223372036854775808"),
        ("18446744073709551615", "18446744073709551615"),
        ("18446744073709551616", "18446744073709552000"),
        ("-9223372036854775809", "-9223372036854776000"),
        ("-0", "-0.0"),
        ("-0.0", "-0.0"),
        ("0", "0"),
        ("1e3", "1000.0"),
        ("1.50", "1.5"),
        ("1E16", "10000000000000000"),
        ("1.5e-7", "0.00000015"),
        ("1e-400", "0.0"),
        ("1" * 300, "11111111111111112" + "0" * 283),
    ],
)
def test_json_metadata_values(literal: str, expected: str) -> None:
    assert json_meta_value(literal) == expected


def test_json_metadata_null_dropped_and_compound_rejected() -> None:
    doc = one('{"id": "a", "text": "t", "metadata": {"a": null, "b": "x"}}')
    assert doc.metadata == {"b": "x"}
    message = 'line 1: metadata."k" must be a string, number, or boolean'
    raises(InvalidArgumentError, message, '{"id": "a", "text": "t", "metadata": {"k": [1]}}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"id": "a", "text": "t", "metadata": {"k": 1e400}}]', "index 0: number out of range at line 1 column 45"),
        ('[{"id": "a", "text": "t", "metadata": {"k": -1e400}}]', "index 0: number out of range at line 1 column 45"),
        ('[{"id": "a", "text": "t", "embedding": [1, 1e400]}]', "index 0: number out of range at line 1 column 44"),
        ('[{"id": 1%s, "text": "t"}]' % ("0" * 400), "index 0: number out of range at line 1 column 9"),
    ],
)
def test_json_number_out_of_range(text: str, message: str) -> None:
    raises(InvalidArgumentError, message, text)


def test_json_out_of_range_ignored_where_not_read() -> None:
    doc = one('[{"id": "a", "text": "t", "payload": [1e400], "other": 1e400}]')
    assert doc.payload == "[1e400]"


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("1.50", "1.50"),
        ("-0", "-0"),
        ("18446744073709551616", "18446744073709551616"),
        ('{ "a" : [1, 2.0 ,"\\u00e9"] }', '{ "a" : [1, 2.0 ,"\\u00e9"] }'),
        ('{\n  "a": 1\n}', '{\n  "a": 1\n}'),
        ("true", "true"),
        ('"x\\ny \\u00e9"', "x\ny é"),
        ('""', ""),
        ("null", None),
    ],
)
def test_json_payload_raw_text(literal: str, expected: str | None) -> None:
    assert json_payload(literal) == expected


def test_json_embedding() -> None:
    assert one('{"id": "a", "text": "t", "embedding": null}').embedding is None
    assert one('{"id": "a", "text": "t", "embedding": [1, -0.5, 2e0]}').embedding == [1.0, -0.5, 2.0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('"metadata": "x"', "line 1: metadata must be a dict"),
        ('"metadata": [1]', "line 1: metadata must be a dict"),
        ('"embedding": "x"', "line 1: embedding must be a sequence of numbers"),
        ('"embedding": [1, "x"]', "line 1: embedding must be a sequence of numbers"),
        ('"embedding": {"a": 1}', "line 1: embedding must be a sequence of numbers"),
    ],
)
def test_json_type_errors_are_invalid_arguments(fields: str, message: str) -> None:
    raises(InvalidArgumentError, message, f'{{"id": "a", "text": "t", {fields}}}')


# -- D-12 paths --------------------------------------------------------------------------------

ARRAY = '[{"id": "a", "text": "x", "payload": {"k": 1.50}}]'
LINES = '{"id": "b", "text": "y"}\n{"id": "c", "text": "z"}\n'


@pytest.mark.parametrize(
    ("name", "content"),
    [("d.json", ARRAY), ("d.JSON", ARRAY), ("d.jsonl", LINES), ("d.ndjson", LINES), ("d.json", LINES), ("d.jsonl", "")],
)
def test_paths_by_extension(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert [_fields(d) for d in to_document_infos(path)] == [_fields(d) for d in to_document_infos(content)]


def test_list_of_paths_concatenates(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(ARRAY, encoding="utf-8")
    (tmp_path / "b.jsonl").write_bytes(b"\xef\xbb\xbf" + LINES.encode())
    paths = [tmp_path / "b.jsonl", tmp_path / "a.json"]
    assert [d.id for d in to_document_infos(paths)] == ["b", "c", "a"]
    assert [d.id for d in to_document_infos(iter(paths))] == ["b", "c", "a"]


class BytesPath:
    def __init__(self, path: bytes) -> None:
        self.path = path

    def __fspath__(self) -> bytes:
        return self.path


def test_any_pathlike(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(ARRAY, encoding="utf-8")
    [doc] = to_document_infos(BytesPath(os.fsencode(tmp_path / "a.json")))
    assert doc.id == "a"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    raises(FileNotFoundError, f"{path}: No such file or directory (os error 2)", path)
    raises(FileNotFoundError, f"{path}: No such file or directory (os error 2)", [path])


@pytest.mark.parametrize("name", ["doc.pdf", "doc.docx", "doc", "archive.json.gz", ".json"])
def test_unsupported_file_type(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    message = (
        f"{path}: unsupported file type; pass .json, .jsonl, .ndjson, .txt, .md or .markdown files, "
        "or use create_index_from_files for PDF and DOCX"
    )
    raises(InvalidArgumentError, message, path)


@pytest.mark.parametrize(
    "items",
    [[Path("a.json"), {"id": "a", "text": "t"}], [DocumentInfo("a", "t"), Path("a.json")], [Path("a.json"), "b.json"]],
)
def test_mixing_paths_with_documents(items: list[object]) -> None:
    raises(TypeError, "docs mixes file paths with other items; pass only paths or only documents", items)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "b"}\n', encoding="utf-8")
    raises(InvalidArgumentError, f'{path}: line 2: missing field "text"', path)
    path.write_text('{"id": "a", "text": "x"} x', encoding="utf-8")
    raises(InvalidArgumentError, f"{path}: line 1: trailing characters at line 1 column 26", path)
    path.write_text("hello", encoding="utf-8")
    raises(InvalidArgumentError, f"{path}: expected a JSON array ('[') or JSON Lines ('{{')", path)


def test_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'[{"id": "\xff", "text": "t"}]')
    raises(InvalidArgumentError, f"{path}: the file is not valid UTF-8", path)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    error = raises(InvalidArgumentError, f"{folder}: cannot read the file: Is a directory", folder)
    assert isinstance(error, MossError)


# -- D-13 text files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["notes.txt", "notes.md", "notes.markdown", "NOTES.MD"])
def test_text_files_need_a_chunker(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("# Title\n\nSome words.", encoding="utf-8")
    with pytest.raises(MossError) as info:
        to_document_infos(path)
    assert type(info.value) is MossError and info.value.code == INTERNAL
    assert str(path) in str(info.value) and "native chunking" in str(info.value) and "chunker=" in str(info.value)


def test_text_file_with_chunker(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("\ufeffone two\nthree", encoding="utf-8")
    assert to_document_infos([path], chunker=split_words) == [
        DocumentInfo(f"{path}#0", "one", {"parentId": str(path)}),
        DocumentInfo(f"{path}#1", "two", {"parentId": str(path)}),
        DocumentInfo(f"{path}#2", "three", {"parentId": str(path)}),
    ]


def test_empty_text_file_with_chunker(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("", encoding="utf-8")
    raises(InvalidArgumentError, f"no text to index in: {path}", path, chunker=split_words)


def test_missing_text_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.txt"
    raises(FileNotFoundError, f"{path}: No such file or directory (os error 2)", path)


# -- D-14 other inputs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docs", "name"), [(5, "int"), (None, "NoneType"), (1.5, "float"), (DocumentInfo("a", "t"), "DocumentInfo")]
)
def test_non_iterable(docs: object, name: str) -> None:
    raises(TypeError, f"docs must be a list of documents, JSON text or a path, got {name}", docs)


def test_plain_strings_pass_through() -> None:
    assert to_document_infos(["a", "b"]) == ["a", "b"]
    doc = DocumentInfo("a", "t")
    result: list[object] = list(to_document_infos([doc, 5]))
    assert result[0] is doc and result[1] == 5


# -- D-15, D-16 chunker ------------------------------------------------------------------------


def test_chunker_ids_metadata_and_payload() -> None:
    docs = [{"id": "a", "text": "x y", "metadata": {"parentId": "old", "k": "v"}, "payload": {"p": 1}}]
    assert to_document_infos(docs, chunker=split_words) == [
        DocumentInfo("a#0", "x", {"parentId": "a", "k": "v"}, None, '{"p":1}'),
        DocumentInfo("a#1", "y", {"parentId": "a", "k": "v"}, None, '{"p":1}'),
    ]
    original = DocumentInfo("b", "single", payload="p")
    assert to_document_infos([original], chunker=split_words) == [
        DocumentInfo("b#0", "single", {"parentId": "b"}, None, "p")
    ]
    assert original.id == "b" and original.metadata is None  # the input document is not changed


def test_chunker_drops_empty_chunks() -> None:
    result = to_document_infos([{"id": "a", "text": "t"}], chunker=lambda text: ["", "one", "", " ", "two"])
    assert [(d.id, d.text) for d in result] == [("a#0", "one"), ("a#1", " "), ("a#2", "two")]


def test_chunker_applies_to_json_text() -> None:
    result = to_document_infos('{"id": 1, "text": "p q"}', chunker=split_words)
    assert [(d.id, d.metadata) for d in result] == [("1#0", {"parentId": "1"}), ("1#1", {"parentId": "1"})]


@pytest.mark.parametrize("chunks", [[], [""], ["", ""]])
def test_chunker_without_chunks(chunks: list[str]) -> None:
    raises(InvalidArgumentError, "no text to index in: a", [{"id": "a", "text": "t"}], chunker=lambda text: chunks)


@pytest.mark.parametrize("chunker", ["split", 5, object()])
def test_chunker_must_be_callable(chunker: object) -> None:
    raises(TypeError, "chunker must be callable", [], chunker=chunker)


def test_chunker_must_be_synchronous() -> None:
    async def chunker(text: str) -> list[str]:
        return [text]

    raises(
        TypeError, "chunker must be synchronous; it returned an awaitable", [{"id": "a", "text": "t"}], chunker=chunker
    )


@pytest.mark.parametrize("returned", [("x",), "x", None, ["x", 1], iter(["x"])])
def test_chunker_must_return_a_list_of_str(returned: object) -> None:
    message = 'chunker must return a list of str for document "a"'
    raises(TypeError, message, [{"id": "a", "text": "t"}], chunker=lambda text: returned)


def test_chunk_length_limit() -> None:
    assert len(to_document_infos([{"id": "a", "text": "t"}], chunker=lambda text: ["", "é" * 2000])) == 1
    message = (
        'chunk 2 of document "a" has 2001 characters; chunks may have at most 2000 '
        "(about 512 tokens of English, the embedding model's input limit)"
    )
    raises(InvalidArgumentError, message, [{"id": "a", "text": "t"}], chunker=lambda text: ["x", "", "é" * 2001])


@pytest.mark.parametrize("embedding", [[0.5], []])
def test_chunker_refuses_documents_with_embeddings(embedding: list[float]) -> None:
    message = 'cannot chunk document "a" because it has an embedding'
    raises(InvalidArgumentError, message, [{"id": "a", "text": "t", "embedding": embedding}], chunker=split_words)


def test_chunker_needs_documents() -> None:
    message = "docs[1] must be a DocumentInfo or dict when a chunker or chunking is given"
    raises(TypeError, message, [DocumentInfo("a", "t"), "b"], chunker=split_words)


def test_chunker_exceptions_propagate() -> None:
    def chunker(text: str) -> list[str]:
        raise KeyError(text)

    with pytest.raises(KeyError):
        to_document_infos([DocumentInfo("a", "t")], chunker=chunker)


# -- D-17, D-18, D-19 chunking options ---------------------------------------------------------


@pytest.mark.parametrize("chunking", [object(), {"chunk_size": 400}])
def test_native_chunking_not_provided(chunking: object) -> None:
    with pytest.raises(MossError) as info:
        to_document_infos([{"id": "a", "text": "t"}], chunking=chunking)
    assert type(info.value) is MossError and info.value.code == INTERNAL
    assert "does not provide native chunking" in str(info.value) and "chunker=" in str(info.value)


def test_chunker_and_chunking_together() -> None:
    raises(TypeError, "pass chunker or chunking, not both", [], chunker=split_words, chunking=object())


@pytest.mark.parametrize(
    "options",
    [{"chunker": split_words}, {"chunking": object()}, {"chunker": 5}, {"chunker": split_words, "chunking": object()}],
)
def test_custom_model_refuses_chunking(options: dict[str, object]) -> None:
    message = "chunker and chunking cannot be used with model_id='custom': chunks have no embeddings"
    raises(ValueError, message, 5, model_id="custom", **options)


def test_custom_model_without_chunking_is_fine() -> None:
    assert one([{"id": "a", "text": "t"}], model_id="custom") == DocumentInfo("a", "t")
    assert len(to_document_infos([{"id": "a", "text": "t u"}], chunker=split_words, model_id="moss-minilm")) == 2


# -- all or nothing --------------------------------------------------------------------------


def test_all_or_nothing() -> None:
    calls: list[str] = []

    def chunker(text: str) -> list[str]:
        calls.append(text)
        return [text]

    def docs() -> Iterator[object]:
        yield {"id": "a", "text": "first"}
        yield {"id": "b", "text": 5}

    raises(InvalidArgumentError, 'index 1: "text" must be a string', docs(), chunker=chunker)
    assert calls == []  # nothing was chunked: the input is read whole first


# -- properties ------------------------------------------------------------------------------

texts = st.text(max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | finite | texts
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8
)
meta_values = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | finite | texts
documents = st.fixed_dictionaries(
    {"id": texts | st.integers(-(2**63), 2**64 - 1), "text": texts},
    optional={
        "metadata": st.none() | st.dictionaries(texts, meta_values, max_size=4),
        "embedding": st.none() | st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), max_size=4),
        "payload": json_values,
        "extra": json_values,
    },
)


def as_forms(docs: list[dict[str, Any]], tmp: Path) -> list[object]:
    compact = [json.dumps(d, ensure_ascii=False, separators=(",", ":")) for d in docs]
    array = "[" + ",".join(compact) + "]"
    lines = "\n".join(compact)
    (tmp / "d.json").write_text(array, encoding="utf-8")
    (tmp / "d.jsonl").write_text(lines, encoding="utf-8")
    return [docs, array, lines, array.encode(), lines.encode(), tmp / "d.json", [tmp / "d.jsonl"]]


@settings(max_examples=150)
@given(docs=st.lists(documents, max_size=4))
def test_property_every_form_gives_the_same_documents(
    tmp_path_factory: pytest.TempPathFactory, docs: list[dict[str, Any]]
) -> None:
    """Dicts, compact JSON array/JSON Lines text, bytes and files agree (payload raw text = compact JSON)."""
    results = [to_document_infos(form) for form in as_forms(docs, tmp_path_factory.mktemp("forms"))]
    assert all([_fields(d) for d in result] == [_fields(d) for d in results[0]] for result in results)


@settings(max_examples=150)
@given(docs=st.lists(documents, max_size=4), indent=st.none() | st.integers(0, 3), ascii_only=st.booleans())
def test_property_json_layout_changes_only_payload_spacing(
    docs: list[dict[str, Any]], indent: int | None, ascii_only: bool
) -> None:
    """Pretty-printed or ASCII-escaped JSON gives the same documents; payloads hold the same JSON value."""
    expected = to_document_infos(docs)
    result = to_document_infos(json.dumps(docs, indent=indent, ensure_ascii=ascii_only))
    assert len(result) == len(expected)
    for got, want, source in zip(result, expected, docs):
        assert (got.id, got.text, got.metadata, got.embedding) == (want.id, want.text, want.metadata, want.embedding)
        payload = source.get("payload")
        if payload is None or isinstance(payload, str):
            assert got.payload == payload
        else:
            assert got.payload is not None and json.loads(got.payload) == payload


@settings(max_examples=150)
@given(
    value=json_values,
    indent=st.none() | st.integers(0, 2),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]),
)
def test_property_payload_keeps_raw_json_text(value: object, indent: int | None, separators: tuple[str, str]) -> None:
    raw = json.dumps(value, indent=indent, separators=separators)
    expected = value if value is None or isinstance(value, str) else raw
    assert json_payload(raw) == expected


NEAR_JSON = st.text(alphabet='[]{}",:0123456789.-+eE \n\\/truefalsnbu', max_size=30)  # no 'd': no surrogate escapes


def strict_loads(text: str) -> object:
    def no_constants(name: str) -> object:
        raise ValueError(name)

    return json.loads(text, parse_constant=no_constants)


@settings(max_examples=200)
@given(text=NEAR_JSON | json_values.map(json.dumps))
def test_property_scanner_accepts_what_json_accepts(text: str) -> None:
    """The scanner's syntax is JSON's: it accepts a value exactly when ``json.loads`` does, and keeps its text."""
    try:
        strict_loads(text)
        valid = True
    except ValueError:
        valid = False
    scanner = _Scanner(text, "", 0)
    try:
        scanner.skip_ws()
        start = scanner.pos
        scanner.value(0, cook=False)
        end = scanner.pos
        scanner.skip_ws()
        if scanner.pos != len(text):
            scanner.fail("trailing characters")
        accepted = True
    except InvalidArgumentError as exc:
        assert " at line " in str(exc)
        accepted = False
    assert accepted == valid
    if accepted:
        assert text[start:end] == text.strip(" \t\n\r")


junk_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals()
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.builds(DocumentInfo, texts, texts)
    | st.just(Path("/nonexistent/file.json"))
    | st.just(Path("/nonexistent/file.bin"))
)
junk = st.recursive(
    junk_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(
            st.sampled_from(["id", "text", "metadata", "embedding", "payload", "x"]) | texts, inner, max_size=5
        )
        | st.sets(st.integers(), max_size=2)
    ),
    max_leaves=12,
)
junk_json = st.builds(
    lambda head, body: head + body, st.sampled_from(["[", "{", "[{", '{"id":1,"text":"t",', ""]), NEAR_JSON
)
ALLOWED = (TypeError, ValueError, MossError, FileNotFoundError)


@settings(max_examples=200)
@given(docs=junk | junk_json, chunker=st.sampled_from([None, split_words]), model=st.sampled_from([None, "custom"]))
def test_property_junk_raises_only_documented_errors(docs: object, chunker: Any, model: str | None) -> None:
    try:
        result = to_document_infos(docs, chunker=chunker, model_id=model)
    except ALLOWED:
        return
    assert isinstance(result, list)


@settings(max_examples=100)
@given(text=st.text(string.printable, max_size=40).filter(lambda s: s.strip()[:1] not in ("[", "{", "")))
def test_property_non_json_start_is_one_message(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        to_document_infos(text)
    assert str(info.value).startswith("expected a JSON array ('[') or JSON Lines ('{')")


def test_embedding_check_runs_for_every_document_before_any_chunker_call() -> None:
    """IN-80 + IN-87: the chunker is not called at all when a later document has an embedding."""
    calls: list[str] = []

    def chunker(text: str) -> list[str]:
        calls.append(text)
        return [text]

    docs = [DocumentInfo("a", "one"), DocumentInfo("b", "two", None, [1.0])]
    with pytest.raises(InvalidArgumentError, match='cannot chunk document "b" because it has an embedding'):
        to_document_infos(docs, chunker=chunker)
    assert calls == []
