"""CONFORMANCE.md is built from docs/rules, and every rule cites a test that exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE = re.compile(r"^\*\*([A-Z]+-\d+)\b", re.MULTILINE)
REF = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def _rules() -> dict[str, str]:
    text = (ROOT / "CONFORMANCE.md").read_text(encoding="utf-8")
    starts = [(m.group(1), m.start()) for m in RULE.finditer(text)]
    bodies: dict[str, str] = {}
    for (rule, start), (_, end) in zip(starts, [*starts[1:], ("", len(text))]):
        body = text[start:end]
        body = re.split(r"^#", body, maxsplit=1, flags=re.MULTILINE)[0]
        assert rule not in bodies, f"{rule} is defined twice"
        bodies[rule] = body
    return bodies


def test_conformance_md_is_built_from_the_fragments() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_conformance.py"), "--check"], capture_output=True
    )
    assert out.returncode == 0, out.stderr.decode()


def test_every_rule_is_sourced_and_names_existing_tests() -> None:
    rules = _rules()
    assert len(rules) > 100
    problems = []
    for rule, body in rules.items():
        flat = " ".join(body.split())
        if "Moss-documented" not in flat and "reference choice" not in flat and "observed: moss" not in flat:
            problems.append(f"{rule}: not marked Moss-documented, observed (moss <version>) or reference choice")
        refs = REF.findall(body)
        if "Test:" not in body or not refs:
            problems.append(f"{rule}: names no test")
        for path, name in refs:
            file = ROOT / path
            if not file.exists():
                problems.append(f"{rule}: {path} does not exist")
            elif not re.search(rf"^\s*(?:async def|def|class) {name}\b|^{name} = ", file.read_text(), re.MULTILINE):
                problems.append(f"{rule}: {path} defines no test {name}")
    assert not problems, "\n".join(problems)
