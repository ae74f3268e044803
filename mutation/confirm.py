"""Check that the pytest named by each ``out_of_reach`` mark fails on its mutant.

A mark in ``equivalent.d/`` says "no language-neutral vector can show this mutant; this pytest
covers it". That claim is tested here, the way the vectors are: the mutant is written into a
temporary copy of ``moss_ref/`` (``runner.Workspace``) and the named pytest runs in a subprocess
with ``PYTHONPATH=<tmp>/pkg`` first, from an empty working directory, so ``import moss_ref``
finds the mutant. Before any mutant, each named test must pass on an unmutated copy (else its
failure would prove nothing), and one test must fail on a copy whose ``moss_ref/__init__.py``
raises. A guard plugin (``-p _mutation_guard``) notes in every run whether the test session
imported the workspace's copy; a run without the note counts neither way. (A test that starts
a subprocess from the repository root would import the clean core there, unseen by the guard:
no named test does.)

The results go into the report under ``confirmations`` (one entry per out-of-reach mutant);
``report.render`` shows them and counts a mark whose test passes on the mutant as a problem.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional

from .operators import Mutant, generate
from .runner import PACKAGE, REPO, Workspace, _env

PYTEST_TIMEOUT = 600.0


@dataclass
class Outcome:
    passed: bool
    detail: str
    seconds: float
    copy_imported: bool = True


#: A pytest plugin that notes, once the session is configured, whether ``moss_ref`` comes from
#: the workspace (``run_pytest`` only trusts a run that wrote the note).
GUARD = """
import os


def pytest_configure(config):
    import moss_ref

    here = os.path.dirname(os.path.dirname(os.path.abspath(moss_ref.__file__)))
    if here == os.environ["MUTATION_GUARD_PKG"]:
        open(os.environ["MUTATION_GUARD_NOTE"], "w").close()
"""


def run_pytest(ws: Workspace, test: str, timeout: float = PYTEST_TIMEOUT, python: str = sys.executable) -> Outcome:
    """Run one pytest node of the repository against the workspace's ``moss_ref``.

    A run whose test session did not import the workspace's copy (the guard plugin wrote no
    note) does not count as passing or failing: ``copy_imported`` is False."""
    guard = ws.root / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "_mutation_guard.py").write_text(GUARD, encoding="utf-8")
    note = ws.root / "guard-note"
    note.unlink(missing_ok=True)
    env = _env(ws.pkg)
    env["PYTHONPATH"] = os.pathsep.join([str(ws.pkg), str(guard)])
    env["MUTATION_GUARD_PKG"], env["MUTATION_GUARD_NOTE"] = str(ws.pkg), str(note)
    env.pop("MOSS_REF_VECTOR_BACKEND", None)  # the tests choose their backends themselves
    env["HYPOTHESIS_PROFILE"] = "ci"  # derandomized: the same examples on every run
    cmd = [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "_mutation_guard",
           "--rootdir", str(REPO), str(REPO / test)]  # fmt: skip
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ws.cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(False, f"timeout after {timeout:.0f} s", time.monotonic() - started, note.exists())
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    detail = lines[-1] if lines else f"exit {proc.returncode}"
    return Outcome(proc.returncode == 0, detail, time.monotonic() - started, note.exists())


def _on_copy(test: str, mutant: Optional[Mutant] = None, broken: bool = False) -> Outcome:
    with Workspace() as ws:
        if mutant is not None:
            source = (PACKAGE / mutant.module).read_text(encoding="utf-8")
            ws.write(mutant.module, mutant.apply(source))
        if broken:
            ws.write("__init__.py", 'raise ImportError("mutation canary: the broken copy was imported")\n')
        return run_pytest(ws, test)


def confirm(records: Sequence[dict[str, Any]], workers: int = 2) -> dict[str, Any]:
    """``{"canary": ..., "tests": {test: clean outcome}, "mutants": {id: {...}}}`` for the
    out-of-reach ones of ``records`` (``report.resolve``'s, which name each one's ``test``)."""
    wanted = [r for r in records if r["outcome"] == "out_of_reach"]
    modules = sorted({r["module"] for r in wanted})
    current = generate(PACKAGE, modules)
    by_id = {m.id: m for m in current}
    by_key = {m.key: m for m in current if m.key}
    tests = sorted({r["test"] for r in wanted})
    with ThreadPoolExecutor(max_workers=workers) as pool:
        canary = pool.submit(_on_copy, tests[0], None, True) if tests else None
        clean = dict(zip(tests, pool.map(_on_copy, tests)))
        jobs = []
        for r in wanted:
            mutant = by_key.get(r.get("key", ""))
            if mutant is None and r["id"] in by_id and by_id[r["id"]].description == r["description"]:
                mutant = by_id[r["id"]]
            test = r["test"]
            jobs.append((r["id"], test, mutant))
        results = list(pool.map(lambda j: _on_copy(j[1], j[2]) if j[2] is not None else None, jobs))
    out: dict[str, Any] = {
        "canary": None if canary is None else {"test": tests[0], "failed": not canary.result().passed},
        "tests": {t: {"passes_clean": o.passed and o.copy_imported, "detail": _said(o)} for t, o in clean.items()},
        "mutants": {},
    }
    for (mid, test, _), res in zip(jobs, results):
        if res is None:
            out["mutants"][mid] = {"test": test, "fails_on_mutant": False, "detail": "not in the current source"}
        else:
            out["mutants"][mid] = {"test": test, "fails_on_mutant": res.copy_imported and not res.passed,
                                   "detail": _said(res)}  # fmt: skip
    return out


def _said(o: Outcome) -> str:
    return o.detail if o.copy_imported else f"the test session did not import the copy of moss_ref ({o.detail})"


def confirmation_problems(confirmations: Optional[dict[str, Any]]) -> list[str]:
    """What makes the confirmations worthless or shows a wrong mark."""
    if not confirmations:
        return []
    found = []
    canary = confirmations.get("canary")
    if canary is not None and not canary["failed"]:
        found.append(
            f"canary: {canary['test']} passed on a broken copy of moss_ref: the pytests did not run the copies"
        )
    for test, o in confirmations["tests"].items():
        if not o["passes_clean"]:
            found.append(f"{test} fails on the unmutated core ({o['detail']}): it confirms nothing")
    for mid, o in confirmations["mutants"].items():
        if not o["fails_on_mutant"]:
            found.append(f"{mid} is marked out of reach, covered by {o['test']}, but it passes on it ({o['detail']})")
    return found
