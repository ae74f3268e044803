"""One of moss_ref's internal speed-ups, on and off in the same worker, beside the real SDK.

Two bench runs minutes apart differ by the machine's state as much as by a change (issue 9: a
threaded scan looked like 0.92x vs 0.94x that way). Here one moss_ref worker switches the
speed-up on and off query by query (``vs_moss_worker.py``'s ``switch``), and the real SDK's
query comes before each of ours, as in ``vs_moss.py``: caches are cold and threads asleep the
way they are there. Each round asks ``on`` and ``off`` in an order that alternates by round.
Medians; ratios to the real SDK's median of the same shape.

    .venv/bin/python bench/vs_moss_ab.py --switch scan_helper --n 100000 --rounds 60

Writes ``bench/results/<name>.json`` (default ``ab_<switch>_<n>``). Uses the data generator,
workers and stand-in of ``vs_moss.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import vs_moss  # noqa: E402


def run(switch: str, n: int, rounds: int, moss_python: str, scratch: Path) -> dict[str, Any]:
    from moss_ref_conformance.standin import spawn

    folder = scratch / "data"
    folder.mkdir()
    vs_moss.make_data(folder, n)
    standin = spawn({"bench": "bench-key"}, max_body=2 << 30)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MOSS")}
    (scratch / "home").mkdir()
    real = vs_moss.Contender(
        "real moss", moss_python, "moss", {**base, **standin.environment(), "HOME": str(scratch / "home")}
    )
    ours = vs_moss.Contender(
        "moss_ref numpy",
        sys.executable,
        "moss_ref",
        {
            **base,
            "MOSS_REF_STORE": str(scratch / "store"),
            "MOSS_REF_VECTOR_BACKEND": "numpy",
            "MOSS_REF_KEYWORD_BACKEND": "numpy",
        },
    )
    try:
        for c in (real, ours):
            c.ask(cmd="build", data=str(folder), n=n)
        out: dict[str, Any] = {"n": n, "switch": switch, "contenders": {"real": real.hello, "ours": ours.hello}}
        for shape in vs_moss.SHAPES:
            times: dict[str, list[float]] = {"real moss": [], "on": [], "off": []}
            for r in range(rounds + 2):  # two warm-up rounds
                for on in (True, False) if r % 2 else (False, True):
                    real_ms = real.ask(cmd="query", shape=shape, i=r)["ms"]
                    ours.ask(cmd="switch", name=switch, on=on)
                    ms = ours.ask(cmd="query", shape=shape, i=r)["ms"]
                    if r >= 2:
                        times["real moss"].append(real_ms)
                        times["on" if on else "off"].append(ms)
            med = {k: statistics.median(v) for k, v in times.items()}
            out[shape] = {k: {"p50_ms": v, "vs_real": v / med["real moss"]} for k, v in med.items()}
            cells = ", ".join(f"{k} {v:.3f} ms ({v / med['real moss']:.2f}x)" for k, v in med.items())
            print(f"  {n}: {shape}: {cells}", flush=True)
        return out
    finally:
        for c in (real, ours):
            c.close()
        standin.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switch", default="scan_helper", choices=["scan_helper", "rank_overlap"])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--moss-python", default=str(ROOT / ".venv-moss" / "bin" / "python"))
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="moss-ab-"))
    try:
        result = run(args.switch, args.n, args.rounds, args.moss_python, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["command"] = "python bench/vs_moss_ab.py " + " ".join(argv if argv is not None else sys.argv[1:])
    name = args.name or f"ab_{args.switch}_{args.n}"
    (ROOT / "bench" / "results" / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
