"""moss_ref — the executable reference implementation of the Moss session-index API.

Drop-in for the ``moss`` package: change the import and the same code runs offline, against a
local store instead of the cloud::

    import asyncio
    from moss_ref import MossClient, DocumentInfo, QueryOptions

    async def main() -> None:
        async with MossClient("project", "key", store="/tmp/moss-demo") as client:
            session = await client.session("support")
            await session.add_docs([
                DocumentInfo("a", "How do I get a refund?", metadata={"topic": "billing"}),
                DocumentInfo("b", "Pruning tomato plants", metadata={"topic": "garden"}),
            ])
            hits = await session.query("refund", QueryOptions(top_k=1))
            print(hits.docs[0].id)            # "a"
            await session.push_index()        # later: client.session("support") resumes it

    asyncio.run(main())

The normative rules are in CONFORMANCE.md; each names the test that checks it.
"""

from ._client import MossClient
from ._errors import InvalidArgumentError, MossError
from ._jobs import JobHandle
from ._session import SessionIndex
from ._types import (
    Chunking,
    DocumentInfo,
    GetDocumentsOptions,
    IndexInfo,
    IndexStatus,
    IndexStatusValues,
    JobPhase,
    JobProgress,
    JobStatus,
    JobStatusResponse,
    LoadIndexesResult,
    ModelRef,
    MutationOptions,
    MutationResult,
    ParentGrouping,
    PushIndexResult,
    QueryOptions,
    QueryResultDocumentInfo,
    SearchResult,
)
from ._unsupported import MossInference

__version__ = "0.1.0"

__all__ = [
    "Chunking",
    "DocumentInfo",
    "GetDocumentsOptions",
    "IndexInfo",
    "IndexStatus",
    "IndexStatusValues",
    "InvalidArgumentError",
    "JobHandle",
    "JobPhase",
    "JobProgress",
    "JobStatus",
    "JobStatusResponse",
    "LoadIndexesResult",
    "ModelRef",
    "MossClient",
    "MossError",
    "MossInference",
    "MutationOptions",
    "MutationResult",
    "ParentGrouping",
    "PushIndexResult",
    "QueryOptions",
    "QueryResultDocumentInfo",
    "SearchResult",
    "SessionIndex",
]
