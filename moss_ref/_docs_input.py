"""Document input (``DocsInput``): everything ``add_docs``/``create_index`` accept, as documents.

:func:`to_document_infos` implements D-1..D-19 of MOSS-BEHAVIOUR.md §5; the choices made where
Moss is silent are the IN-rules of ``docs/rules/docs_input.md``. Accepted forms:

- an iterable of ``DocumentInfo`` (passed through as they are, D-1) or of mappings (D-2..D-8);
- JSON text as ``str`` or UTF-8 ``bytes``: a JSON array or JSON Lines (D-9..D-11, ``_json_docs``);
- an ``os.PathLike`` to a ``.json``/``.jsonl``/``.ndjson`` file, or an iterable of them (D-12).

The whole input is read before anything is returned: an error anywhere means no documents.
The reference has no native chunker: ``chunking=`` and ``.txt``/``.md``/``.markdown`` files
without a ``chunker=`` raise ``MossError`` code ``INTERNAL`` (R-API-2). A ``chunker=`` callable
works as in Moss (D-15, D-16), for text files too.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, cast

from ._errors import internal, invalid
from ._json_docs import FILE_EXTENSIONS, parse_json_docs
from ._numbers import positional
from ._types import DocumentInfo

__all__ = ["to_document_infos", "mapping_to_document", "MAX_CHUNK_CHARS"]

#: Longest chunk a chunker may return (D-16).
MAX_CHUNK_CHARS = 2000

_I64_MIN = -(2**63)
_U64_END = 2**64
_JSON_EXTENSIONS = (".json", ".jsonl", ".ndjson")
_NO_NATIVE_CHUNKING = (
    "moss_ref, the reference implementation, does not provide native chunking; "
    "pass chunker=<a function that splits a str into a list of str> instead"
)

Chunker = Callable[[str], list[str]]


def to_document_infos(
    docs: object,
    *,
    chunker: Chunker | None = None,
    chunking: object | None = None,
    model_id: str | None = None,
) -> list[DocumentInfo]:
    """Turn any ``DocsInput`` into a list of documents, all or nothing.

    ``model_id`` is only used for D-19. Without a chunker, ``DocumentInfo`` items come back as
    the same objects, and items that are neither documents, mappings nor paths (say ``str``)
    come back unchanged for the caller's validation to reject (D-14).
    """
    _check_chunk_options(chunker, chunking, model_id)
    items = _read_docs(docs, text_files=chunker is not None)
    if chunker is None:
        return cast("list[DocumentInfo]", items)
    return _chunk_all(items, chunker)


def _check_chunk_options(chunker: object, chunking: object, model_id: str | None) -> None:
    """D-19, D-18, D-16 (callable), then D-17 (no native chunking here), before any parsing."""
    if (chunker is not None or chunking is not None) and model_id == "custom":
        raise ValueError("chunker and chunking cannot be used with model_id='custom': chunks have no embeddings")
    if chunker is not None and chunking is not None:
        raise TypeError("pass chunker or chunking, not both")
    if chunker is not None and not callable(chunker):
        raise TypeError("chunker must be callable")
    if chunking is not None:
        raise internal(f"chunking= is not supported: {_NO_NATIVE_CHUNKING}")


# -- what kind of input (D-2, D-9, D-12, D-14) ------------------------------------------------


def _read_docs(docs: object, *, text_files: bool) -> list[object]:
    """Dispatch on the form of ``docs``; a plain ``str`` is always JSON text (D-12)."""
    if isinstance(docs, str):
        return _json_documents(docs, source="", hint=True)
    if isinstance(docs, (bytes, bytearray, memoryview)):
        return _json_documents(_decode_bytes(bytes(docs)), source="", hint=True)
    if isinstance(docs, Mapping):
        raise TypeError("docs must be a list of documents, not a single dict")
    if isinstance(docs, os.PathLike):
        return _read_path(docs, text_files=text_files)
    try:
        iterator = iter(docs)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"docs must be a list of documents, JSON text or a path, got {type(docs).__name__}") from None
    return _read_items(list(iterator), text_files=text_files)


def _read_items(items: list[object], *, text_files: bool) -> list[object]:
    """D-12 (all paths), D-2 (all mappings) or D-1/D-14 (anything else, unchanged)."""
    paths = [item for item in items if isinstance(item, os.PathLike)]
    if paths:
        if len(paths) != len(items):
            raise TypeError("docs mixes file paths with other items; pass only paths or only documents")
        return [doc for path in paths for doc in _read_path(path, text_files=text_files)]
    mappings = [item for item in items if isinstance(item, Mapping)]
    if mappings:
        if len(mappings) != len(items):
            raise TypeError("docs mixes dicts with other items; pass only dicts or only DocumentInfo objects")
        return [mapping_to_document(f"index {i}", item) for i, item in enumerate(mappings)]
    return items


def _decode_bytes(data: bytes) -> str:
    """D-9: bytes must be UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("docs bytes are not valid UTF-8") from None


