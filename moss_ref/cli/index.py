"""``moss-ref index NAME INPUT...``: build or extend an index from files, resumably.

Rules (docs/rules/cli.md):

* CLI-3: inputs as in :mod:`._inputs`;
* CLI-4: progress on standard error (:mod:`._progress`);
* CLI-5: records are committed in batches of ``--batch-size``; each batch is one ``create_index``
  or ``add_docs`` call, so it is stored whole or not at all. Before a batch is committed every
  record of it is checked; a bad record stops the command with ``FILE:LINE: what is wrong``
  (exit status 1) and nothing of its batch is stored (earlier batches stay);
* CLI-6: a re-run skips every record already stored with the same content (id, text, metadata,
  payload, and for a custom index the embedding as float32), so after an interrupt or a fix the
  same command continues where it stopped; changed records are updated (upsert);
* CLI-7: the model is ``--model``; without it an existing index keeps its model, and a new one is
  ``custom`` when the first record carries an embedding, else ``moss-minilm``. A built-in model
  ignores carried embeddings (R-D-4); a custom index needs one on every record, finite, all of
  one length.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from .._client import MossClient
from .._models import CUSTOM, DEFAULT_MODEL_ID, MODEL_IDS
from .._types import DocumentInfo, MutationOptions
from ..stores.base import StoredIndex
from ._command import Command
from ._common import CliError, add_target_arguments, open_client, run_async
from ._inputs import CsvColumns, Item, paragraph_chunker, read_inputs
from ._progress import Progress

__all__ = ["COMMAND", "IndexReport", "index_items"]

EPILOG = """\
examples:
  moss-ref index support docs.jsonl                    # JSON Lines: {"id": ..., "text": ..., "metadata": {...}}
  moss-ref index support faq.csv --id-column qid --text-column answer --metadata-columns topic,lang
  moss-ref index notes ./notes --chunk-size 800         # every .txt/.md under ./notes, chunked
  moss-ref index vecs vectors.jsonl --model custom      # records carry "embedding": [...]

