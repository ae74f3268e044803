#!/usr/bin/env bash
# Regenerate the results table in docs/rules/conformance.md from the four reference runs that
# tests/conformance/test_conformance_runner.py::REPORT_RUNS names, then rebuild CONFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$PWD/.venv/bin/python}"
MC="$(dirname "$PY")/moss-conformance"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$MC" run --option vector_backend=python --report "$tmp/r0" >/dev/null
"$MC" run --option vector_backend=numpy --report "$tmp/r1" >/dev/null
"$MC" run --driver "$PY -m moss_ref_conformance.driver --option vector_backend=python" --report "$tmp/r2" >/dev/null
"$MC" run --driver "$PY -m moss_ref_conformance.driver --option vector_backend=numpy" --report "$tmp/r3" >/dev/null
"$MC" table "$tmp/r0" "$tmp/r1" "$tmp/r2" "$tmp/r3" --update docs/rules/conformance.md
python3 scripts/build_conformance.py