def _json_documents(text: str, *, source: str, hint: bool) -> list[object]:
    """D-9..D-11: JSON text to documents; field errors are InvalidArgumentErrors here (text is an argument)."""
    documents: list[object] = []
    for doc in parse_json_docs(text, source=source, hint=hint):
        try:
            documents.append(mapping_to_document(source + doc.where, doc.fields))
        except TypeError as exc:
            raise invalid(str(exc)) from None
    return documents


# -- files (D-12, D-13) -------------------------------------------------------------------------


def _read_path(path: os.PathLike[Any], *, text_files: bool) -> list[object]:
    """D-12: the extension (any case) picks the reader; text files need a chunker here (D-13)."""
    name = os.fsdecode(os.fspath(path))
    extension = os.path.splitext(name)[1].lower()
    if extension not in FILE_EXTENSIONS:
        raise invalid(
            f"{name}: unsupported file type; pass .json, .jsonl, .ndjson, .txt, .md or .markdown files, "
            "or use create_index_from_files for PDF and DOCX"
        )
    content = _read_text_file(name)
    if extension in _JSON_EXTENSIONS:
        return _json_documents(content, source=f"{name}: ", hint=False)
    if not text_files:
        raise internal(f"{name}: {extension} files need native chunking: {_NO_NATIVE_CHUNKING}")
    return [DocumentInfo(id=name, text=content.removeprefix("\ufeff"))]


