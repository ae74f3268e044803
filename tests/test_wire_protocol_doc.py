"""docs/wire-protocol.md covers every request (SRV-17).

The table "Every request moss-ref serve answers" lists route templates; the service's ROUTES must
be exactly those. Every service the suite starts (tests, and the conformance kit's --real-moss
target) logs ``METHOD TEMPLATE STATUS`` per request to ``MOSS_REF_ROUTE_LOG`` (tests/conftest.py);
the last test of the session reads that log: any request that matched no route, or a template the
table lacks, fails it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from moss_ref.server import ROUTES

DOC = Path(__file__).resolve().parents[1] / "docs" / "wire-protocol.md"
_ROW = re.compile(r"^\| `(GET|POST|PUT|DELETE|PATCH) (/[^`]*)` \|")


def documented() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Every request `moss-ref serve` answers", 1)[1].split("\n## ", 1)[0]
    return {f"{m.group(1)} {m.group(2)}" for line in section.splitlines() if (m := _ROW.match(line))}


def test_the_table_lists_exactly_the_routes_the_service_serves() -> None:
    served = {f"{r.method} {r.template}" for r in ROUTES}
    assert documented() == served


def test_every_request_the_services_answered_during_the_suite_is_documented() -> None:
    """Runs last (tests/conftest.py): the requests every service of this session answered."""
    path = os.environ.get("MOSS_REF_ROUTE_LOG", "")
    lines = Path(path).read_text(encoding="utf-8").splitlines() if path and Path(path).exists() else []
    if not lines:
        pytest.skip("no moss-ref serve process ran in this session")
    seen = {" ".join(line.split(" ")[:2]) for line in lines if not line.split(" ")[1].startswith("?")}
    unmatched = sorted({line.rsplit(" ", 1)[0] for line in lines if line.split(" ")[1].startswith("?")})
    assert unmatched == [], f"requests that matched no route (document and serve them): {unmatched}"
    assert seen - documented() == set()
    print(f"{len(lines)} requests, {len(seen)} routes: {sorted(seen)}")
