"""Timestamps (ISO-8601 UTC, T-7) and job ids."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex}"
