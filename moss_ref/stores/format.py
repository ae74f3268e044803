"""The on-disk index format, version 1 (R-ST-4, R-ST-5; rules FMT-1..FMT-14 in docs/rules/stores.md).

One *index directory* holds every version of one index (a store index or a disk snapshot)::

    <index dir>/
        CURRENT                 pointer: {"format_version":1,"version":V,"manifest_sha256":H}
        LOCK                    empty; writers hold an exclusive lock on it while publishing
        versions/<V>/
            manifest.json       format_version, names, model, embedder fingerprint, counts,
                                timestamps, size and SHA-256 of the two data files
            documents.jsonl     one JSON object per document: id, text, metadata, payload
            vectors.f32         doc_count x dimension little-endian IEEE-754 float32, doc order
            keywords.u32        (format_version 2) the keyword index's term ids, doc order
        tmp/                    staging area of writers (never read)

A writer stages the data files, then under the lock writes the manifest, renames the staging
directory to ``versions/<V>``, fsyncs, and switches ``CURRENT`` with ``os.replace``: readers see
the old version or the new one, never a mixture, and a crash leaves the old one loadable.
Readers take no lock. Every byte a reader uses is validated (sizes, SHA-256, JSON shape,
finite float32 values); anything wrong raises :class:`FormatError`, which the boundary turns
into ``MossError`` code ``DESERIALIZATION``. No pickle, no vector ever encoded as JSON.

Format version 2 of the manifest (FMT-15 in docs/rules/stores.md) is version 1 plus one data
file, written when the index comes with its keyword terms (a push does):
``files["keywords.u32"] = {"bytes", "sha256", "dtype": "<u4", "terms": <tokenizer version>}``.
The file is little-endian uint32: ``doc_count`` document lengths in the order of
``documents.jsonl`` (``0xFFFFFFFF``: a blank document, not in the keyword index), then the term
ids of every other document, document after document, each one's ascending (repeats kept); its
size must be ``4 x (doc_count + the sum of those lengths)``. Readers accept both versions;
version 1 never names the file and version 2 always does. A reader whose tokenizer version
differs ignores the terms and tokenizes the texts (``moss_ref._snapshot.contents_for``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Optional

from .._clock import now_iso
from .._corpus import Record
from .._errors import InvalidArgumentError, deserialization, internal
from .._keyword_rule import NOT_INDEXED
from .._models import CUSTOM, MODEL_IDS
from .._names import validate_index_name
from .._protocols import EmbedderFingerprint
from .base import IndexConflict, IndexSummary, StoredIndex, StoredTerms

__all__ = [
    "FORMAT_VERSION",
    "FormatError",
    "IndexDirectory",
    "atomic_write",
    "guard",
    "io_errors",
    "path_component",
    "read_bytes",
    "read_json_file",
    "seal",
    "unseal",
]

FORMAT_VERSION: Final = 1
#: A manifest of format_version 2 is one of version 1 that also names ``keywords.u32`` (FMT-15);
#: writers write 2 exactly when they have the terms, readers read both.
MANIFEST_VERSIONS: Final = (1, 2)
POINTER: Final = "CURRENT"
LOCK: Final = "LOCK"
VERSIONS: Final = "versions"
STAGING: Final = "tmp"
MANIFEST: Final = "manifest.json"
DOCUMENTS: Final = "documents.jsonl"
VECTORS: Final = "vectors.f32"
VECTOR_DTYPE: Final = "<f4"
KEYWORDS: Final = "keywords.u32"
KEYWORDS_DTYPE: Final = "<u4"
MANIFEST_FORMAT: Final = "moss_ref/index"

MAX_POINTER_BYTES: Final = 4096
MAX_MANIFEST_BYTES: Final = 1 << 20
#: Staging leftovers of crashed writers are removed once untouched this long (FMT-12).
STAGING_GRACE_SECONDS: Final = 3600.0

_VERSION_RE: Final = re.compile(r"\A([0-9]{10})-([0-9a-f]{8})\Z")
_SHA_RE: Final = re.compile(r"\A[0-9a-f]{64}\Z")
_ID_RE: Final = re.compile(r"\A[0-9a-f]{32}\Z")
_PLAIN_RE: Final = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")
_RESERVED: Final = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))]
)
_PLAIN_HEX_LIMIT: Final = 96  # UTF-8 bytes; "_x" + 192 hex digits stays far below NAME_MAX (255)


class FormatError(Exception):
    """Stored bytes that do not follow the format. Never escapes: boundaries turn it into
    ``MossError`` code ``DESERIALIZATION``."""


# -- names -> directory names (FMT-2) --------------------------------------------------------


def path_component(text: str) -> str:
    """The directory name standing for ``text`` (a project id or an index name).

    Portable lower-case names (``[a-z0-9][a-z0-9._-]*``, at most 64 characters, no trailing dot,
    no Windows device name) are used as they are; anything else becomes ``_x`` + the hex of its
    UTF-8 bytes, or ``_h`` + SHA-256 hex when longer than 96 bytes. The result never contains a
    separator, is never ``.``/``..``, never differs from another only by letter case, and plain
    and encoded forms cannot collide (only encoded forms start with ``_``).
    """
    if _PLAIN_RE.match(text) and not text.endswith(".") and text.split(".")[0] not in _RESERVED:
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= _PLAIN_HEX_LIMIT:
        return "_x" + raw.hex()
    return "_h" + hashlib.sha256(raw).hexdigest()


def child_path(parent: str, text: str) -> str:
    """``parent/<path_component(text)>``, checked to stay directly inside ``parent``."""
    component = path_component(text)
    path = os.path.join(parent, component)
    if os.path.dirname(path) != parent or component in ("", ".", "..") or os.sep in component:
        raise internal(f"refusing a path outside {parent!r}")  # unreachable by construction
    return path


# -- small I/O helpers ---------------------------------------------------------------------


@contextmanager
def io_errors() -> Iterator[None]:
    """Turn ``OSError`` into ``MossError`` code ``INTERNAL`` naming the path (STO-9)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename if exc.filename is not None else "the store"
        raise internal(f"store I/O failed at {where}: {exc.strerror or exc}") from exc


