"""Reading ``moss-ref index`` inputs into documents, each with the file and line it came from.

Rules (docs/rules/cli.md):

* CLI-3: an input is a file or a folder. ``.json`` holds a JSON array of document objects or JSON
  Lines (the first character decides, as ``add_docs`` reads JSON text); ``.jsonl``/``.ndjson``
  hold JSON Lines; ``.csv`` has a header row, the id in ``--id-column`` (``id``), the text in
  ``--text-column`` (``text``), metadata from ``--metadata-columns`` (empty cells left out) and
  an optional ``--embedding-column`` holding a JSON array; ``.txt``/``.md``/``.markdown`` files,
  and every such file under a folder (recursively, in sorted order), become documents whose id
  is the path (relative to the folder, ``/``-separated), split by the chunker of
  :func:`paragraph_chunker` into ``<id>#<n>`` chunks with ``parentId`` metadata — the
  library's ``chunker=`` rule (D-15), so ``--no-chunking`` keeps one document per file;
* each object is read with the library's own document rules (``mapping_to_document``), so a
  record is valid here exactly when ``add_docs`` would accept it; a record that is not valid is
  kept as an error located ``FILE:LINE`` (1-based), never skipped silently.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Optional

from .._docs_input import MAX_CHUNK_CHARS, mapping_to_document, to_document_infos
from .._errors import MossError
from .._json_docs import parse_json_docs
from .._types import DocumentInfo
from ._common import UsageError

__all__ = ["CsvColumns", "Item", "read_inputs", "paragraph_chunker"]

TEXT_EXTENSIONS = (".txt", ".md", ".markdown")
JSON_EXTENSIONS = (".json", ".jsonl", ".ndjson")
Chunker = Callable[[str], list[str]]


@dataclass(frozen=True)
class Item:
    """One record: where it came from (``FILE:LINE``) and the document, or what is wrong with it."""

    where: str
    doc: Optional[DocumentInfo]
    error: str = ""


@dataclass(frozen=True)
class CsvColumns:
    id: str = "id"
    text: str = "text"
    metadata: tuple[str, ...] = ()
    embedding: Optional[str] = None


def paragraph_chunker(size: int, overlap: int) -> Chunker:
    """Paragraphs (split at blank lines) packed into chunks of at most ``size`` characters.

    A paragraph longer than ``size`` is cut into windows of ``size`` characters that overlap by
    ``overlap``; whitespace at both ends of a chunk is removed.
    """
    if not 1 <= size <= MAX_CHUNK_CHARS:
        raise UsageError(f"--chunk-size must be between 1 and {MAX_CHUNK_CHARS} characters; got {size}")
    if not 0 <= overlap < size:
        raise UsageError(f"--chunk-overlap must be at least 0 and below --chunk-size ({size}); got {overlap}")

    def chunk(text: str) -> list[str]:
        pieces: list[str] = []
        for paragraph in (p.strip() for p in text.replace("\r\n", "\n").split("\n\n")):
            if len(paragraph) <= size:
                pieces.append(paragraph)
                continue
            step = size - overlap
            pieces.extend(paragraph[start : start + size] for start in range(0, len(paragraph) - overlap, step))
        chunks: list[str] = []
        current = ""
        for piece in (p for p in pieces if p):
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined) <= size:
                current = joined
            else:
                chunks.append(current)
                current = piece
        if current:
            chunks.append(current)
        return [c.strip() for c in chunks if c.strip()]

    return chunk


def read_inputs(paths: Sequence[str], columns: CsvColumns, chunker: Optional[Chunker]) -> Iterator[Item]:
    """Every record of every input, in order (CLI-3)."""
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                os.path.join(folder, name)
                for folder, _, names in os.walk(path)
                for name in names
                if name.lower().endswith(TEXT_EXTENSIONS)
            )
            if not found:
                raise UsageError(f"{path}: the folder holds no .txt, .md or .markdown file")
            for file in found:
                yield from _text_file(file, os.path.relpath(file, path).replace(os.sep, "/"), chunker)
            continue
        if not os.path.exists(path):
            raise UsageError(f"{path}: no such file or folder")
        extension = os.path.splitext(path)[1].lower()
        if extension in JSON_EXTENSIONS:
            yield from _json_file(path, lines=extension != ".json")
        elif extension == ".csv":
            yield from _csv_file(path, columns)
        elif extension in TEXT_EXTENSIONS:
            yield from _text_file(path, path, chunker)
        else:
            raise UsageError(f"{path}: unsupported input; pass .json, .jsonl, .ndjson, .csv, .txt, .md or a folder")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: the file is not valid UTF-8") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def _document(where: str, fields: object) -> Item:
    if not isinstance(fields, dict):
        return Item(where, None, f"expected a document object, got {type(fields).__name__}")
    try:
        return Item(where, mapping_to_document(where, fields))
    except (MossError, TypeError, ValueError) as exc:
        return Item(where, None, str(exc).removeprefix(f"{where}: "))


def _json_object(where: str, text: str) -> Item:
    """One JSON object read as ``add_docs`` reads JSON text (D-9..D-11), located at ``where``."""
    try:
        docs = parse_json_docs(text)
    except (MossError, ValueError) as exc:
        message = str(exc).removeprefix("line 1: ").removeprefix("index 0: ")
        return Item(where, None, message.replace(" at line 1 column ", " at column "))
    if len(docs) != 1:
        return Item(where, None, "expected one JSON object")
    return _document(where, docs[0].fields)


def _json_file(path: str, *, lines: bool) -> Iterator[Item]:
    text = _read(path)
    if not lines and text.lstrip().startswith("["):
        yield from _json_array(path, text)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield _json_object(f"{path}:{number}", line)


def _json_array(path: str, text: str) -> Iterator[Item]:
    """The elements of a JSON array, each located at the line where it starts."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    first = True
    while True:
        position = _skip_space(text, position)
        where = f"{path}:{text.count(chr(10), 0, position) + 1}"
        if position < len(text) and text[position] == "]":
            return
        if not first:
            if position >= len(text) or text[position] != ",":
                yield Item(where, None, "expected ',' or ']' after a document of the JSON array")
                return
            position = _skip_space(text, position + 1)
            where = f"{path}:{text.count(chr(10), 0, position) + 1}"
        first = False
        try:
            _, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield Item(where, None, f"not valid JSON: {exc.msg}")
            return
        if text[position] != "{":
            yield Item(where, None, "expected a document object")
        else:
            yield _json_object(where, text[position:end])
        position = end


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _csv_file(path: str, columns: CsvColumns) -> Iterator[Item]:
    text = _read(path)
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        return
    needed = [columns.id, columns.text, *columns.metadata, *([columns.embedding] if columns.embedding else [])]
    missing = [name for name in needed if name not in header]
    if missing:
        raise UsageError(f"{path}:1: no column {', '.join(map(repr, missing))} in the header {header!r}")
    place = {name: header.index(name) for name in needed}
    line = reader.line_num
    for row in reader:
        where = f"{path}:{line + 1}"
        line = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            yield Item(where, None, f"{len(row)} fields, the header has {len(header)}")
            continue
        fields: dict[str, object] = {"id": row[place[columns.id]], "text": row[place[columns.text]]}
        metadata = {name: row[place[name]] for name in columns.metadata if row[place[name]] != ""}
        if metadata:
            fields["metadata"] = metadata
        if columns.embedding and row[place[columns.embedding]].strip():
            try:
                fields["embedding"] = json.loads(row[place[columns.embedding]])
            except json.JSONDecodeError as exc:
                yield Item(where, None, f"column {columns.embedding!r} is not a JSON array: {exc.msg}")
                continue
        yield _document(where, fields)


def _text_file(path: str, doc_id: str, chunker: Optional[Chunker]) -> Iterator[Item]:
    where = f"{path}:1"
    document = DocumentInfo(doc_id, _read(path))
    if chunker is None:
        yield Item(where, document)
        return
    try:
        chunks = to_document_infos([document], chunker=chunker)
    except (MossError, TypeError, ValueError) as exc:
        yield Item(where, None, str(exc))
        return
    for chunk in chunks:
        yield Item(where, chunk)
