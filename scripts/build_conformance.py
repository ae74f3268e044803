"""Build CONFORMANCE.md from the rule fragments in docs/rules/ (one concern per fragment).

    python3 scripts/build_conformance.py           # write CONFORMANCE.md
    python3 scripts/build_conformance.py --check   # exit 1 if CONFORMANCE.md is out of date

Each fragment's headings are demoted one level so the fragments become sections of one document.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "rules"
ORDER = [
    "00-intro.md",
    "ground_truth.md",
    "core.md",
    "docs_input.md",
    "filters.md",
    "hash_embedder.md",
    "minilm.md",
    "vectors.md",
    "keywords.md",
    "registry.md",
    "stores.md",
    "service.md",
    "cli.md",
    "conformance.md",
    "departures.md",
    "results.md",
]


def build() -> str:
    known = set(ORDER)
    unknown = sorted(p.name for p in RULES.glob("*.md") if p.name not in known)
    if unknown:
        raise SystemExit(f"docs/rules has fragments not in ORDER: {unknown}")
    parts = []
    for name in ORDER:
        path = RULES / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8").strip()
        if name != "00-intro.md":
            text = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.MULTILINE)
        parts.append(text)
    return "\n\n".join(parts) + "\n"


def main() -> None:
    target = ROOT / "CONFORMANCE.md"
    text = build()
    if "--check" in sys.argv[1:]:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            raise SystemExit("CONFORMANCE.md is out of date: run python3 scripts/build_conformance.py")
        return
    target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
