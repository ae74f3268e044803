"""``moss-ref export NAME`` and ``moss-ref import FILE``: an index as JSON Lines, and back.

Rules (docs/rules/cli.md):

* CLI-11: ``export`` writes one stored version (read whole, so consistent) to standard output or
  ``-o FILE``: a header line ``{"moss_ref_export": 1, "name", "model_id", "dimension",
  "doc_count"}``, then one line per document in index order (the order that breaks ranking ties,
  QRY-6) with ``id``, ``text``, ``metadata``, ``payload`` and, for a custom index, ``embedding``
  (each float32 value written as the shortest decimal that reads back to it as a float64);
  built-in models' vectors are not written: they are the model's to make again;
* CLI-12: ``import`` reads that file back (a bad line is reported ``FILE:LINE: what is wrong``
  and nothing is stored) into the index of the header's name or ``--name``, published as one
  version (a session push: all or nothing). An existing index is refused unless ``--replace``.
  Exporting what was imported gives the same bytes (with ``--name``, the same document lines).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any, Optional, TextIO

from .._client import MossClient
from .._docs_input import mapping_to_document
from .._errors import MossError
from .._models import CUSTOM, MODEL_IDS
from .._types import DocumentInfo
from ..stores.base import StoredIndex
from ._command import Command
from ._common import CliError, add_target_arguments, open_client, run_async

__all__ = ["EXPORT", "EXPORT_FORMAT", "IMPORT", "export_lines"]

EXPORT_FORMAT = 1
EXPORT_EPILOG = """\
examples:
  moss-ref export support > support.jsonl
  moss-ref export support -o support.jsonl --store ./moss-data
"""
IMPORT_EPILOG = """\
examples:
  moss-ref import support.jsonl                     # recreates index "support"
  moss-ref import support.jsonl --name support-copy --store ./other-store
"""


def _line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def export_lines(index: StoredIndex) -> Iterator[str]:
    """The export of ``index`` (CLI-11), line by line, without newlines."""
    custom = index.model_id == CUSTOM
    yield _line(
        {
            "moss_ref_export": EXPORT_FORMAT,
            "name": index.name,
            "model_id": index.model_id,
            "dimension": index.dimension,
            "doc_count": index.doc_count,
        }
    )
    for i, record in enumerate(index.records):
        doc: dict[str, Any] = {
            "id": record.id,
            "text": record.text,
            "metadata": record.metadata,
            "payload": record.payload,
        }
        if custom:
            doc["embedding"] = index.vector(i).tolist()
        yield _line(doc)


def _export(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        index = client._authenticated_store().read_index(client.project_id, args.name)
    if index is None:
        raise CliError(f"no index named {args.name!r} in this store")
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as out:
            _write(index, out)
        print(f"{args.name}: {index.doc_count} documents written to {args.output}", file=sys.stderr)
    else:
        _write(index, sys.stdout)
    return 0


def _write(index: StoredIndex, out: TextIO) -> None:
    for line in export_lines(index):
        out.write(line + "\n")


def _read_export(path: str) -> tuple[dict[str, Any], list[DocumentInfo]]:
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read the file: {exc}") from None
    if not lines:
        raise CliError(f"{path}:1: empty file; expected a moss-ref export header")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}:1: the header is not valid JSON: {exc.msg}") from None
    if not isinstance(header, dict) or header.get("moss_ref_export") != EXPORT_FORMAT:
        raise CliError(f'{path}:1: not a moss-ref export (expected {{"moss_ref_export": {EXPORT_FORMAT}, ...}})')
    if header.get("model_id") not in MODEL_IDS:
        raise CliError(f"{path}:1: unknown model_id {header.get('model_id')!r}")
    docs: list[DocumentInfo] = []
    custom = header["model_id"] == CUSTOM
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        where = f"{path}:{number}"
        try:
            fields = json.loads(text)
            if not isinstance(fields, dict):
                raise CliError(f"{where}: expected a document object")
            doc = mapping_to_document(where, fields)
        except json.JSONDecodeError as exc:
            raise CliError(f"{where}: not valid JSON: {exc.msg}") from None
        except (MossError, TypeError, ValueError) as exc:
            raise CliError(str(exc)) from None
        if custom and not doc.embedding:
            raise CliError(f"{where}: document {doc.id!r} of a custom index has no embedding")
        docs.append(doc if custom else DocumentInfo(doc.id, doc.text, doc.metadata, None, doc.payload))
    if header.get("doc_count") is not None and header["doc_count"] != len(docs):
        raise CliError(f"{path}: the header says {header['doc_count']} documents; the file holds {len(docs)}")
    return header, docs


async def _publish(client: MossClient, name: str, model_id: str, docs: list[DocumentInfo], replace: bool) -> None:
    store = client._authenticated_store()
    if not replace and store.read_summary(client.project_id, name) is not None:
        raise CliError(f"index {name!r} already exists; pass --replace to overwrite it, or --name NEW")
    session = await client.session(name, model_id, auto_load_on_init=False)
    await session.add_docs(docs)
    await session.push_index()


def _import(args: argparse.Namespace) -> int:
    header, docs = _read_export(args.file)
    name: Optional[str] = args.name or header.get("name")
    if not isinstance(name, str) or not name:
        raise CliError(f"{args.file}:1: the header names no index; pass --name")
    if not docs:
        raise CliError(f"{args.file}: no documents to import (an index needs at least one)")
    with open_client(args) as client:
        run_async(_publish(client, name, str(header["model_id"]), docs, args.replace))
    print(f"{name}: {len(docs)} documents imported (model {header['model_id']})")
    return 0


def _add_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the index to export")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    add_target_arguments(parser, embedder=False)


def _add_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a file written by moss-ref export")
    parser.add_argument("--name", help="the index to create (default: the name in the file)")
    parser.add_argument("--replace", action="store_true", help="overwrite an existing index of that name")
    add_target_arguments(parser)


EXPORT = Command(
    "export", "write an index as JSON Lines (to standard output or -o FILE)", _add_export, _export, epilog=EXPORT_EPILOG
)
IMPORT = Command("import", "create an index from a moss-ref export file", _add_import, _import, epilog=IMPORT_EPILOG)
