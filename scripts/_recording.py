"""Record vector expectations from a live target, and write a vector file (shared by the
``make_*_vectors.py`` scripts whose expectations come from the real SDK).

:func:`record` runs each case's steps, after an opening step, on the real SDK (or, for a case
marked ``"reference": true``, on moss_ref: a ``recommended`` case the SDK cannot run) and keeps
what it answered as the step's ``expect``; :func:`write` renders the group one step per line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moss_ref_conformance.compare import expectation_from
from moss_ref_conformance.protocol import response_kind
from moss_ref_conformance.real_moss import RealMossTarget
from moss_ref_conformance.reference import ReferenceTarget


def record(cases: list[dict[str, Any]], opening: dict[str, Any], features: list[str]) -> list[dict[str, Any]]:
    """``cases`` with every step's ``expect`` set to the answer (the opening step is not kept)."""
    real = RealMossTarget()
    reference = ReferenceTarget(vector_backend="python", keyword_backend="python")
    out_cases = []
    try:
        for case in cases:
            target = reference if case.get("reference") else real
            target.start_case(case["name"], features)
            steps = []
            for step in [opening, *case["steps"]]:
                response = target.step(step["op"], step.get("args", {}))
                if response_kind(response) not in ("result", "error"):
                    raise SystemExit(f"{case['name']}: {step['op']}: {response}")
                expect = _sorted_metadata(expectation_from(response))
                if step["op"] not in ("query", "client_query"):
                    expect.pop("order", None)
                steps.append({**step, "expect": expect})
            entry = {k: v for k, v in case.items() if k not in ("steps", "reference")}
            out_cases.append({**entry, "steps": steps[1:]})
    finally:
        real.close()
        reference.close()
    return out_cases


def _sorted_metadata(value: Any) -> Any:
    """``value`` with every ``metadata`` mapping in key order: the SDK returns a document's
    metadata in an order that varies from run to run, and a regenerated file should not."""
    if isinstance(value, list):
        return [_sorted_metadata(v) for v in value]
    if isinstance(value, dict):
        return {
            k: dict(sorted(v.items())) if k == "metadata" and isinstance(v, dict) else _sorted_metadata(v)
            for k, v in value.items()
        }
    return value


def write(path: Path, head: dict[str, Any], cases: list[dict[str, Any]]) -> None:
    """Write the group ``head`` with ``cases``, one step per line."""
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    lines.append('  "cases": [')
    rendered = []
    for case in cases:
        meta = json.dumps({k: v for k, v in case.items() if k != "steps"}, ensure_ascii=False)[:-1]
        body = ",\n        ".join(json.dumps(s, ensure_ascii=False) for s in case["steps"])
        rendered.append(f'    {meta}, "steps": [\n        {body}\n      ]}}')
    lines += [",\n".join(rendered), "  ]", "}"]
    text = "\n".join(lines) + "\n"
    json.loads(text)
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
