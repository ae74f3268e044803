"""A stdlib reader for the safetensors format, strict about untrusted input.

Layout: an unsigned 64-bit little-endian header length ``N``; ``N`` bytes of UTF-8 JSON, an object
mapping tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}`` plus an optional
``"__metadata__"`` object of strings; then the data area, offsets relative to its start, row-major,
little-endian.

Every check that keeps a hostile or truncated file from being read out of bounds is made here,
before any tensor is touched: header length within the file and at most 100 MB, a JSON object with
no duplicate keys and no NaN/Infinity, known dtypes, non-negative integer shapes, offsets inside
the data area whose span equals ``prod(shape) * itemsize``, and no two tensors overlapping.
Failures raise :class:`SafetensorsError` (a ``ValueError``) naming the tensor and the problem.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DTYPE_SIZES", "SafetensorsError", "SafetensorsFile", "TensorInfo", "parse"]

MAX_HEADER_BYTES = 100_000_000

#: bytes per element of each safetensors dtype
DTYPE_SIZES: Mapping[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


class SafetensorsError(ValueError):
    """The bytes are not a valid safetensors file."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int  # absolute byte offset in the file
    nbytes: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class SafetensorsFile:
    """A parsed file: its tensors (by name) over the original buffer, and the metadata strings."""

    buffer: bytes | memoryview
    tensors: Mapping[str, TensorInfo]
    metadata: Mapping[str, str]

    def raw(self, name: str) -> memoryview:
        """The bytes of tensor ``name`` (no copy)."""
        info = self.tensors[name]
        return memoryview(self.buffer)[info.offset : info.offset + info.nbytes]


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise SafetensorsError(f"duplicate key {key!r} in the header")
        out[key] = value
    return out


def _reject_constant(name: str) -> object:
    raise SafetensorsError(f"non-standard JSON constant {name} in the header")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse(buffer: bytes | memoryview) -> SafetensorsFile:
    """Validate and index a whole safetensors file held in memory."""
    view = memoryview(buffer)
    if view.nbytes < 8:
        raise SafetensorsError(f"file is {view.nbytes} bytes, shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", view[:8])
    if header_len > MAX_HEADER_BYTES:
        raise SafetensorsError(f"header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if 8 + header_len > view.nbytes:
        raise SafetensorsError(f"header length {header_len} runs past the end of the {view.nbytes}-byte file")
    try:
        header = json.loads(
            bytes(view[8 : 8 + header_len]).decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
    except UnicodeDecodeError as exc:
        raise SafetensorsError(f"header is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SafetensorsError(f"header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    data_start = 8 + header_len
    data_len = view.nbytes - data_start
    metadata: dict[str, str] = {}
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise SafetensorsError("__metadata__ must be an object of strings")
            metadata = dict(entry)
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"tensor {name!r}: expected exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
            raise SafetensorsError(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise SafetensorsError(f"tensor {name!r}: shape must be a list of non-negative integers, got {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
            raise SafetensorsError(f"tensor {name!r}: data_offsets must be two integers, got {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise SafetensorsError(f"tensor {name!r}: data_offsets {offsets} outside the {data_len}-byte data area")
        nbytes = math.prod(shape) * DTYPE_SIZES[dtype]
        if end - begin != nbytes:
            raise SafetensorsError(
                f"tensor {name!r}: {end - begin} bytes for shape {shape} of {dtype} (needs {nbytes})"
            )
        tensors[name] = TensorInfo(name, dtype, tuple(shape), data_start + begin, nbytes)
    previous: TensorInfo | None = None
    for info in sorted(tensors.values(), key=lambda t: (t.offset, t.nbytes)):
        if previous is not None and info.nbytes and previous.offset + previous.nbytes > info.offset:
            raise SafetensorsError(f"tensors {previous.name!r} and {info.name!r} overlap")
        if info.nbytes:
            previous = info
    return SafetensorsFile(buffer, tensors, metadata)
