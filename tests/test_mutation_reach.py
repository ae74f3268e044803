"""Rules no language-neutral vector can reach (issue 11): each test here fails on a mutant that the
vectors cannot kill, as listed under ``out_of_reach`` in ``mutation/equivalent.d/``."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_self_containing_filter_is_refused_promptly() -> None:
    """FLT-27: a filter that contains itself (only a Python object can) is refused, never compiled forever.

    JSON cannot express a cycle, so no vector can; the test runs in a child process with a time
    limit because the broken behaviour is an endless loop.
    """
    code = textwrap.dedent(
        """
        from moss_ref._errors import InvalidArgumentError
        from moss_ref._filters import compile_filter
        loop = {"$or": []}
        loop["$or"].append({"$and": [loop]})
        try:
            compile_filter(loop)
        except InvalidArgumentError as exc:
            assert "contains itself" in str(exc), exc
            print("refused")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.stdout.strip() == "refused", done.stderr[-2000:]
