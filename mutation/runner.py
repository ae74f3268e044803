"""Run mutants: a temporary copy of ``moss_ref/`` with one file mutated, judged in subprocesses.

For each mutant:

1. the mutated module is compiled (a mutant that does not compile would be a tool bug: it is
   reported as ``invalid`` and counts nowhere);
2. ``moss_ref/`` is copied (without ``__pycache__``) to ``<tmp>/pkg/moss_ref`` and the one file
   replaced;
3. the vectors run in a subprocess, ``python -c JUDGE``: the kit's own ``run_case`` over every
   shipped case against ``ReferenceTarget(vector_backend="python", keyword_backend="python")`` (what
   ``moss-conformance run --option vector_backend=python --option keyword_backend=python`` runs:
   the core's own rule code, which the numpy backends would bypass), then, if numpy imports,
   against the numpy backends (which call other parts of the core, such as the keyword
   shortlist's error bound), stopping at the first case that fails, with
   ``PYTHONPATH=<tmp>/pkg`` and the working directory ``<tmp>/cwd`` (an empty folder: ``python -c``
   puts the working directory first on ``sys.path``, so running from the repository root would
   import the clean ``moss_ref`` instead). The kit itself (``moss_ref_conformance``) comes from the
   installed checkout, and imports the mutated ``moss_ref``. A failed or errored case (exit status
   not 0) kills the mutant: ``killed_vectors``; a run past the timeout is ``timeout`` and counts as
   killed;
4. a survivor of the vectors goes to the differential fuzzer: ``moss-conformance fuzz --driver
   "env PYTHONPATH=<tmp>/pkg python -m moss_ref_conformance.driver ..."``. The fuzzing process
   has no such ``PYTHONPATH``: its in-process reference is the clean ``moss_ref``; only the
   driver subprocess runs the mutant. A difference kills it (``killed_fuzz``), else ``survived``.

:func:`canary` proves the set-up on every run: a copy whose ``moss_ref/__init__.py`` raises must
fail both ways, and an unchanged copy must pass both ways.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .operators import Mutant

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "moss_ref"

VECTOR_TIMEOUT = 60.0  # a clean run takes about a second (5 s on a machine busy with other work)
FUZZ_TIMEOUT = 600.0

#: Outcomes of one mutant run (``equivalent`` and ``out_of_reach`` are added by the report from
#: ``equivalent.json``).
KILLED = ("killed_vectors", "timeout", "killed_fuzz")


@dataclass
class Result:
    id: str
    outcome: str  # killed_vectors | timeout | killed_fuzz | survived | invalid
    detail: str = ""
    killed_by: list[str] = field(default_factory=list)  # failing case names (at most a few)
    seconds: float = 0.0


def _env(pythonpath: Optional[Path]) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH"):
        env.pop(name, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MOSS_REF_VECTOR_BACKEND"] = "python"  # the fuzzer's in-process reference reads it too
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


class Workspace:
    """A temporary folder with ``pkg/moss_ref`` (a copy, possibly mutated) and an empty ``cwd``."""

    def __init__(self, package: Path = PACKAGE) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="moss-mutation-"))
        self.pkg = self.root / "pkg"
        self.cwd = self.root / "cwd"
        self.cwd.mkdir()
        shutil.copytree(package, self.pkg / "moss_ref", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def write(self, module: str, text: str) -> None:
        (self.pkg / "moss_ref" / module).write_text(text, encoding="utf-8")

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def store_env(self) -> dict[str, str]:
        env = _env(None)
        env["MOSS_REF_STORE"] = str(self.root / "store")
        env["MOSS_REF_CACHE_DIR"] = env.get("MOSS_REF_CACHE_DIR") or str(self.root / "cache")
        return env


#: The vectors, stopping at the first failing case (a killed mutant needs no more); prints
#: ``FAIL <case>: <message>`` lines and a last summary line like ``moss-conformance run``'s.
JUDGE = """
import sys
from moss_ref_conformance.cases import load_cases
from moss_ref_conformance.reference import ReferenceTarget
from moss_ref_conformance.runner import run_case
cases = load_cases()
backends = ["python"]
try:
    import numpy  # noqa: F401
    backends.append("numpy")
