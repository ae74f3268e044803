"""Where the real SDK lives for the ground-truth tests: its own virtual environment.

The real ``moss`` package is a test dependency only and never shares an interpreter with the
suite (moss_ref must not import it). ``scripts/test.sh`` installs ``moss==1.21.0`` plus this
checkout (``--no-deps``: moss_ref has none) into ``.venv-moss``; ``MOSS_REAL_PYTHON`` names another
interpreter. A missing interpreter fails the tests that need it rather than skipping them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAILURE_LIST = ROOT / "spec_tests" / "real-moss-expected-failures.txt"


def real_python() -> str:
    python = os.environ.get("MOSS_REAL_PYTHON") or str(ROOT / ".venv-moss" / "bin" / "python")
    if not Path(python).exists():
        raise AssertionError(
            f"no interpreter with the real moss SDK at {python}: run scripts/test.sh (it builds .venv-moss) "
            "or set MOSS_REAL_PYTHON"
        )
    return python


def run_real(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m <args>`` in the real SDK's interpreter, with a private HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSS_")}
    return subprocess.run(
        [real_python(), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT)
    )
