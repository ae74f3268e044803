"""The Moss wire protocol's data shapes, shared by the service and moss_ref's HTTP store.

Everything here was observed against the real ``moss`` 1.21.0 SDK (docs/wire-protocol.md); the few
``moss_ref`` extensions (marked below) are extra keys the SDK ignores.

* the index record (``GET /index/<name>``): snake_case, ``version`` a string, ``document_count``;
* the job record (``GET /index/<job>/status``): ``id``, ``status``, ``progress``, ``created_at``;
* the documents download: a JSON array of ``{"id", "text", "metadata"?, "payload"?}``;
* the index download (".moss" v1): ``b"MOSS"``, u16 1, u16 0, u32 N, then N bytes of UTF-8 JSON
  each XOR-ed with ``0xAA ^ (i % 255)``; the JSON holds ``name``, ``version``, ``model``,
  ``dimension``, ``embeddings`` and ``docIds``;
* the create_index upload (PUT to the presigned URL): ``b"MOSS"``, u16 1, u16 0, u32 docCount,
  u32 dimension, u32 J, J bytes of documents JSON (plain), then docCount x dimension float32 LE.

Floats: stored vectors are float32; their widened double is written with ``repr``, which reads
back as the same float32 in any correct parser (the SDK reads f32).
"""

from __future__ import annotations

import json
import math
import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from typing import Any, Final, Optional

from .._corpus import Record
from .._protocols import EmbedderFingerprint
from .base import IndexSummary, JobRecord

__all__ = [
    "JOB_STATUSES",
    "WireError",
    "decode_index_blob",
    "decode_upload",
    "documents_json",
    "encode_index_blob",
    "encode_upload",
    "f32_bytes",
    "f32_from_bytes",
    "fingerprint_from_json",
    "fingerprint_json",
    "job_from_json",
    "job_json",
    "record_json",
    "records_from_json",
    "summary_from_json",
]

MAGIC: Final = b"MOSS"
BLOB_VERSION: Final = 1
#: Job statuses the SDK decodes (lower case only).
JOB_STATUSES: Final = ("pending_upload", "uploading", "building", "completed", "failed")
JOB_KINDS: Final = ("create", "add_docs", "delete_docs", "push")
_PROGRESS: Final = {"pending_upload": 0.0, "uploading": 10.0, "building": 50.0, "completed": 100.0, "failed": 0.0}
_KEY: Final = bytes(0xAA ^ (i % 255) for i in range(255))


class WireError(ValueError):
    """Bytes or JSON that do not follow the wire format; the message says what is wrong."""


# -- the XOR-ed index blob -------------------------------------------------------------------------