except ImportError:
    pass
for backend in backends:  # the core's own rule code first; then the numpy backends, which call other core code
    target = ReferenceTarget(vector_backend=backend, keyword_backend=backend)
    info = target.hello()
    name = str(info.get("implementation", {}).get("name", ""))
    supported, kinds = set(info.get("features", [])), bool(info.get("error_kinds", False))
    for n, case in enumerate(cases, 1):
        res = run_case(target, case, supported, kinds, name)
        if res.outcome in ("fail", "error"):
            print(f"{res.outcome.upper()} {case.name}: {res.message[:300]}")
            print(f"moss-conformance (judge, {backend} backends, {n} of {len(cases)} cases run): "
                  f"first failure {case.name} FAILED")
            sys.exit(1)
    target.close()
print(f"moss-conformance (judge, {len(cases)} cases on {' and '.join(backends)} backends): none failed OK")
"""


def run_vectors(ws: Workspace, timeout: float = VECTOR_TIMEOUT, python: str = sys.executable) -> Result:
    """The conformance vectors against the workspace's ``moss_ref`` (see the module docstring)."""
    env = ws.store_env()
    env["PYTHONPATH"] = str(ws.pkg)
    cmd = [python, "-c", JUDGE]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ws.cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result("", "timeout", f"the vectors ran past {timeout:.0f} s", seconds=time.monotonic() - started)
    seconds = time.monotonic() - started
    lines = proc.stdout.splitlines()
    if proc.returncode == 0:
        return Result("", "survived", lines[-1] if lines else "", seconds=seconds)
    failing = [ln.split(None, 1)[1].split(":", 1)[0] for ln in lines if ln.startswith(("FAIL ", "ERROR "))]
    summary = lines[-1].split("): ", 1)[-1] if lines and "moss-conformance" in lines[-1] else ""
    if not summary:  # a crash before the summary: the import of the mutant failed, say
        err = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        summary = f"exit {proc.returncode}: " + (err[-1] if err else "no output")
    return Result("", "killed_vectors", summary, failing[:5], seconds)


def driver_command(ws: Workspace, python: str = sys.executable) -> str:
    """The driver command line that serves the workspace's ``moss_ref`` (for ``--driver``)."""
    import shlex

    cmd = ["env", f"PYTHONPATH={ws.pkg}", python, "-m", "moss_ref_conformance.driver"]
    return shlex.join([*cmd, "--option", "vector_backend=python", "--option", "keyword_backend=python"])


def run_fuzz(ws: Workspace, examples: int, timeout: float = FUZZ_TIMEOUT, python: str = sys.executable) -> Result:
    """The differential fuzzer: the workspace's ``moss_ref`` through a driver vs the clean reference."""
    env = ws.store_env()  # no PYTHONPATH here: the reference in this process is the clean moss_ref
    cmd = [python, "-m", "moss_ref_conformance.cli", "fuzz", "--driver", driver_command(ws, python),
           "--examples", str(examples), "--timeout", "60"]  # fmt: skip
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ws.cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        message = f"timeout: the fuzzer ran past {timeout:.0f} s"
        return Result("", "killed_fuzz", message, seconds=time.monotonic() - started)
    seconds = time.monotonic() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode == 0:
        last = lines[-1] if lines else ""
        return Result("", "survived", "fuzz: " + last.rsplit(": ", 1)[-1], seconds=seconds)
    message = next((ln for ln in lines if not ln.startswith(("{", " ", "}", "]"))), "")
    if proc.returncode != 1 or not message:  # the fuzzer itself stopped: keep the end of its stderr
        tail = " ".join(proc.stderr.split())[-300:]
        return Result("", "killed_fuzz", f"exit {proc.returncode}: ...{tail}", seconds=seconds)
    return Result("", "killed_fuzz", message[:300], seconds=seconds)


