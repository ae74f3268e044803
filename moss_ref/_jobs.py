"""Jobs: stored records → ``JobStatusResponse``, ``wait_for_job`` (C-11) and ``JobHandle`` (C-12).

moss_ref runs every job to completion before the call that started it returns (R-ST-6), so a
job read back is normally ``COMPLETED`` with progress 100 and no current phase. Records in any
other state (written by another store implementation, or by hand) are reported as they are,
and ``wait_for_job`` follows the real SDK's loop exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from ._errors import not_found
from ._types import JobPhase, JobProgress, JobStatus, JobStatusResponse
from .stores.base import JobRecord

__all__ = ["JobHandle", "JobSource", "job_not_found", "job_response", "wait_for_job"]


class JobSource(Protocol):
    """What a ``JobHandle`` follows its job through (``MossClient`` is one)."""

    async def get_job_status(self, job_id: str) -> JobStatusResponse: ...

    async def wait_for_job(
        self, job_id: str, *, poll_interval_seconds: float = 2.0, timeout_seconds: float = 1800.0
    ) -> JobStatusResponse: ...


_PROGRESS = {"pending_upload": 0.0, "uploading": 10.0, "building": 50.0, "completed": 100.0, "failed": 0.0}
_PHASE = {"pending_upload": JobPhase.QUEUED, "uploading": JobPhase.UPLOADING, "building": JobPhase.BUILDING_INDEX}


def job_response(record: JobRecord) -> JobStatusResponse:
    """T-7: ``current_phase`` is None once the job has finished (completed or failed)."""
    return JobStatusResponse(
        job_id=record.job_id,
        status=JobStatus(record.status),
        progress=_PROGRESS.get(record.status, 0.0),
        current_phase=_PHASE.get(record.status),
        error=record.error,
        created_at=record.created_at,
        updated_at=record.updated_at,
        completed_at=record.completed_at,
    )


def job_progress(response: JobStatusResponse) -> JobProgress:
    return JobProgress(response.job_id, response.status, response.progress, response.current_phase)


def job_not_found(job_id: str) -> Exception:
    return not_found("The requested resource was not found.", f"Job not found: {job_id}")


async def wait_for_job(
    fetch: Callable[[str], Awaitable[JobStatusResponse]],
    job_id: str,
    poll_interval_seconds: float,
    timeout_seconds: float,
) -> JobStatusResponse:
    """C-11: fetch at least once; completed → return; failed → RuntimeError; elapsed counts sleeps."""
    elapsed = 0.0
    while True:
        status = await fetch(job_id)
        if status.status.value == "completed":
            return status
        if status.status.value == "failed":
            raise RuntimeError(f"Moss job {job_id} failed: {status.error}")
        if elapsed >= timeout_seconds:
            raise TimeoutError(f"Moss job {job_id} did not finish within {int(timeout_seconds)}s")
        await asyncio.sleep(poll_interval_seconds)
        elapsed += poll_interval_seconds


class JobHandle:
    """What ``create_index(..., wait=False)`` returns (C-12): a job id and ways to follow it."""

    __slots__ = ("_client", "_job_id")

    def __init__(self, client: JobSource, job_id: str) -> None:
        self._client = client
        self._job_id = job_id

    @property
    def job_id(self) -> str:
        return self._job_id

    async def status(self) -> JobStatusResponse:
        """The job's current status (= ``client.get_job_status(job_id)``)."""
        return await self._client.get_job_status(self._job_id)

    async def wait(self, *, poll_interval_seconds: float = 2.0, timeout_seconds: float = 1800.0) -> JobStatusResponse:
        """Wait until the job completes (= ``client.wait_for_job(job_id)``)."""
        return await self._client.wait_for_job(
            self._job_id, poll_interval_seconds=poll_interval_seconds, timeout_seconds=timeout_seconds
        )

    def __repr__(self) -> str:
        return f"JobHandle(job_id={self._job_id!r})"
