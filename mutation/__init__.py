"""Mutation testing of moss_ref's core against the conformance kit (issue 11).

A small AST mutator of our own (standard library only): :mod:`.operators` lists every single-point
change ("mutant") of the rule modules, :mod:`.runner` runs the conformance vectors — and, for the
survivors, the differential fuzzer — against a temporary copy of ``moss_ref/`` with one mutant
applied, in a subprocess, and :mod:`.report` renders the result. Run it from the repository root::

    python -m mutation run            # every mutant: vectors, then the fuzzer for the survivors
    python -m mutation report         # mutation/report.json -> mutation/REPORT.md

See ``mutation/README.md``.
"""

from __future__ import annotations

from .operators import DEFAULT_MODULES, OPERATORS, Mutant, generate, generate_source

__all__ = ["DEFAULT_MODULES", "OPERATORS", "Mutant", "generate", "generate_source"]