def run_mutant(
    mutant: Mutant,
    mutated: str,
    *,
    fuzz_examples: int = 0,
    package: Path = PACKAGE,
    vector_timeout: float = VECTOR_TIMEOUT,
) -> Result:
    """Judge one mutant: compile check, vectors, then (for a survivor, if asked) the fuzzer."""
    try:
        compile(mutated, mutant.module, "exec")
    except SyntaxError as exc:
        return Result(mutant.id, "invalid", f"does not compile: {exc}")
    with Workspace(package) as ws:
        ws.write(mutant.module, mutated)
        result = run_vectors(ws, vector_timeout)
        if result.outcome == "survived" and fuzz_examples > 0:
            fuzzed = run_fuzz(ws, fuzz_examples)
            fuzzed.seconds += result.seconds
            result = fuzzed
    result.id = mutant.id
    return result


def fuzz_mutant(mutant: Mutant, mutated: str, examples: int, *, package: Path = PACKAGE) -> Result:
    """The fuzzer stage alone, for a mutant that survived the vectors."""
    with Workspace(package) as ws:
        ws.write(mutant.module, mutated)
        result = run_fuzz(ws, examples)
    result.id = mutant.id
    return result


def run_all(
    items: Sequence[tuple[Mutant, str]],
    *,
    fuzz_examples: int = 0,
    workers: int = 2,
    package: Path = PACKAGE,
    on_result: Optional[Callable[[Mutant, Result], None]] = None,
) -> list[Result]:
    """Judge every ``(mutant, mutated source)`` with ``workers`` parallel subprocesses; results in order.

    Two passes: the vectors for every mutant, then the fuzzer for the survivors of the vectors.
    ``on_result`` sees each final result once (a vector survivor after its fuzz).
    """
    fuzzing = fuzz_examples > 0

    def vectors(item: tuple[Mutant, str]) -> Result:
        res = run_mutant(item[0], item[1], package=package)
        if on_result is not None and not (fuzzing and res.outcome == "survived"):
            on_result(item[0], res)
        return res

    def fuzzed(item: tuple[Mutant, str], first: Result) -> Result:
        res = fuzz_mutant(item[0], item[1], fuzz_examples, package=package)
        res.seconds += first.seconds
        if on_result is not None:
            on_result(item[0], res)
        return res

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(vectors, items))
        if fuzzing:
            todo = [i for i, r in enumerate(results) if r.outcome == "survived"]
            for i, res in zip(todo, pool.map(lambda i: fuzzed(items[i], results[i]), todo)):
                results[i] = res
    return results


def canary(fuzz: bool = True, package: Path = PACKAGE) -> list[str]:
    """Problems with the set-up (empty when sound): is it really the mutated copy that runs?"""
    problems = []
    with Workspace(package) as ws:
        if run_vectors(ws).outcome != "survived":
            problems.append("the vectors fail on an unmutated copy of moss_ref")
        if fuzz and run_fuzz(ws, 5).outcome != "survived":
            problems.append("the fuzzer finds a difference on an unmutated copy of moss_ref")
        init = ws.pkg / "moss_ref" / "__init__.py"
        init.write_text('raise RuntimeError("mutation canary")\n' + init.read_text(encoding="utf-8"), encoding="utf-8")
        broken = run_vectors(ws)
        if broken.outcome != "killed_vectors" or "mutation canary" not in broken.detail:
            problems.append(f"a broken copy of moss_ref was not the one the vectors ran ({broken.detail!r})")
        broken_fuzz = run_fuzz(ws, 5)
        if broken_fuzz.outcome != "killed_fuzz" or "mutation canary" not in broken_fuzz.detail:
            problems.append("a broken copy of moss_ref was not the one the fuzzer's driver ran")
    return problems
