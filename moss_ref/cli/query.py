"""``moss-ref query NAME "text"``: query a stored index as ``MossClient.query`` does.

Rules (docs/rules/cli.md):

* CLI-8: the index is loaded (``load_index``) and queried with ``MossClient.query`` and the
  options given (``--top-k`` 5, ``--alpha`` 0.8, ``--filter`` and ``--embedding`` as JSON); the
  default output is a table (rank, score, id, text, metadata); ``--json`` prints the
  ``SearchResult`` as one JSON object (``docs``, ``query``, ``index_name``, ``time_taken_ms``,
  ``model_id``); ``--explain`` adds why each result ranked where it did (EXPL-6) — as text, or
  under the key ``explain`` with ``--json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any, Optional

from .._client import MossClient
from .._explain import Explanation, format_explanation
from .._types import QueryOptions, SearchResult
from ._command import Command
from ._common import UsageError, add_target_arguments, open_client, run_async

__all__ = ["COMMAND", "result_json", "result_table"]

EPILOG = """\
examples:
  moss-ref query support "how do I get my money back?"
  moss-ref query support "refund" --top-k 3 --filter '{"field": "topic", "condition": {"$eq": "billing"}}'
  moss-ref query support "refund" --explain          # ranks, similarity, BM25 per term, fused score
  moss-ref query vecs "" --embedding '[0.9, 0.1, 0.0]' --json
"""


def _json_argument(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from None


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the index to query")
    parser.add_argument("text", metavar="TEXT", help="the query text")
    parser.add_argument("--top-k", type=int, help="how many results (5)")
    parser.add_argument("--alpha", type=float, help="1.0 vector only, 0.0 keywords only (0.8)")
    parser.add_argument("--filter", metavar="JSON", help="a metadata filter, as in QueryOptions.filter")
    parser.add_argument("--embedding", metavar="JSON", help="the query vector, a JSON array (custom indexes)")
    parser.add_argument("--explain", action="store_true", help="show why each result ranked where it did")
    parser.add_argument("--json", action="store_true", help="print the SearchResult as JSON")
    add_target_arguments(parser)


def result_json(result: SearchResult, explanation: Optional[Explanation] = None) -> dict[str, Any]:
    """The ``SearchResult`` as JSON-ready data (CLI-8)."""
    out: dict[str, Any] = {
        "docs": [asdict(doc) for doc in result.docs],
        "query": result.query,
        "index_name": result.index_name,
        "time_taken_ms": result.time_taken_ms,
        "model_id": result.model_id,
    }
    if explanation is not None:
        out["explain"] = explanation.to_dict()
    return out


def _cut(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def result_table(result: SearchResult) -> str:
    """The readable table (CLI-8)."""
    if not result.docs:
        return f"no results for {result.query!r}"
    width = max(2, *(len(d.id) for d in result.docs))
    lines = [f"{'#':>2}  {'score':>7}  {'id':<{width}}  text"]
    for rank, doc in enumerate(result.docs, start=1):
        meta = "" if not doc.metadata else "  " + json.dumps(doc.metadata, ensure_ascii=False, sort_keys=True)
        lines.append(f"{rank:>2}  {doc.score:>7.4f}  {doc.id:<{width}}  {_cut(doc.text, 60)}{meta}")
    return "\n".join(lines)


async def _query(
    client: MossClient, name: str, text: str, options: QueryOptions, explain: bool
) -> tuple[SearchResult, Optional[Explanation]]:
    await client.load_index(name)
    result = await client.query(name, text, options)
    explanation = await client.explain_query(name, text, options) if explain else None
    return result, explanation


def _run(args: argparse.Namespace) -> int:
    options = QueryOptions(
        top_k=args.top_k,
        alpha=args.alpha,
        filter=None if args.filter is None else _json_argument(args.filter, "--filter"),
        embedding=None if args.embedding is None else _json_argument(args.embedding, "--embedding"),
    )
    with open_client(args) as client:
        result, explanation = run_async(_query(client, args.name, args.text, options, args.explain))
    if args.json:
        print(json.dumps(result_json(result, explanation), ensure_ascii=False))
    else:
        print(result_table(result))
        if explanation is not None:
            print()
            print(format_explanation(explanation))
    return 0


COMMAND = Command(
    "query", "query an index: a table of results, --json, or --explain", _add_arguments, _run, epilog=EPILOG
)
