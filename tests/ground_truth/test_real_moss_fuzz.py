"""GT-4: differential stateful fuzzing, moss_ref against the real moss SDK.

CI runs it derandomized and bounded; locally (no ``CI``) it explores randomly and deeper. Either
way the run prints how many sessions and steps it compared. The full local run of the closing
note is ``.venv-moss/bin/moss-conformance fuzz --real-moss --examples 5000 --random``.
"""

from __future__ import annotations

import os
import re

from gt_real import run_real

EXAMPLES = 150 if os.environ.get("CI") else 400


def test_real_sdk_agrees_with_the_reference_step_by_step() -> None:
    args = ["-m", "moss_ref_conformance.cli", "fuzz", "--real-moss", "--examples", str(EXAMPLES)]
    if not os.environ.get("CI"):
        args.append("--random")
    done = run_real(*args)
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    counts = re.search(r"(\d+) sessions, (\d+) steps", done.stdout)
    assert counts is not None, done.stdout
    sessions, steps = int(counts.group(1)), int(counts.group(2))
    assert sessions >= EXAMPLES and steps >= 10 * EXAMPLES
