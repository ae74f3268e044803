"""Run the moss_ref benchmark harness and write bench/results/<name>.json and bench/RESULTS.md.

Usage (from the repository root, in the bench venv; see bench/README.md)::

    python bench/run.py              # full run, ~10-15 minutes on 2 cores
    python bench/run.py --quick      # N = 1k and 10k, few rounds: a smoke run of every section
    python bench/run.py --only query,memory

Sections: ``query`` (latency at N = 1k, 10k, 100k: kernels, moss_ref on each backend, qdrant local,
chroma), ``blas`` (numpy at 10k once more with the machine's default BLAS threads, in a subprocess),
``minilm`` (embedding speed against bare onnxruntime), ``ingest`` (add_docs with text
embedding), ``memory`` (bytes per stored vector, one subprocess per backend).

BLAS threads: unless ``--blas-threads default`` is given, the run sets ``OPENBLAS_NUM_THREADS=1``
(and the OMP/MKL equivalents) before numpy loads. On this 2-core shared machine a second BLAS thread
for a memory-bound matrix-vector product buys nothing and, whenever the other core is busy, costs a
scheduler wait per call (measured: ``M @ q`` at 10k x 384 goes from 0.2 ms to ~7.5 ms). The
``blas`` section measures the default setting too, so both are on record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
# interleaved rounds per N and group (numpy: kernel vs numpy backend; python: stdlib kernel vs python
# backend; competitors: numpy backend vs qdrant local and chroma)
FULL_ROUNDS = {
    1_000: {"numpy": 101, "python": 41, "competitors": 41},
    10_000: {"numpy": 101, "python": 21, "competitors": 41},
    100_000: {"numpy": 41, "python": 0, "competitors": 15},
}
QUICK_ROUNDS = {
    1_000: {"numpy": 11, "python": 7, "competitors": 7},
    10_000: {"numpy": 11, "python": 5, "competitors": 7},
}
SECTIONS = ("query", "blas", "minilm", "ingest", "memory")
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1k and 10k, few rounds (a smoke run)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--name", default=None, help="results/<name>.json (default: bench, or quick with --quick)")
    parser.add_argument("--blas-threads", choices=["1", "default"], default="1")
    parser.add_argument("--no-competitors", action="store_true", help="skip qdrant and chroma")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite bench/RESULTS.md")
    args = parser.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    default_env = dict(os.environ)
    if args.blas_threads == "1":
        for variable in THREAD_VARIABLES:
            os.environ[variable] = "1"

    sys.path.insert(0, HERE)
    from common import log, machine  # numpy loads here, after the thread variables are set

    name = args.name or ("quick" if args.quick else "bench")
    rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    command = " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    results: dict[str, Any] = {
        "name": name,
        "command": command,
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(),
    }
    started = time.perf_counter()

    if "query" in sections:
        from query import bench_n

        results["query"] = {}
        for n, r in rounds.items():
            results["query"][str(n)] = bench_n(n, r, python_backend=n <= 10_000, competitors=not args.no_competitors)
    if "blas" in sections:
        log("[blas] numpy at N=10k with the default BLAS threads (subprocess)")
        env = {k: v for k, v in default_env.items() if k not in THREAD_VARIABLES}
        done = subprocess.run(
            [
                sys.executable,
                os.path.join(HERE, "query.py"),
                "--n",
                "10000",
                "--numpy-only",
                "--rounds",
                str(rounds[10_000]["numpy"]),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results["blas_default_threads"] = json.loads(done.stdout)
    if "minilm" in sections:
        from embed import bench_minilm

        results["minilm"] = bench_minilm(rounds=40 if args.quick else 200, batch_rounds=5 if args.quick else 25)
    if "ingest" in sections:
        from ingest import bench_text_add_docs

        results["ingest"] = bench_text_add_docs(n=250 if args.quick else 1000, repeats=1 if args.quick else 3)
    if "memory" in sections:
        results["memory"] = []
        for n in (10_000,) if args.quick else (10_000, 100_000):
            for backend in ("numpy", "python"):
                for source in ("lists", "arrays"):
                    log(f"[memory] {backend} N={n} input={source} (subprocess)")
                    done = subprocess.run(
                        [
                            sys.executable,
                            os.path.join(HERE, "memory.py"),
                            "--backend",
                            backend,
                            "--n",
                            str(n),
                            "--input",
                            source,
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    results["memory"].append(json.loads(done.stdout))

    results["machine_after"] = {"load_average": machine()["load_average"]}
    results["wall_s"] = round(time.perf_counter() - started, 1)
    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    log(f"wrote {os.path.relpath(path)} ({results['wall_s']} s)")
    if not args.no_report:
        from report import write_report

        log(f"wrote {os.path.relpath(write_report(path))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