def _read_text_file(name: str) -> str:
    """The file's text; a missing file gives the FileNotFoundError text of D-12."""
    try:
        with open(name, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: No such file or directory (os error 2)") from None
    except OSError as exc:
        raise invalid(f"{name}: cannot read the file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(f"{name}: the file is not valid UTF-8") from None


# -- one mapping (D-2..D-8) ---------------------------------------------------------------------


def mapping_to_document(where: str, item: Mapping[Any, Any]) -> DocumentInfo:
    """D-2: ``id``, ``text``, ``metadata``, ``embedding``, ``payload``, checked in that order.

    ``where`` (``index 3``, ``line 5``, ``docs.json: index 0``) starts every message. Unknown keys
    are ignored; ``None`` counts as absent.
    """
    return DocumentInfo(
        id=_doc_id(where, item.get("id")),
        text=_doc_text(where, item.get("text")),
        metadata=_metadata(where, item.get("metadata")),
        embedding=_embedding(where, item.get("embedding")),
        payload=_payload(where, item.get("payload")),
    )


def _doc_id(where: str, value: object) -> str:
    """D-3: a ``str``, or an integer in the i64/u64 range written in decimal."""
    if value is None:
        raise invalid(f'{where}: missing field "id"')
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if _I64_MIN <= int(value) < _U64_END:
            return str(int(value))
        raise invalid(f'{where}: "id" is an integer out of range')
    raise invalid(f'{where}: "id" must be a string or an integer')


def _doc_text(where: str, value: object) -> str:
    """D-4: a ``str``; empty text is fine here."""
    if value is None:
        raise invalid(f'{where}: missing field "text"')
    if not isinstance(value, str):
        raise invalid(f'{where}: "text" must be a string')
    return value


def _metadata(where: str, value: object) -> dict[str, str] | None:
    """D-5: a mapping with ``str`` keys; ``None`` values are dropped, the rest become text (D-6)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{where}: metadata must be a dict")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}: metadata keys must be str")
        if item is not None:
            result[key] = _metadata_value(where, key, item)
    return result


def _metadata_value(where: str, key: str, value: object) -> str:
    """D-6: ``str`` as is, ``bool`` as ``true``/``false``, integers in decimal, other numbers as floats."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        if _I64_MIN <= int(value) < _U64_END:
            return str(int(value))
        raise invalid(f'{where}: metadata."{key}" is an integer out of range')
    if isinstance(value, (numbers.Real, Decimal)):
        number = _to_float(value)
        if not math.isfinite(number):
            raise invalid(f'{where}: metadata."{key}" must be a finite number')
        return positional(number)
    raise invalid(f'{where}: metadata."{key}" must be a string, number, or boolean')


def _to_float(value: numbers.Real | Decimal) -> float:
    """A float; NaN stays NaN (signalling too) and magnitudes beyond the float range become infinities."""
    if isinstance(value, Decimal) and value.is_nan():
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf if cast(Any, value) > 0 else -math.inf


def _embedding(where: str, value: object) -> list[float] | None:
    """D-7: any iterable of numbers (bools count as 1.0/0.0); NaN, infinities and ``[]`` are kept."""
    if value is None:
        return None
    message = f"{where}: embedding must be a sequence of numbers"
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(message)
    result: list[float] = []
    for component in value:
        if not isinstance(component, (numbers.Real, Decimal)):
            raise TypeError(message)
        result.append(_to_float(component))
    return result


def _payload(where: str, value: object) -> str | None:
    """D-8: a ``str`` as is; any other JSON value as compact JSON that keeps non-ASCII characters."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("Out of range float values are not JSON compliant"):
            reason = "Out of range float values are not JSON compliant"  # newer Pythons append the value
        raise invalid(f"{where}: payload: ValueError: {reason}") from None
    except TypeError as exc:
        raise TypeError(f"{where}: payload is not JSON serializable: TypeError: {exc}") from None
    except RecursionError:
        raise invalid(f"{where}: payload: ValueError: nested too deeply") from None


# -- chunker= (D-15, D-16) ----------------------------------------------------------------------


def _chunk_all(items: list[object], chunker: Chunker) -> list[DocumentInfo]:
    """D-15: every document (files included) is replaced by its chunks, in order."""
    documents: list[DocumentInfo] = []
    for i, item in enumerate(items):
        if not isinstance(item, DocumentInfo):
            raise TypeError(f"docs[{i}] must be a DocumentInfo or dict when a chunker or chunking is given")
        if item.embedding is not None:  # IN-80, for every document before the chunker first runs (IN-87)
            raise invalid(f'cannot chunk document "{item.id}" because it has an embedding')
        documents.append(item)
    return [chunk for doc in documents for chunk in _chunk_document(doc, chunker)]


def _chunk_document(doc: DocumentInfo, chunker: Chunker) -> list[DocumentInfo]:
    """D-15/D-16: ids ``<id>#<n>`` over the non-empty chunks, ``parentId`` metadata, payload copied."""
    chunks = _call_chunker(chunker, doc)
    for n, chunk in enumerate(chunks):
        if len(chunk) > MAX_CHUNK_CHARS:
            raise invalid(
                f'chunk {n} of document "{doc.id}" has {len(chunk)} characters; chunks may have at most '
                f"{MAX_CHUNK_CHARS} (about 512 tokens of English, the embedding model's input limit)"
            )
    kept = [chunk for chunk in chunks if chunk]
    if not kept:
        raise invalid(f"no text to index in: {doc.id}")
    metadata = {**(doc.metadata or {}), "parentId": doc.id}
    return [DocumentInfo(f"{doc.id}#{n}", chunk, metadata, None, doc.payload) for n, chunk in enumerate(kept)]


def _call_chunker(chunker: Chunker, doc: DocumentInfo) -> list[str]:
    """D-16: the chunker must answer synchronously with a list of ``str``."""
    result: object = chunker(doc.text)
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()  # no "coroutine was never awaited" warning
        raise TypeError("chunker must be synchronous; it returned an awaitable")
    if not isinstance(result, list) or not all(isinstance(chunk, str) for chunk in result):
        raise TypeError(f'chunker must return a list of str for document "{doc.id}"')
    return result