resuming: records are committed in batches (--batch-size); each batch is stored whole or not at all.
After an interrupt or a bad record (reported as FILE:LINE: what is wrong, nothing of its batch stored),
run the same command again: records already stored with the same content are skipped, changed ones
are updated.
"""


@dataclass
class IndexReport:
    """What one run did."""

    model_id: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    batches: int = 0
    stored: dict[str, tuple[object, ...]] = field(default_factory=dict)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the index to build or extend")
    parser.add_argument(
        "inputs", metavar="INPUT", nargs="+", help=".json, .jsonl, .ndjson, .csv, .txt, .md or a folder"
    )
    parser.add_argument("--model", help=f"model id: {', '.join(sorted(MODEL_IDS))} (see CLI-7 for the default)")
    parser.add_argument("--batch-size", type=int, default=500, metavar="N", help="records per atomic commit (500)")
    csv_group = parser.add_argument_group("CSV columns")
    csv_group.add_argument("--id-column", default="id", metavar="COL", help="column holding the id (id)")
    csv_group.add_argument("--text-column", default="text", metavar="COL", help="column holding the text (text)")
    csv_group.add_argument("--metadata-columns", default="", metavar="A,B", help="columns copied into metadata")
    csv_group.add_argument("--embedding-column", metavar="COL", help="column holding a JSON array embedding")
    text_group = parser.add_argument_group("text files (.txt, .md): the chunker= option of add_docs")
    text_group.add_argument("--chunk-size", type=int, default=1000, metavar="CHARS", help="largest chunk (1000)")
    text_group.add_argument("--chunk-overlap", type=int, default=0, metavar="CHARS", help="overlap of cut paragraphs")
    text_group.add_argument("--no-chunking", action="store_true", help="one document per file")
    parser.add_argument("--quiet", action="store_true", help="no progress on standard error")
    add_target_arguments(parser)


def _content(doc: DocumentInfo, custom: bool) -> tuple[object, ...]:
    embedding = tuple(array("f", doc.embedding or []).tolist()) if custom else ()
    return (doc.text, doc.metadata or None, doc.payload, embedding)


def _stored_content(index: StoredIndex) -> dict[str, tuple[object, ...]]:
    custom = index.model_id == CUSTOM
    out: dict[str, tuple[object, ...]] = {}
    for i, record in enumerate(index.records):
        embedding = tuple(index.vector(i).tolist()) if custom else ()
        out[record.id] = (record.text, record.metadata or None, record.payload, embedding)
    return out


def _check(item: Item, model_id: str, dimension: Optional[int]) -> tuple[Optional[DocumentInfo], Optional[int]]:
    """The document to store (built-in: embedding dropped), or CliError ``FILE:LINE: what`` (CLI-5, CLI-7)."""
    if item.doc is None:
        raise CliError(f"{item.where}: {item.error}")
    doc = item.doc
    if model_id != CUSTOM:
        return DocumentInfo(doc.id, doc.text, doc.metadata, None, doc.payload), dimension
    vector = doc.embedding
    if not vector:
        raise CliError(f"{item.where}: record {doc.id!r} has no embedding; every record of a custom index needs one")
    if not all(math.isfinite(x) and abs(x) <= 3.4028234663852886e38 for x in vector):
        raise CliError(f"{item.where}: the embedding of {doc.id!r} holds a value that is not a finite float32")
    if dimension is not None and len(vector) != dimension:
        raise CliError(f"{item.where}: the embedding of {doc.id!r} has {len(vector)} values; the index has {dimension}")
    return doc, len(vector)


def index_items(
    client: MossClient, name: str, items: Sequence[Item], *, model: Optional[str], batch_size: int, progress: Progress
) -> IndexReport:
    """Commit ``items`` to index ``name`` batch by batch (CLI-5, CLI-6, CLI-7)."""
    return run_async(_index(client, name, items, model, batch_size, progress))


async def _index(
    client: MossClient, name: str, items: Sequence[Item], model: Optional[str], batch_size: int, progress: Progress
) -> IndexReport:
    store = client._authenticated_store()
    existing = store.read_index(client.project_id, name)
    report = IndexReport()
    if existing is not None:
        if model is not None and model != existing.model_id:
            raise CliError(f"index {name!r} uses model {existing.model_id!r}; --model {model} does not match it")
        report.model_id = existing.model_id
        report.stored = _stored_content(existing)
        dimension = existing.dimension
    else:
        first = next((i.doc for i in items if i.doc is not None), None)
        report.model_id = model or (CUSTOM if first is not None and first.embedding else DEFAULT_MODEL_ID)
        dimension = None
    custom = report.model_id == CUSTOM
    created = existing is not None
    for start in range(0, len(items), batch_size):
        batch: dict[str, DocumentInfo] = {}
        for item in items[start : start + batch_size]:
            doc, dimension = _check(item, report.model_id, dimension)
            assert doc is not None
            batch[doc.id] = doc  # the last copy of an id wins, as in add_docs
        fresh = [d for d in batch.values() if report.stored.get(d.id) != _content(d, custom)]
        report.unchanged += len(batch) - len(fresh)
        if fresh:
            if created:
                await client.add_docs(name, fresh, MutationOptions(upsert=True))
            else:
                await client.create_index(name, fresh, report.model_id)
                created = True
            for doc in fresh:
                if doc.id in report.stored:
                    report.updated += 1
                else:
                    report.added += 1
                report.stored[doc.id] = _content(doc, custom)
            report.batches += 1
        progress.update(min(start + batch_size, len(items)))
    progress.update(len(items), final=True)
    return report


def _run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1; got {args.batch_size}")
    chunker = None if args.no_chunking else paragraph_chunker(args.chunk_size, args.chunk_overlap)
    metadata = tuple(c.strip() for c in args.metadata_columns.split(",") if c.strip())
    columns = CsvColumns(args.id_column, args.text_column, metadata, args.embedding_column)
    model = None if args.model is None else str(args.model)
    if model is not None and model not in MODEL_IDS:
        raise CliError(f"--model {model!r} is not a model id; choose one of {', '.join(sorted(MODEL_IDS))}")
    items = list(read_inputs(args.inputs, columns, chunker))
    progress = Progress("moss-ref index", len(items), io.StringIO() if args.quiet else sys.stderr)
    with open_client(args) as client:
        report = index_items(client, args.name, items, model=model, batch_size=args.batch_size, progress=progress)
    print(
        f"{args.name}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged "
        f"({len(report.stored)} documents, model {report.model_id})"
    )
    return 0


COMMAND = Command(
    "index",
    "build or extend an index from JSON, JSON Lines, CSV or a folder of .txt/.md files (resumable)",
    _add_arguments,
    _run,
    epilog=EPILOG,
)
