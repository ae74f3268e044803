"""Where the real SDK lives for the ground-truth tests: its own virtual environment.

The real ``moss`` package is a test dependency only and never shares an interpreter with the
suite (moss_ref must not import it). ``scripts/test.sh`` installs ``moss==1.21.0`` plus this
checkout (``--no-deps``: moss_ref has none) into ``.venv-moss``; ``MOSS_REAL_PYTHON`` names another
interpreter. A missing interpreter fails the tests that need it rather than skipping them.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
FAILURE_LIST = ROOT / "spec_tests" / "real-moss-expected-failures.txt"
PROGRAMS = Path(__file__).resolve().parent / "sdk_programs.py"
#: Passed through to the real SDK's process: services it starts log their routes there (the suite's check).
ROUTE_LOG_ENV = "MOSS_REF_ROUTE_LOG"


def _environment(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSS_") or k == ROUTE_LOG_ENV}
    env.update(extra or {})
    return env


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
    return subprocess.run(
        [real_python(), *args], capture_output=True, text=True, timeout=timeout, env=_environment(), cwd=str(ROOT)
    )


def sdk_environment(service_env: Mapping[str, str], project: str, key: str) -> dict[str, str]:
    """What an unmodified moss app needs to use a moss-ref serve service, with a private HOME."""
    home = tempfile.mkdtemp(prefix="moss-sdk-home-")
    return _environment({**service_env, "MOSS_PROJECT_ID": project, "MOSS_PROJECT_KEY": key, "HOME": home})


def start_program(step: str, *args: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """One step of tests/ground_truth/sdk_programs.py, running in the real SDK's interpreter."""
    return subprocess.Popen(
        [real_python(), str(PROGRAMS), step, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        cwd=str(ROOT),
    )


def run_program(step: str, *args: str, env: Mapping[str, str], timeout: float = 120) -> Any:
    """Run a step to completion; its last stdout line, decoded (a failing program fails the test)."""
    process = start_program(step, *args, env=env)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"sdk_programs.py {step} failed:\n{out}\n{err}"
    return json.loads(out.strip().splitlines()[-1])