def xor_mask(data: bytes) -> bytes:
    """Byte ``i`` XOR ``0xAA ^ (i % 255)`` (its own inverse), done as one big-integer XOR."""
    n = len(data)
    if n == 0:
        return b""
    key = (_KEY * (n // 255 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def encode_index_blob(payload: Mapping[str, Any]) -> bytes:
    """The ".moss" v1 index download around ``payload`` (a JSON object)."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    return MAGIC + struct.pack("<HHI", BLOB_VERSION, 0, len(raw)) + xor_mask(raw)


def decode_index_blob(blob: bytes) -> Any:
    """The JSON payload of a ".moss" v1 index download."""
    if len(blob) < 12 or blob[:4] != MAGIC:
        raise WireError("index blob: missing the MOSS magic")
    version, flags, length = struct.unpack("<HHI", blob[4:12])
    if version != BLOB_VERSION or flags != 0:
        raise WireError(f"index blob: version {version}, flags {flags}; only version 1, flags 0 are known")
    if len(blob) != 12 + length:
        raise WireError(f"index blob: header says {length} payload bytes, {len(blob) - 12} follow")
    try:
        return json.loads(xor_mask(blob[12:]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"index blob: payload is not JSON: {exc}") from None


# -- raw float32 ---------------------------------------------------------------------------------------


def f32_bytes(values: array) -> bytes:  # type: ignore[type-arg]
    """Little-endian float32 bytes of an ``array('f')``."""
    if sys.byteorder == "little":
        return values.tobytes()
    swapped = array("f", values)
    swapped.byteswap()
    return swapped.tobytes()


def f32_from_bytes(data: bytes, what: str) -> array:  # type: ignore[type-arg]
    """An ``array('f')`` of little-endian float32 bytes; every value must be finite."""
    if len(data) % 4:
        raise WireError(f"{what}: {len(data)} bytes is not a whole number of float32 values")
    values = array("f")
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    if not all(math.isfinite(x) for x in values):
        raise WireError(f"{what}: vectors must be finite")
    return values


# -- the create_index upload --------------------------------------------------------------------------


def encode_upload(docs: Sequence[Mapping[str, Any]], vectors: array, dimension: int) -> bytes:  # type: ignore[type-arg]
    """The body the SDK PUTs to the presigned upload URL (documents without embeddings + vectors)."""
    raw = json.dumps(list(docs), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    head = MAGIC + struct.pack("<HHIII", BLOB_VERSION, 0, len(docs), dimension, len(raw))
    return head + raw + f32_bytes(vectors)


def decode_upload(blob: bytes) -> tuple[list[Any], array, int]:  # type: ignore[type-arg]
    """``(documents JSON list, float32 vectors, dimension)`` of an upload body; lengths checked exactly."""
    if len(blob) < 20 or blob[:4] != MAGIC:
        raise WireError("upload: missing the MOSS magic or the 20-byte header")
    version, flags, count, dimension, length = struct.unpack("<HHIII", blob[4:20])
    if version != BLOB_VERSION or flags != 0:
        raise WireError(f"upload: version {version}, flags {flags}; only version 1, flags 0 are known")
    want = 20 + length + 4 * count * dimension
    if len(blob) != want:
        raise WireError(f"upload: the header describes {want} bytes ({count} x {dimension} vectors), got {len(blob)}")
    try:
        docs = json.loads(blob[20 : 20 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"upload: documents are not JSON: {exc}") from None
    if not isinstance(docs, list) or len(docs) != count:
        raise WireError(f"upload: the header says {count} documents, the JSON holds a different number")
    return docs, f32_from_bytes(blob[20 + length :], "upload"), dimension


# -- documents -----------------------------------------------------------------------------------------


def document_json(record: Record, vector: Optional[Sequence[float]] = None) -> dict[str, Any]:
    """One document as the SDK reads it: absent fields are left out."""
    out: dict[str, Any] = {"id": record.id, "text": record.text}
    if record.metadata is not None:
        out["metadata"] = record.metadata
    if record.payload is not None:
        out["payload"] = record.payload
    if vector is not None:
        out["embedding"] = list(vector)
    return out


def documents_json(records: Sequence[Record]) -> bytes:
    """The documents download (no vectors: those are in the index blob)."""
    return json.dumps([document_json(r) for r in records], separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def records_from_json(data: Any, what: str) -> tuple[Record, ...]:
    """Records of a documents download, checked: ids unique non-empty strings, string fields."""
    if not isinstance(data, list):
        raise WireError(f"{what}: expected a JSON array of documents")
    out: list[Record] = []
    seen: set[str] = set()
    for i, doc in enumerate(data):
        if not isinstance(doc, dict):
            raise WireError(f"{what}[{i}]: expected an object")
        doc_id, text = doc.get("id"), doc.get("text")
        metadata, payload = doc.get("metadata"), doc.get("payload")
        if not isinstance(doc_id, str) or not doc_id or doc_id in seen:
            raise WireError(f"{what}[{i}]: id must be a unique non-empty string")
        if not isinstance(text, str):
            raise WireError(f"{what}[{i}]: text must be a string")
        if metadata is not None and (
            not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
        ):
            raise WireError(f"{what}[{i}]: metadata must map strings to strings")
        if payload is not None and not isinstance(payload, str):
            raise WireError(f"{what}[{i}]: payload must be a string")
        seen.add(doc_id)
        out.append(Record(doc_id, text, metadata, payload))
    return tuple(out)


# -- index and job records -------------------------------------------------------------------------


def fingerprint_json(fp: Optional[EmbedderFingerprint]) -> Optional[dict[str, object]]:
    return None if fp is None else fp.as_dict()


def fingerprint_from_json(data: Any) -> Optional[EmbedderFingerprint]:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise WireError("embedder: expected an object or null")
    backend, version, dimension, sha = (data.get(k) for k in ("backend", "version", "dimension", "weights_sha256"))
    if not (isinstance(backend, str) and isinstance(version, str) and isinstance(sha, str)):
        raise WireError("embedder: backend, version and weights_sha256 must be strings")
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension <= 0:
        raise WireError("embedder: dimension must be a positive integer")
    return EmbedderFingerprint(backend, version, dimension, sha)


def model_version(summary: IndexSummary) -> str:
    """CLD-6: ``<embedder backend>:<embedder version>`` for built-in models, ``""`` for custom."""
    fp = summary.embedder
    return "" if fp is None else f"{fp.backend}:{fp.version}"


def record_json(summary: IndexSummary) -> dict[str, Any]:
    """The index record. ``embedder`` and ``dimension`` are moss_ref extensions (the SDK ignores them)."""
    return {
        "id": summary.index_id,
        "name": summary.name,
        "version": summary.version,
        "status": "Ready",
        "document_count": summary.doc_count,
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
        "model_id": summary.model_id,
        "model_version": model_version(summary),
        "embedder": fingerprint_json(summary.embedder),
        "dimension": summary.dimension,
    }


def _str_field(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise WireError(f"{what}: {key} must be a string")
    return value


def summary_from_json(data: Any) -> IndexSummary:
    """An index record back into an ``IndexSummary`` (moss_ref's HTTP store)."""
    if not isinstance(data, dict):
        raise WireError("index record: expected an object")
    count = data.get("document_count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise WireError("index record: document_count must be an integer >= 0")
    dimension = data.get("dimension")
    if dimension is not None and (isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 0):
        raise WireError("index record: dimension must be an integer or null")
    what = "index record"
    return IndexSummary(
        _str_field(data, "name", what),
        _str_field(data, "model_id", what),
        count,
        _str_field(data, "version", what),
        _str_field(data, "created_at", what),
        _str_field(data, "updated_at", what),
        index_id=_str_field(data, "id", what),
        embedder=fingerprint_from_json(data.get("embedder")),
        dimension=dimension,
    )


def job_json(job: JobRecord) -> dict[str, Any]:
    """The job record; ``index_name``, ``kind`` and ``doc_count`` are moss_ref extensions."""
    finished = job.status in ("completed", "failed")
    return {
        "id": job.job_id,
        "status": job.status,
        "progress": _PROGRESS.get(job.status, 0.0),
        "current_phase": None
        if finished
        else {"pending_upload": "queued", "uploading": "uploading"}.get(job.status, "building_index"),
        "error_message": job.error,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "completed_at": job.completed_at,
        "index_name": job.index_name,
        "kind": job.kind,
        "doc_count": job.doc_count,
    }


def job_from_json(data: Any, job_id: str) -> JobRecord:
    """A job record (the service's answer, or a record a moss_ref client saves) into a ``JobRecord``."""
    if not isinstance(data, dict):
        raise WireError("job record: expected an object")
    what = "job record"
    status, kind = data.get("status"), data.get("kind")
    if status not in JOB_STATUSES:
        raise WireError(f"job record: status must be one of {', '.join(JOB_STATUSES)}")
    if kind not in JOB_KINDS:
        raise WireError(f"job record: kind must be one of {', '.join(JOB_KINDS)}")
    count = data.get("doc_count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise WireError("job record: doc_count must be an integer >= 0")
    completed, error = data.get("completed_at"), data.get("error_message")
    if completed is not None and not isinstance(completed, str):
        raise WireError("job record: completed_at must be a string or null")
    if error is not None and not isinstance(error, str):
        raise WireError("job record: error_message must be a string or null")
    found = data.get("id", job_id)
    if found != job_id:
        raise WireError(f"job record: names job {found!r}, expected {job_id!r}")
    return JobRecord(
        job_id,
        _str_field(data, "index_name", what),
        kind,
        status,
        count,
        _str_field(data, "created_at", what),
        _str_field(data, "updated_at", what),
        completed,
        error,
    )
