"""How many CPUs this process may use: the size of its affinity mask where the OS has one (Linux),
else the machine's count. Sizes the scan helpers, the keyword helper and the onnxruntime threads."""

from __future__ import annotations

import os

__all__ = ["usable_cpus"]


def usable_cpus() -> int:
    """The CPUs this process may run on (at least 1)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1
