"""The main job: a session's whole life on the embedded default store, across two processes.

Run from a checkout with no install and no third-party package: ``python3 -m moss_ref.demo``.

1. Process 1 opens ``session("moss-ref-demo")``, adds documents with metadata, queries with and
   without a filter, and pushes the session to the store.
2. Process 2 (a real child process) resumes the session by name, adds a document, queries with a
   filter, pushes again, and reads the job status of process 1's push.
3. Process 1 loads the index for long-term context (``load_index`` + ``client.query``) and sees
   the union of both processes' documents.

The store is the per-user data directory (or ``MOSS_REF_STORE``); the built-in model is served by
the best embedder available (``auto``: MiniLM when installed, else the hash embedder).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import warnings

from moss_ref import DocumentInfo, MossClient, QueryOptions, SearchResult

INDEX = "moss-ref-demo"
PROJECT, KEY = "moss-ref-demo-project", "moss-ref-demo-key"

DOCS = [
    DocumentInfo(
        "refund-policy",
        "Refunds are issued to the original card within five business days.",
        {"topic": "billing", "priority": "2"},
    ),
    DocumentInfo(
        "invoice-copy",
        "You can download a copy of any invoice from the billing page.",
        {"topic": "billing", "priority": "5"},
    ),
    DocumentInfo(
        "reset-password",
        "Reset your password from the sign-in page with the 'forgot password' link.",
        {"topic": "account", "priority": "1"},
    ),
    DocumentInfo(
        "delete-account",
        "Deleting your account removes all data after a 30-day grace period.",
        {"topic": "account", "priority": "3"},
    ),
    DocumentInfo(
        "tomatoes",
        "Prune tomato plants by pinching out the suckers between stem and branch.",
        {"topic": "garden", "priority": "9"},
    ),
]
BILLING = {"field": "topic", "condition": {"$eq": "billing"}}


def show(title: str, result: SearchResult) -> None:
    print(f"  {title}")
    for doc in result.docs:
        print(f"    {doc.score:.3f}  {doc.id:<16} {doc.metadata}")


async def first_process() -> str:
    async with MossClient(PROJECT, KEY) as client:
        print(f"[process 1] store: {client.store!r}")
        session = await client.session(INDEX, auto_load_on_init=False)  # start fresh on every run
        added, updated = await session.add_docs(DOCS)
        print(f"[process 1] add_docs -> added={added} updated={updated}; model_id={session.model_id}")
        show(
            'query "how do I get my money back?"',
            await session.query("how do I get my money back?", QueryOptions(top_k=3)),
        )
        show(
            "same query, filter topic == billing",
            await session.query("how do I get my money back?", QueryOptions(top_k=3, filter=BILLING)),
        )
        pushed = await session.push_index()
        print(f"[process 1] push_index -> {pushed}")
        return pushed.job_id


async def second_process(job_id: str) -> None:
    async with MossClient(PROJECT, KEY) as client:
        session = await client.session(INDEX)  # resumes the pushed index, adopting its model
        print(f"[process 2] resumed {session.name!r}: {session.doc_count} docs, model_id={session.model_id}")
        await session.add_docs(
            [
                DocumentInfo(
                    "chargeback",
                    "A chargeback opened with your bank pauses the refund.",
                    {"topic": "billing", "priority": "4"},
                )
            ]
        )
        show(
            'query "refund", filter priority < 5 (numeric)',
            await session.query(
                "refund",
                QueryOptions(top_k=5, filter={"$and": [BILLING, {"field": "priority", "condition": {"$lt": 5}}]}),
            ),
        )
        pushed = await session.push_index()
        status = await client.get_job_status(job_id)
        print(
            f"[process 2] push_index -> doc_count={pushed.doc_count}; "
            f"process 1's job {job_id[:12]}... is {status.status.value}, progress {status.progress:.0f}"
        )


async def third_step() -> None:
    async with MossClient(PROJECT, KEY) as client:
        await client.load_index(INDEX)
        result = await client.query(INDEX, "refund chargeback invoice", QueryOptions(top_k=10, filter=BILLING))
        print(f"[process 1] load_index + client.query sees the union: {[d.id for d in result.docs]}")


def _note(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> str:
    return f"  [note] {category.__name__}: {message}\n"


def main() -> None:
    warnings.simplefilter("default")
    warnings.formatwarning = _note  # a one-line note instead of a traceback-like source line
    if len(sys.argv) == 3 and sys.argv[1] == "--resume":
        asyncio.run(second_process(sys.argv[2]))
        return
    job_id = asyncio.run(first_process())
    child = subprocess.run([sys.executable, "-m", "moss_ref.demo", "--resume", job_id], check=False)
    if child.returncode != 0:
        raise SystemExit(f"process 2 failed with exit code {child.returncode}")
    asyncio.run(third_step())


if __name__ == "__main__":
    main()
