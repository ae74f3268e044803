"""The stdlib safetensors reader accepts valid files and refuses malformed, untrusted ones (MINI-14)."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moss_ref_backends.minilm.safetensors import SafetensorsError, parse


def make(header: Any, data: bytes = b"", raw_header: bytes | None = None) -> bytes:
    body = raw_header if raw_header is not None else json.dumps(header).encode("utf-8")
    return struct.pack("<Q", len(body)) + body + data


VALID_HEADER = {
    "__metadata__": {"format": "pt"},
    "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    "b": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]},
    "empty": {"dtype": "F16", "shape": [0, 3], "data_offsets": [24, 24]},
}
VALID_DATA = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0) + struct.pack("<q", -7)


def test_valid_file_round_trips() -> None:
    st_file = parse(make(VALID_HEADER, VALID_DATA))
    assert st_file.metadata == {"format": "pt"}
    assert set(st_file.tensors) == {"a", "b", "empty"}
    a = st_file.tensors["a"]
    assert (a.dtype, a.shape, a.size, a.nbytes) == ("F32", (2, 2), 4, 16)
    assert struct.unpack("<4f", st_file.raw("a")) == (1.0, 2.0, 3.0, 4.0)
    assert struct.unpack("<q", st_file.raw("b")) == (-7,)
    assert st_file.raw("empty").nbytes == 0


def _entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x01\x00", "shorter than the 8-byte"),
        (struct.pack("<Q", 2**63) + b"{}", "exceeds"),
        (struct.pack("<Q", 100) + b"{}", "runs past the end"),
        (make(None, raw_header=b"\xff\xfe"), "not UTF-8"),
        (make(None, raw_header=b"{not json"), "not JSON"),
        (make([1, 2]), "not a JSON object"),
        (make(None, raw_header=b'{"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, "a": {}}'), "duplicate"),
        (make(None, raw_header=b'{"a": NaN}'), "non-standard JSON constant"),
        (make({"__metadata__": {"k": 1}}), "__metadata__"),
        (make({"a": [0, 16]}, VALID_DATA), "exactly dtype"),
        (make({"a": {**_entry(), "extra": 1}}, VALID_DATA), "exactly dtype"),
        (make({"a": _entry(dtype="F128")}, VALID_DATA), "unknown dtype"),
        (make({"a": _entry(shape=[2, -2])}, VALID_DATA), "non-negative integers"),
        (make({"a": _entry(shape=[True, 4])}, VALID_DATA), "non-negative integers"),
        (make({"a": _entry(shape=[2.0, 2])}, VALID_DATA), "non-negative integers"),
        (make({"a": _entry(shape="22")}, VALID_DATA), "non-negative integers"),
        (make({"a": _entry(data_offsets=[0])}, VALID_DATA), "two integers"),
        (make({"a": _entry(data_offsets=[0.0, 16])}, VALID_DATA), "two integers"),
        (make({"a": _entry(data_offsets=[-16, 0])}, VALID_DATA), "outside"),
        (make({"a": _entry(data_offsets=[16, 8])}, VALID_DATA), "outside"),
        (make({"a": _entry(data_offsets=[16, 32])}, VALID_DATA), "outside"),
        (make({"a": _entry(data_offsets=[0, 12])}, VALID_DATA), "needs 16"),
        (make({"a": _entry(), "b": _entry(shape=[2], data_offsets=[8, 16])}, VALID_DATA), "overlap"),
    ],
)
def test_malformed_files_are_refused(blob: bytes, message: str) -> None:
    with pytest.raises(SafetensorsError, match=message):
        parse(blob)


def test_error_is_a_value_error() -> None:
    assert issubclass(SafetensorsError, ValueError)


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_safetensors_error(blob: bytes) -> None:
    try:
        parse(blob)
    except SafetensorsError:
        pass


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
_entries = st.fixed_dictionaries(
    {"dtype": st.sampled_from(["F32", "I64", "U8", "X"]), "shape": _json, "data_offsets": _json}
) | st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "U8", "BOOL"]),
        "shape": st.lists(st.integers(-1, 5), max_size=3),
        "data_offsets": st.lists(st.integers(-2, 40), min_size=2, max_size=2),
    }
)


@given(st.dictionaries(st.text(max_size=8), _entries | _json, max_size=4), st.binary(max_size=40))
def test_hostile_headers_raise_only_safetensors_error(header: dict[str, Any], data: bytes) -> None:
    try:
        result = parse(make(header, data))
    except SafetensorsError:
        return
    for info in result.tensors.values():  # whatever was accepted lies inside the buffer
        assert 0 <= info.offset and info.offset + info.nbytes <= len(result.buffer)
        assert len(result.raw(info.name)) == info.nbytes
