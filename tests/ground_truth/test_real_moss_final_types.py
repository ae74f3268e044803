"""API-7 against the real SDK: the same public classes are final (cannot be subclassed) in both."""

from __future__ import annotations

import json

from gt_real import run_real
from test_api_surface import FINAL, OPEN

PROBE = """
import inspect, json, moss
out = {}
for name in NAMES:
    try:
        type("Sub", (getattr(moss, name),), {})
        out[name] = "open"
    except TypeError:
        out[name] = "final"
print(json.dumps(out))
"""


def test_the_real_sdk_makes_the_same_classes_final() -> None:
    names = FINAL + OPEN
    done = run_real("-c", f"NAMES = {names!r}\n" + PROBE, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {**{n: "final" for n in FINAL}, **{n: "open" for n in OPEN}}