@contextmanager
def guard(public: str = "The index data could not be decoded.") -> Iterator[None]:
    """Only documented exceptions leave: FormatError → ``DESERIALIZATION`` (with ``public`` as the
    fixed message), OSError → ``INTERNAL`` (FMT-13, STO-9)."""
    try:
        with io_errors():
            yield
    except FormatError as exc:
        raise deserialization(str(exc), public) from None


def fsync_dir(path: str) -> None:
    """Make a rename/creation inside ``path`` durable (no-op where directories cannot be opened)."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: temp file, fsync, ``os.replace``, fsync dir."""
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(directory)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_bytes(path: str, cap: int, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except (IsADirectoryError, NotADirectoryError):
        raise FormatError(f"{what} at {path} is not a regular file") from None
    if len(data) > cap:
        raise FormatError(f"{what} is larger than {cap} bytes")
    return data


def _reject_constant(name: str) -> Any:
    raise FormatError(f"JSON constant {name} is not allowed")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise FormatError(f"duplicate JSON key {duplicate!r}")
    return out


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)


def loads_strict(data: bytes, what: str) -> Any:
    """Strict UTF-8 JSON: no NaN/Infinity, no duplicate keys (FMT-3)."""
    try:
        text = data.decode("utf-8")
        if text[:1].isspace() or text[-1:].isspace():
            text = text.strip(" \t\n\r")  # JSON allows surrounding whitespace; raw_decode does not skip it
        value, end = _DECODER.raw_decode(text)
        if end != len(text):
            raise ValueError(f"extra data at character {end}")
        return value
    except FormatError as exc:
        raise FormatError(f"{what}: {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"{what} is not valid UTF-8 JSON: {exc}") from None


def read_json_file(path: str, cap: int, what: str) -> Any:
    """Read and strictly parse a small JSON file (raises FileNotFoundError if absent)."""
    return loads_strict(read_bytes(path, cap, what), what)


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_COMPACT_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode


def dumps_line(obj: object) -> bytes:
    """Compact JSON, UTF-8, newline-terminated. Strings that are not valid Unicode (lone
    surrogates) fall back to ``\\u`` escapes, so the file is always valid UTF-8 (FMT-3)."""
    try:
        return (_COMPACT(obj) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (_COMPACT_ASCII(obj) + "\n").encode("ascii")


def seal(record: object) -> bytes:
    """A small record in a checksummed envelope (FMT-11): the record's JSON text (ASCII) is
    carried as a string next to its SHA-256, so any change to the file is detected."""
    text = json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()
    return dumps_line({"format_version": FORMAT_VERSION, "sha256": digest, "record": text})


def _versioned_object(data: bytes, what: str, versions: Sequence[int] = (FORMAT_VERSION,)) -> dict[str, Any]:
    """A JSON object whose ``format_version`` this reader understands (FMT: every file is versioned)."""
    obj = loads_strict(data, what)
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be a JSON object")
    fv = obj.get("format_version")
    if fv not in versions or isinstance(fv, bool):
        understood = " and ".join(map(str, versions))
        raise FormatError(f"{what}: unsupported format_version {fv!r}; this reader understands {understood}")
    return obj


def unseal(data: bytes, what: str) -> Any:
    """The record of a sealed file, after checking the envelope and the checksum."""
    envelope = _versioned_object(data, what)
    fields = _exact_keys(envelope, ("format_version", "sha256", "record"), what)
    text = _str(fields["record"], f"{what}.record")
    if hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() != fields["sha256"]:
        raise FormatError(f"{what}: record does not match its SHA-256")
    return loads_strict(text.encode("utf-8", "surrogatepass"), f"{what}.record")


# -- data files (FMT-5, FMT-6) -----------------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    size: int
    sha256: str


def write_documents(path: str, records: Sequence[Record]) -> FileInfo:
    digest = hashlib.sha256()
    size = 0
    with open(path, "wb") as f:
        chunk: list[bytes] = []
        for record in records:
            doc = {"id": record.id, "text": record.text, "metadata": record.metadata, "payload": record.payload}
            chunk.append(dumps_line(doc))
            if len(chunk) >= 4096:
                block = b"".join(chunk)
                digest.update(block)
                size += f.write(block)
                chunk.clear()
        block = b"".join(chunk)
        digest.update(block)
        size += f.write(block)
        f.flush()
        os.fsync(f.fileno())
    return FileInfo(size, digest.hexdigest())


def write_vectors(path: str, vectors: array) -> FileInfo:  # type: ignore[type-arg]
    data = vectors if vectors.typecode == "f" else array("f", vectors)
    if sys.byteorder == "big":
        data = array("f", data)
        data.byteswap()
    view = memoryview(data).cast("B")
    digest = hashlib.sha256(view).hexdigest()
    with open(path, "wb") as f:
        data.tofile(f)
        f.flush()
        os.fsync(f.fileno())
    return FileInfo(len(view), digest)


def write_keywords(path: str, keywords: StoredTerms) -> FileInfo:
    """``keywords.u32`` (FMT-15): the lengths, then the term ids, little-endian uint32."""
    data = array("I", keywords.lengths) if keywords.lengths.typecode != "I" else keywords.lengths
    terms = array("I", keywords.terms) if keywords.terms.typecode != "I" else keywords.terms
    if sys.byteorder == "big":
        data, terms = array("I", data), array("I", terms)
        data.byteswap()
        terms.byteswap()
    digest = hashlib.sha256(memoryview(data).cast("B"))
    digest.update(memoryview(terms).cast("B"))
    with open(path, "wb") as f:
        data.tofile(f)
        terms.tofile(f)
        f.flush()
        os.fsync(f.fileno())
    return FileInfo(4 * (len(data) + len(terms)), digest.hexdigest())


def read_keywords(path: str, info: FileInfo, doc_count: int, terms_version: str) -> StoredTerms:
    """``keywords.u32`` checked whole: ``doc_count`` lengths, then exactly as many term ids as the
    lengths of the indexed documents add up to (every uint32 is a term id)."""
    data = _checked_file(path, info, KEYWORDS)
    if len(data) % 4 or len(data) < 4 * doc_count:
        raise FormatError(f"{KEYWORDS} size {len(data)} is not 4 x (doc_count {doc_count} + the number of terms)")
    lengths, terms = array("I"), array("I")
    lengths.frombytes(data[: 4 * doc_count])
    terms.frombytes(data[4 * doc_count :])
    if sys.byteorder == "big":
        lengths.byteswap()
        terms.byteswap()
    blank = lengths.count(NOT_INDEXED)
    if sum(lengths) - blank * NOT_INDEXED != len(terms):
        raise FormatError(f"{KEYWORDS}: the document lengths do not add up to its {len(terms)} term ids")
    return StoredTerms(terms_version, lengths, terms)


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a string, got {type(value).__name__}")
    return value


def _int(value: object, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FormatError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _exact_keys(obj: object, required: Sequence[str], what: str, optional: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise FormatError(f"{what} lacks {', '.join(missing)}")
    extra = sorted(set(obj) - set(required) - set(optional))
    if extra:
        raise FormatError(f"{what} has unknown keys {', '.join(map(repr, extra))}")
    return obj


def _checked_file(path: str, info: FileInfo, what: str) -> bytes:
    """Read ``path`` whole after checking its size first, then check its SHA-256."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != info.size:
                raise FormatError(f"{what} has {size} bytes; the manifest says {info.size}")
            data = f.read(info.size + 1)
    except (IsADirectoryError, NotADirectoryError):
        raise FormatError(f"{what} at {path} is not a regular file") from None
    if len(data) != info.size:
        raise FormatError(f"{what} changed size while being read")
    if hashlib.sha256(data).hexdigest() != info.sha256:
        raise FormatError(f"{what} does not match its SHA-256 in the manifest")
    return data


def read_documents(path: str, info: FileInfo, doc_count: int) -> tuple[Record, ...]:
    data = _checked_file(path, info, DOCUMENTS)
    if doc_count == 0:
        if data:
            raise FormatError(f"{DOCUMENTS} must be empty for doc_count 0")
        return ()
    if not data.endswith(b"\n"):
        raise FormatError(f"{DOCUMENTS} must end with a newline")
    lines = data[:-1].split(b"\n")
    if len(lines) != doc_count:
        raise FormatError(f"{DOCUMENTS} has {len(lines)} lines; the manifest says doc_count {doc_count}")
    records: list[Record] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, start=1):
        obj = loads_strict(line, f"{DOCUMENTS} line {n}")
        if type(obj) is not dict or obj.keys() != _ALL_DOC_KEYS:  # fast path: the shape writers produce
            obj = _exact_keys(obj, ("id", "text"), f"{DOCUMENTS} line {n}", ("metadata", "payload"))
        doc_id, text, metadata, payload = obj["id"], obj["text"], obj.get("metadata"), obj.get("payload")
        if (
            type(doc_id) is not str
            or doc_id in seen
            or type(text) is not str
            or (payload is not None and type(payload) is not str)
            or (metadata is not None and (type(metadata) is not dict or not _all_str(metadata.values())))
        ):
            _explain_document(n, doc_id, text, metadata, payload, seen)
        seen.add(doc_id)
        records.append(Record(doc_id, text, metadata, payload))
    return tuple(records)


_ALL_DOC_KEYS: Final = frozenset(("id", "text", "metadata", "payload"))


def _all_str(values: Any) -> bool:
    return all(type(v) is str for v in values)


def _explain_document(n: int, doc_id: Any, text: Any, metadata: Any, payload: Any, seen: set[str]) -> None:
    """Raise the precise FormatError for a document line that failed the fast checks."""
    what = f"{DOCUMENTS} line {n}"
    _str(doc_id, f"{what}: id")
    if doc_id in seen:
        raise FormatError(f"{what}: duplicate id {doc_id!r}")
    _str(text, f"{what}: text")
    if payload is not None:
        _str(payload, f"{what}: payload")
    if not isinstance(metadata, dict):
        raise FormatError(f"{what}: metadata must be an object of strings or null")
    for key, value in metadata.items():
        _str(value, f"{what}: metadata[{key!r}]")
    raise FormatError(f"{what}: invalid document")  # pragma: no cover - one check above always fires


def _check_finite(raw: bytes) -> None:
    """Every little-endian float32 in ``raw`` is finite (exponent bits not all ones).

    Runs at C speed: only words whose top byte is 0x7F/0xFF are looked at one by one.
    """
    high = raw[3::4]
    for top in (0x7F, 0xFF):
        start = high.find(top)
        while start != -1:
            if raw[4 * start + 2] & 0x80:
                raise FormatError(f"{VECTORS} component {start} is not a finite float32 (NaN or infinity)")
            start = high.find(top, start + 1)


def read_vectors(path: str, info: FileInfo) -> array:  # type: ignore[type-arg]
    data = _checked_file(path, info, VECTORS)
    if len(data) % 4:
        raise FormatError(f"{VECTORS} size {len(data)} is not a multiple of 4")
    _check_finite(data)
    vectors = array("f")
    vectors.frombytes(data)
    if sys.byteorder == "big":
        vectors.byteswap()
    return vectors


# -- manifest (FMT-4) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    index_name: str
    index_id: str
    version: str
    model_id: str
    embedder: Optional[EmbedderFingerprint]
    dimension: Optional[int]
    doc_count: int
    created_at: str
    updated_at: str
    documents: FileInfo
    vectors: FileInfo
    keywords: Optional[FileInfo] = None  # format_version 2 (FMT-15)
    terms_version: str = ""

    def to_json(self) -> bytes:
        files: dict[str, Any] = {
            DOCUMENTS: {"bytes": self.documents.size, "sha256": self.documents.sha256},
            VECTORS: {"bytes": self.vectors.size, "sha256": self.vectors.sha256, "dtype": VECTOR_DTYPE},
        }
        if self.keywords is not None:
            files[KEYWORDS] = {
                "bytes": self.keywords.size,
                "sha256": self.keywords.sha256,
                "dtype": KEYWORDS_DTYPE,
                "terms": self.terms_version,
            }
        body = {
            "format": MANIFEST_FORMAT,
            "format_version": 1 if self.keywords is None else 2,
            "index_name": self.index_name,
            "index_id": self.index_id,
            "version": self.version,
            "model_id": self.model_id,
            "embedder": None if self.embedder is None else self.embedder.as_dict(),
            "dimension": self.dimension,
            "doc_count": self.doc_count,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "files": files,
        }
        try:
            text = json.dumps(body, ensure_ascii=False, indent=2, allow_nan=False)
            return (text + "\n").encode("utf-8")
        except UnicodeEncodeError:
            return (json.dumps(body, ensure_ascii=True, indent=2, allow_nan=False) + "\n").encode("ascii")

    def summary(self) -> IndexSummary:
        return IndexSummary(
            self.index_name,
            self.model_id,
            self.doc_count,
            self.version,
            self.created_at,
            self.updated_at,
            index_id=self.index_id,
            embedder=self.embedder,
            dimension=self.dimension,
        )


def _timestamp(value: object, what: str) -> str:
    text = _str(value, what)
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise FormatError(f"{what} is not an ISO-8601 timestamp: {text!r}") from None
    return text


def _file_info(obj: object, what: str, dtype: bool) -> FileInfo:
    fields = _exact_keys(obj, ("bytes", "sha256", *(("dtype",) if dtype else ())), what)
    sha = _str(fields["sha256"], f"{what}.sha256")
    if not _SHA_RE.match(sha):
        raise FormatError(f"{what}.sha256 must be 64 lower-case hex digits")
    if dtype and fields["dtype"] != VECTOR_DTYPE:
        raise FormatError(f"{what}.dtype must be {VECTOR_DTYPE!r}, got {fields['dtype']!r}")
    return FileInfo(_int(fields["bytes"], f"{what}.bytes"), sha)


def _fingerprint(obj: object) -> EmbedderFingerprint:
    fields = _exact_keys(obj, ("backend", "version", "dimension", "weights_sha256"), "manifest.embedder")
    backend = _str(fields["backend"], "manifest.embedder.backend")
    if not backend:
        raise FormatError("manifest.embedder.backend must not be empty")
    return EmbedderFingerprint(
        backend,
        _str(fields["version"], "manifest.embedder.version"),
        _int(fields["dimension"], "manifest.embedder.dimension", 1),
        _str(fields["weights_sha256"], "manifest.embedder.weights_sha256"),
    )


def parse_manifest(data: bytes, *, name: Optional[str], version: str) -> Manifest:
    """Validate every field of a manifest read from the version directory ``version`` of ``name``
    (``name`` None: any valid name; the caller checks it maps to the directory)."""
    obj = _versioned_object(data, MANIFEST, MANIFEST_VERSIONS)
    keys = ("format", "format_version", "index_name", "index_id", "version", "model_id", "embedder", "dimension",
            "doc_count", "created_at", "updated_at", "files")  # fmt: skip
    m = _exact_keys(obj, keys, MANIFEST)
    if m["format"] != MANIFEST_FORMAT:
        raise FormatError(f"manifest.format must be {MANIFEST_FORMAT!r}, got {m['format']!r}")
    stored_name = _str(m["index_name"], "manifest.index_name")
    try:
        validate_index_name(stored_name)
    except InvalidArgumentError:
        raise FormatError(f"manifest.index_name {stored_name!r} is not a valid index name") from None
    if name is not None and stored_name != name:
        raise FormatError(f"manifest.index_name is {stored_name!r}, expected {name!r}")
    index_id = _str(m["index_id"], "manifest.index_id")
    if not _ID_RE.match(index_id):
        raise FormatError("manifest.index_id must be 32 lower-case hex digits")
    if m["version"] != version:
        raise FormatError(f"manifest.version is {m['version']!r}, but it lives in version {version!r}")
    model_id = _str(m["model_id"], "manifest.model_id")
    if model_id not in MODEL_IDS:
        raise FormatError(f"manifest.model_id {model_id!r} is not one of {', '.join(MODEL_IDS)}")
    doc_count = _int(m["doc_count"], "manifest.doc_count")
    dimension = None if m["dimension"] is None else _int(m["dimension"], "manifest.dimension", 1)
    if model_id == CUSTOM:
        if m["embedder"] is not None:
            raise FormatError("manifest.embedder must be null for a custom index")
        embedder = None
        if (dimension is None) != (doc_count == 0):
            raise FormatError("manifest.dimension of a custom index is null exactly when doc_count is 0")
    else:
        embedder = _fingerprint(m["embedder"])
        if dimension != embedder.dimension:
            raise FormatError(f"manifest.dimension {dimension!r} differs from the embedder's {embedder.dimension}")
    names = (DOCUMENTS, VECTORS, KEYWORDS) if m["format_version"] == 2 else (DOCUMENTS, VECTORS)
    files = _exact_keys(m["files"], names, "manifest.files")
    documents = _file_info(files[DOCUMENTS], f"manifest.files[{DOCUMENTS!r}]", dtype=False)
    vectors = _file_info(files[VECTORS], f"manifest.files[{VECTORS!r}]", dtype=True)
    expected = 4 * (dimension or 0) * doc_count
    if vectors.size != expected:
        raise FormatError(f"{VECTORS} must hold {doc_count} x {dimension or 0} float32 = {expected} bytes")
    keywords, terms_version = None, ""
    if KEYWORDS in names:
        what = f"manifest.files[{KEYWORDS!r}]"
        fields = _exact_keys(files[KEYWORDS], ("bytes", "sha256", "dtype", "terms"), what)
        if fields["dtype"] != KEYWORDS_DTYPE:
            raise FormatError(f"{what}.dtype must be {KEYWORDS_DTYPE!r}, got {fields['dtype']!r}")
        terms_version = _str(fields["terms"], f"{what}.terms")
        keywords = _file_info({"bytes": fields["bytes"], "sha256": fields["sha256"]}, what, dtype=False)
        if keywords.size < 4 * doc_count:
            raise FormatError(f"{KEYWORDS} must hold at least doc_count {doc_count} uint32 lengths")
    return Manifest(
        stored_name,
        index_id,
        version,
        model_id,
        embedder,
        dimension,
        doc_count,
        _timestamp(m["created_at"], "manifest.created_at"),
        _timestamp(m["updated_at"], "manifest.updated_at"),
        documents,
        vectors,
        keywords,
        terms_version,
    )


# -- the pointer (FMT-7) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pointer:
    version: str
    manifest_sha256: str

    @property
    def seq(self) -> int:
        return int(self.version[:10])

    def to_json(self) -> bytes:
        return dumps_line(
            {"format_version": FORMAT_VERSION, "version": self.version, "manifest_sha256": self.manifest_sha256}
        )


def parse_pointer(data: bytes) -> Pointer:
    obj = _versioned_object(data, POINTER)
    p = _exact_keys(obj, ("format_version", "version", "manifest_sha256"), POINTER)
    version = _str(p["version"], f"{POINTER}.version")
    sha = _str(p["manifest_sha256"], f"{POINTER}.manifest_sha256")
    if not _VERSION_RE.match(version):
        raise FormatError(f"{POINTER}.version {version!r} is not <10 digits>-<8 hex digits>")
    if not _SHA_RE.match(sha):
        raise FormatError(f"{POINTER}.manifest_sha256 must be 64 lower-case hex digits")
    return Pointer(version, sha)


# -- locking -------------------------------------------------------------------------------------


@contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """An exclusive inter-process lock on the file ``path`` (released when the process dies)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError as exc:
                    if exc.errno != errno.EDEADLK:
                        raise
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- the index directory (FMT-8..FMT-12) -------------------------------------------------------

MISSING: Final = "missing"


class IndexDirectory:
    """All versions of one index under ``path``: publish, read, summarise, delete, collect.

    ``keep_versions`` and ``grace_seconds`` bound garbage collection: a superseded version is
    removed only when it is not among the newest ``keep_versions`` *and* the version that
    replaced it was published more than ``grace_seconds`` ago, so a reader that saw the old
    pointer has that long to open the files (FMT-12). Readers that lose the race anyway retry.
    """

    READ_ATTEMPTS: Final = 20

    def __init__(self, path: str, name: Optional[str], *, keep_versions: int = 2, grace_seconds: float = 60.0) -> None:
        self.path = path
        self.name = name
        self.keep_versions = max(1, keep_versions)
        self.grace_seconds = grace_seconds

    def _p(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    # -- reading ----------------------------------------------------------------------------

    def read_pointer(self) -> Optional[Pointer]:
        try:
            data = read_bytes(self._p(POINTER), MAX_POINTER_BYTES, POINTER)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise FormatError(f"{self.path} is not a directory") from None
        return parse_pointer(data)

    def _manifest(self, pointer: Pointer) -> Manifest:
        data = read_bytes(self._p(VERSIONS, pointer.version, MANIFEST), MAX_MANIFEST_BYTES, MANIFEST)
        if hashlib.sha256(data).hexdigest() != pointer.manifest_sha256:
            raise FormatError(f"{MANIFEST} of version {pointer.version} does not match the SHA-256 in {POINTER}")
        manifest = parse_manifest(data, name=self.name, version=pointer.version)
        if self.name is None and child_path(os.path.dirname(self.path), manifest.index_name) != self.path:
            raise FormatError(f"manifest names index {manifest.index_name!r}, which belongs in another directory")
        return manifest

    def _load(self, pointer: Pointer) -> StoredIndex:
        manifest = self._manifest(pointer)
        folder = self._p(VERSIONS, pointer.version)
        records = read_documents(os.path.join(folder, DOCUMENTS), manifest.documents, manifest.doc_count)
        vectors = read_vectors(os.path.join(folder, VECTORS), manifest.vectors)
        keywords = None
        if manifest.keywords is not None:
            path = os.path.join(folder, KEYWORDS)
            keywords = read_keywords(path, manifest.keywords, manifest.doc_count, manifest.terms_version)
        return StoredIndex(
            manifest.index_name,
            manifest.model_id,
            manifest.embedder,
            manifest.dimension,
            records,
            vectors,
            version=manifest.version,
            created_at=manifest.created_at,
            updated_at=manifest.updated_at,
            index_id=manifest.index_id,
            keywords=keywords,
        )

    def _consistent(self, fn: Any) -> Any:
        """Run ``fn(pointer)`` against the current version, retrying when a concurrent writer
        replaced and collected that version mid-read (FMT-9)."""
        for _ in range(self.READ_ATTEMPTS):
            pointer = self.read_pointer()
            if pointer is None:
                return None
            try:
                return fn(pointer)
            except FileNotFoundError:
                if self.read_pointer() == pointer:
                    raise FormatError(f"version {pointer.version} named by {POINTER} is incomplete") from None
        raise FormatError(f"{self.path} changed {self.READ_ATTEMPTS} times while being read")

    def read(self) -> Optional[StoredIndex]:
        """The current version, validated, or None when the index does not exist."""
        result: Optional[StoredIndex] = self._consistent(self._load)
        return result

    def read_summary(self) -> Optional[IndexSummary]:
        """Name, model, counts and version from the manifest alone (no data files read)."""
        manifest: Optional[Manifest] = self._consistent(self._manifest)
        return None if manifest is None else manifest.summary()

    # -- writing ----------------------------------------------------------------------------

    def publish(self, index: StoredIndex, expect_version: Optional[str] = None) -> StoredIndex:
        assert self.name is not None, "publishing needs the index name"
        """Write ``index`` as a new version and make it current, atomically (FMT-8).

        ``expect_version``: None publishes unconditionally; ``""`` only if the index does not
        exist; otherwise only if the current version is exactly that (else ``IndexConflict``).
        """
        count = len(index.records)
        dimension = index.dimension if count or index.model_id != CUSTOM else None
        _check_writable(index, self.name, dimension)
        os.makedirs(self._p(VERSIONS), exist_ok=True)
        os.makedirs(self._p(STAGING), exist_ok=True)
        staging = self._p(STAGING, uuid.uuid4().hex)
        os.mkdir(staging)
        try:
            documents = write_documents(os.path.join(staging, DOCUMENTS), index.records)
            vectors = write_vectors(os.path.join(staging, VECTORS), index.vectors)
            keywords = None
            if index.keywords is not None:
                keywords = write_keywords(os.path.join(staging, KEYWORDS), index.keywords)
            with exclusive_lock(self._p(LOCK)):
                return self._commit(index, staging, documents, vectors, keywords, dimension, expect_version)
        finally:
            if os.path.lexists(staging):
                shutil.rmtree(staging, ignore_errors=True)

    def _commit(
        self,
        index: StoredIndex,
        staging: str,
        documents: FileInfo,
        vectors: FileInfo,
        keywords: Optional[FileInfo],
        dimension: Optional[int],
        expect_version: Optional[str],
    ) -> StoredIndex:
        previous: Optional[Manifest] = None
        try:
            pointer = self.read_pointer()
            if pointer is not None:
                previous = self._manifest(pointer)
        except (FormatError, FileNotFoundError):
            if expect_version is not None:
                raise
            pointer = None  # an unconditional push repairs a damaged index
        current = "" if pointer is None else pointer.version
        if expect_version is not None and expect_version != current:
            raise IndexConflict(index.name, expect_version, current)
        seq = max([0 if pointer is None else pointer.seq, *(int(v[:10]) for v in self._versions())]) + 1
        version = f"{seq:010d}-{uuid.uuid4().hex[:8]}"
        stamp = now_iso()
        manifest = Manifest(
            index.name,
            previous.index_id if previous else uuid.uuid4().hex,
            version,
            index.model_id,
            index.embedder,
            dimension,
            len(index.records),
            previous.created_at if previous else stamp,
            stamp,
            documents,
            vectors,
            keywords,
            "" if index.keywords is None else index.keywords.version,
        )
        body = manifest.to_json()
        with open(os.path.join(staging, MANIFEST), "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(staging)
        os.rename(staging, self._p(VERSIONS, version))
        fsync_dir(self._p(VERSIONS))
        atomic_write(self._p(POINTER), Pointer(version, hashlib.sha256(body).hexdigest()).to_json())
        self._collect(version)
        return replace(
            index,
            dimension=dimension,
            version=version,
            created_at=manifest.created_at,
            updated_at=manifest.updated_at,
            index_id=manifest.index_id,
        )

    def delete(self) -> bool:
        """Remove the pointer (the index is gone for every reader at once), then its versions."""
        if not os.path.isdir(self.path):
            return False
        with exclusive_lock(self._p(LOCK)):
            try:
                os.unlink(self._p(POINTER))
            except FileNotFoundError:
                return False
            fsync_dir(self.path)
            for version in self._versions():
                shutil.rmtree(self._p(VERSIONS, version), ignore_errors=True)
            return True

    # -- garbage collection (FMT-12) -----------------------------------------------------------

    def _versions(self) -> list[str]:
        try:
            names = os.listdir(self._p(VERSIONS))
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _VERSION_RE.match(n))

    def _collect(self, current: str) -> None:
        """Called under the lock right after publishing ``current``. Best effort: errors ignored."""
        now = time.time()
        versions = self._versions()
        old = [v for v in versions[: -self.keep_versions] if v != current]
        for v in old:
            newer = versions[versions.index(v) + 1]
            try:
                superseded_at = os.stat(self._p(VERSIONS, newer)).st_mtime
            except OSError:
                continue
            if now - superseded_at >= self.grace_seconds:
                shutil.rmtree(self._p(VERSIONS, v), ignore_errors=True)
        for folder, prefix in ((self._p(STAGING), ""), (self.path, f".{POINTER}.tmp-")):
            try:
                entries = os.listdir(folder)
            except OSError:
                continue
            for entry in entries:
                if prefix and not entry.startswith(prefix):
                    continue
                target = os.path.join(folder, entry)
                if now - _newest_mtime(target) >= STAGING_GRACE_SECONDS:
                    if os.path.isdir(target):
                        shutil.rmtree(target, ignore_errors=True)
                    else:
                        _unlink_quietly(target)


def _check_writable(index: StoredIndex, name: str, dimension: Optional[int]) -> None:
    """Never write what a reader would reject (the writer-side half of FMT-4)."""
    problem = ""
    if index.name != name:
        problem = f"index name {index.name!r} written to the directory of {name!r}"
    elif index.model_id not in MODEL_IDS:
        problem = f"unknown model id {index.model_id!r}"
    elif (index.embedder is None) != (index.model_id == CUSTOM):
        problem = "an embedder fingerprint is required exactly for built-in models"
    elif index.embedder is not None and dimension != index.embedder.dimension:
        problem = f"dimension {dimension} differs from the embedder's {index.embedder.dimension}"
    elif index.model_id == CUSTOM and len(index.records) and not dimension:
        problem = "a custom index with documents needs a dimension"
    elif len(index.vectors) != (dimension or 0) * len(index.records):
        problem = f"{len(index.vectors)} vector values for {len(index.records)} x {dimension}"
    elif len({r.id for r in index.records}) != len(index.records):
        problem = "document ids must be unique"
    elif index.keywords is not None and not _terms_fit(index.keywords, len(index.records)):
        problem = "the keyword terms do not match the documents"
    if problem:
        raise internal(f"refusing to write index {index.name!r}: {problem}")


def _terms_fit(keywords: StoredTerms, doc_count: int) -> bool:
    lengths = keywords.lengths
    blank = lengths.count(NOT_INDEXED)
    return len(lengths) == doc_count and sum(lengths) - blank * NOT_INDEXED == len(keywords.terms)


def _newest_mtime(path: str) -> float:
    try:
        newest = os.stat(path).st_mtime
        if os.path.isdir(path):
            for entry in os.scandir(path):
                newest = max(newest, entry.stat().st_mtime)
        return newest
    except OSError:
        return time.time()
