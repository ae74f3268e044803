"""One of moss_ref's internal speed-ups on and off in the same worker, or this tree against an
earlier commit, beside the real SDK.

Two bench runs minutes apart differ by the machine's state as much as by a change (issue 9: a
threaded scan looked like 0.92x vs 0.94x that way). Here one moss_ref worker switches the
speed-up on and off query by query (``vs_moss_worker.py``'s ``switch``), and the real SDK's
query comes before each of ours, as in ``vs_moss.py``: caches are cold and threads asleep the
way they are there. Each round asks ``on`` and ``off`` in an order that alternates by round.
Medians; ratios to the real SDK's median of the same shape.

    .venv/bin/python bench/vs_moss_ab.py --switch scan_helper --n 100000 --rounds 60

``--against REF`` compares instead this working tree with the commit ``REF`` (``git archive`` into
a temporary directory, imported by a second moss_ref worker through ``PYTHONPATH``): the real
SDK's query before each of the two, their order alternating by round, so a change is measured
the way ``vs_moss.py`` would see it, minus the minutes between two runs.

    .venv/bin/python bench/vs_moss_ab.py --against 190c59d --n 100000 --rounds 40

Writes ``bench/results/<name>.json`` (default ``ab_<switch>_<n>``, or ``ab_vs_<REF>_<n>``). Uses
the data generator, workers and stand-in of ``vs_moss.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import vs_moss  # noqa: E402


def _checkout(ref: str, scratch: Path) -> tuple[Path, Path]:
    """``ref`` of this repository extracted under ``scratch``, and a directory for ``PYTHONPATH``
    that makes ``moss_ref`` and ``moss_ref_backends`` import from it."""
    tree = scratch / "ref"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    path = scratch / "refpath"
    path.mkdir()
    (path / "moss_ref").symlink_to(tree / "moss_ref")
    (path / "moss_ref_backends").symlink_to(tree / "backends")
    return tree, path


def run(
    switch: str, n: int, rounds: int, moss_python: str, scratch: Path, against: str | None = None
) -> dict[str, Any]:
    from moss_ref_conformance.standin import spawn

    folder = scratch / "data"
    folder.mkdir()
    vs_moss.make_data(folder, n)
    standin = spawn({"bench": "bench-key"}, max_body=2 << 30)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MOSS")}
    (scratch / "home").mkdir()
    numpy_env = {**base, "MOSS_REF_VECTOR_BACKEND": "numpy", "MOSS_REF_KEYWORD_BACKEND": "numpy"}
    contenders = [
        vs_moss.Contender(
            "real moss", moss_python, "moss", {**base, **standin.environment(), "HOME": str(scratch / "home")}
        )
    ]
    try:
        if against is not None:
            tree, path = _checkout(against, scratch)
            env = {**numpy_env, "MOSS_REF_STORE": str(scratch / "store-ref"), "PYTHONPATH": str(path)}
            contenders.append(vs_moss.Contender(against, sys.executable, "moss_ref", env, checkout=tree))
            arms = [against, "this tree"]
        else:
            arms = ["on", "off"]
        ours = vs_moss.Contender(
            "moss_ref numpy", sys.executable, "moss_ref", {**numpy_env, "MOSS_REF_STORE": str(scratch / "store")}
        )
        contenders.append(ours)
        real = contenders[0]
        worker = {arm: contenders[1] if against is not None and arm == against else ours for arm in arms}
        for c in contenders:
            c.ask(cmd="build", data=str(folder), n=n)
        out: dict[str, Any] = {"n": n, "contenders": {c.name: c.hello for c in contenders}}
        out["switch" if against is None else "against"] = switch if against is None else against
        for shape in vs_moss.SHAPES:
            times: dict[str, list[float]] = {"real moss": [], **{arm: [] for arm in arms}}
            for r in range(rounds + 2):  # two warm-up rounds
                for arm in arms if r % 2 else arms[::-1]:
                    real_ms = real.ask(cmd="query", shape=shape, i=r)["ms"]
                    if against is None:
                        ours.ask(cmd="switch", name=switch, on=arm == "on")
                    ms = worker[arm].ask(cmd="query", shape=shape, i=r)["ms"]
                    if r >= 2:
                        times["real moss"].append(real_ms)
                        times[arm].append(ms)
            med = {k: statistics.median(v) for k, v in times.items()}
            out[shape] = {k: {"p50_ms": v, "vs_real": v / med["real moss"]} for k, v in med.items()}
            cells = ", ".join(f"{k} {v:.3f} ms ({v / med['real moss']:.2f}x)" for k, v in med.items())
            print(f"  {n}: {shape}: {cells}", flush=True)
        return out
    finally:
        for c in contenders:
            c.close()
        standin.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switch", default="scan_helper", choices=["scan_helper", "rank_overlap"])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--moss-python", default=str(ROOT / ".venv-moss" / "bin" / "python"))
    parser.add_argument("--against", default=None, metavar="REF", help="compare this tree with commit REF instead")
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="moss-ab-"))
    try:
        result = run(args.switch, args.n, args.rounds, args.moss_python, scratch, args.against)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["command"] = "python bench/vs_moss_ab.py " + " ".join(argv if argv is not None else sys.argv[1:])
    name = args.name or (f"ab_{args.switch}_{args.n}" if args.against is None else f"ab_vs_{args.against}_{args.n}")
    (ROOT / "bench" / "results" / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
