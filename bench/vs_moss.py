"""moss_ref against the real moss SDK, side by side in one run, on a common-word workload (issue 9).

Each contender is a worker process (``bench/vs_moss_worker.py``) driving the async public API with
a custom model: the real ``moss`` SDK (its own interpreter, ``--moss-python``, offline through the
kit's loopback stand-in), moss_ref with the ``numpy`` vector and keyword backends, and (10k only)
moss_ref with numpy vectors and the pure-Python keyword backend, and moss_ref pure Python.
All see the same documents and queries. Queries are timed inside the worker around the API call
and interleaved: every round asks each contender for the same query, in an order that rotates
every round, so noise from the shared machine lands on all alike. Figures are medians; ratios are
between medians of the same run.

Data (seeded, realistic): 16-word texts: 4 English stop words (which the keyword tokenizer drops,
as the real SDK does), 5 words drawn Zipf-like from 40 common English content words (the top
ones are each in a large share of the documents) and 7 from 4,000 rare content words; 384-d unit
vectors clustered around 64 centroids; metadata ``bucket`` with 10 values (an ``$eq`` filter keeps 10%). Query shapes:

* ``vector``: alpha 1.0;
* ``hybrid_common``: the default alpha (0.8) with 3-4 of the 12 most common content words — the
  case a postings loop pays for, since each word is in a large share of the documents;
* ``hybrid_rare``: the default alpha with two content words of Zipf rank 500-3,000;
* ``filtered``: alpha 1.0 with ``bucket $eq`` (10%).

Also measured: add_docs rate (batches of 1,000), push, resume (moss_ref; the real SDK needs the
service to resume), the store's own ``write_index``/``read_index`` of the same snapshot in the same
worker (the yardstick of push and resume; five rounds of push, store write and read, resume, in
turn, medians), and resident-memory growth while building the corpus.

Usage::

    .venv/bin/python bench/vs_moss.py                          # 10k and 100k (~10 min on 2 cores)
    .venv/bin/python bench/vs_moss.py --sizes 10000 --rounds 30 --name quick
    .venv/bin/python bench/vs_moss.py --moss-python .venv-moss/bin/python

Writes ``bench/results/<name>.json`` (default ``vs_moss``) and ``bench/VS_MOSS.md``.

The moss_ref workers must import this checkout: each reports the files of ``moss_ref`` and
``moss_ref_backends`` it imported, and the harness stops if they lie elsewhere (an editable
install made from another worktree). From a worktree, put it first on ``PYTHONPATH`` with a
directory holding a ``moss_ref_backends`` link to its ``backends/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIM = 384
#: Stop words (dropped by the keyword tokenizer, as in the real SDK) and common content words,
#: which are not: each of the top ones is in a large share of the documents, so their postings are
#: long — the case a postings loop pays for.
STOP = "the a and to of in is for on with your you it this we can be at by not are was have from".split()
COMMON = (
    "time year people way day man thing life child world school state family student group country "
    "problem hand part place case week company system program question work government number night "
    "point home water room area money story fact month book"
).split()
SHAPES = ("vector", "hybrid_common", "hybrid_rare", "filtered")


def _content_words(n: int, rng: random.Random) -> list[str]:
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _zipf_sampler(n: int, rng: random.Random, s: float = 1.0) -> Any:
    weights = [1.0 / (rank**s) for rank in range(1, n + 1)]
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)

    def draw(k: int) -> list[int]:
        return [min(n - 1, _bisect(cumulative, rng.random() * total)) for _ in range(k)]

    return draw


def _bisect(a: list[float], x: float) -> int:
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def make_data(folder: Path, n: int, seed: int = 11) -> dict[str, Any]:
    """Documents, vectors and 20 queries per shape, written to ``folder``."""
    rng = random.Random(seed)
    content = _content_words(4000, rng)
    common_draw = _zipf_sampler(len(COMMON), rng, 0.8)
    content_draw = _zipf_sampler(len(content), rng, 1.0)
    centroids = [_unit([rng.gauss(0, 1) for _ in range(DIM)]) for _ in range(64)]
    vectors = array("f")
    with folder.joinpath("docs.jsonl").open("w", encoding="utf-8") as out:
        for i in range(n):
            words = rng.sample(STOP, 4) + [COMMON[j] for j in common_draw(5)] + [content[j] for j in content_draw(7)]
            rng.shuffle(words)
            c = centroids[rng.randrange(64)]
            vectors.extend(_unit([x + rng.gauss(0, 0.35 / math.sqrt(DIM)) * 4 for x in c]))
            doc = {"id": f"doc-{i:06d}", "text": " ".join(words), "metadata": {"bucket": f"b{i % 10}"}}
            out.write(json.dumps(doc) + "\n")
    folder.joinpath("vectors.f32").write_bytes(vectors.tobytes())
    queries: dict[str, list[dict[str, Any]]] = {shape: [] for shape in SHAPES}
    for q in range(20):
        embedding = _unit([x + rng.gauss(0, 0.5 / math.sqrt(DIM)) * 4 for x in centroids[rng.randrange(64)]])
        common_text = " ".join(rng.sample(COMMON[:12], rng.randint(3, 4)))
        rare_text = " ".join(content[rng.randint(500, 3000)] for _ in range(2))
        queries["vector"].append({"text": common_text, "embedding": embedding, "alpha": 1.0})
        queries["hybrid_common"].append({"text": common_text, "embedding": embedding})
        queries["hybrid_rare"].append({"text": rare_text, "embedding": embedding})
        queries["filtered"].append(
            {
                "text": common_text,
                "embedding": embedding,
                "alpha": 1.0,
                "filter": {"field": "bucket", "condition": {"$eq": f"b{q % 10}"}},
            }
        )
    folder.joinpath("queries.json").write_text(json.dumps(queries))
    folder.joinpath("meta.json").write_text(json.dumps({"dim": DIM, "n": n, "seed": seed}))
    return queries


class Contender:
    """A worker process and the line protocol to it."""

    def __init__(self, name: str, python: str, module: str, env: dict[str, str], checkout: Path = ROOT) -> None:
        self.name = name
        worker = str(ROOT / "bench" / "vs_moss_worker.py")
        self.process = subprocess.Popen(
            [python, worker, module], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.hello = self._read()
        if module == "moss_ref":  # measure ``checkout``, not whatever an editable install points at
            for key, folder in (("file", "moss_ref"), ("backends", "backends")):
                found = self.hello.get(key)
                if found is not None and not str(Path(found).resolve()).startswith(str((checkout / folder).resolve())):
                    self.close()
                    raise RuntimeError(
                        f"{name}: imports {found}, not the {folder}/ of {checkout}; put that checkout first "
                        "on PYTHONPATH (and a directory linking moss_ref_backends to its backends/)"
                    )

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: worker exited")
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"{self.name}: {request.get('cmd')}: {answer['error']}")
        return answer

    def close(self) -> None:
        try:
            self.ask(cmd="quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self.process.wait(timeout=30)


def run_size(n: int, rounds: int, moss_python: str, scratch: Path, with_python: bool) -> dict[str, Any]:
    from moss_ref_conformance.standin import spawn

    folder = scratch / f"data-{n}"
    folder.mkdir()
    make_data(folder, n)
    standin = spawn({"bench": "bench-key"}, max_body=2 << 30)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MOSS")}
    contenders: list[Contender] = []
    try:
        home = scratch / f"home-{n}"
        home.mkdir()
        real_env = {**base_env, **standin.environment(), "HOME": str(home)}
        contenders.append(Contender("real moss", moss_python, "moss", real_env))
        store = scratch / f"store-{n}"

        def env(folder: str, vectors: str, keywords: str) -> dict[str, str]:
            return {
                **base_env,
                "MOSS_REF_STORE": str(store / folder),
                "MOSS_REF_VECTOR_BACKEND": vectors,
                "MOSS_REF_KEYWORD_BACKEND": keywords,
            }

        contenders.append(Contender("moss_ref numpy", sys.executable, "moss_ref", env("numpy", "numpy", "numpy")))
        if with_python:
            contenders.append(
                Contender("moss_ref numpy+py-kw", sys.executable, "moss_ref", env("mixed", "numpy", "python"))
            )
            contenders.append(
                Contender("moss_ref python", sys.executable, "moss_ref", env("python", "python", "python"))
            )
        out: dict[str, Any] = {"n": n, "contenders": {c.name: c.hello for c in contenders}, "build": {}}
        for c in contenders:
            out["build"][c.name] = c.ask(cmd="build", data=str(folder), n=n)
            print(f"  {n}: {c.name}: add_docs {out['build'][c.name]['docs_per_s']:.0f} docs/s", flush=True)
        out["query"] = {}
        for shape in SHAPES:
            times: dict[str, list[float]] = {c.name: [] for c in contenders}
            cpu: dict[str, list[float]] = {c.name: [] for c in contenders}
            agree = []
            for r in range(rounds + 2):  # two warm-up rounds
                order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
                answers = {c.name: c.ask(cmd="query", shape=shape, i=r) for c in order}
                if r >= 2:
                    for name, answer in answers.items():
                        times[name].append(answer["ms"])
                        cpu[name].append(answer["cpu_ms"])
                    real_ids = answers["real moss"]["ids"]
                    agree.append(all(a["ids"] == real_ids for a in answers.values()))
            out["query"][shape] = {
                name: {
                    "p50_ms": statistics.median(t),
                    "p90_ms": sorted(t)[int(len(t) * 0.9)],
                    "cpu_p50_ms": statistics.median(cpu[name]),
                }
                for name, t in times.items()
            }
            out["query"][shape]["same_ids_as_real_moss"] = f"{sum(agree)}/{len(agree)}"
            line = ", ".join(
                f"{name} {v['p50_ms']:.3f} ms" for name, v in out["query"][shape].items() if isinstance(v, dict)
            )
            print(f"  {n}: {shape}: {line}; same ids {out['query'][shape]['same_ids_as_real_moss']}", flush=True)
        out["push_ms"] = {}
        out["resume_ms"] = {}
        out["store_write_ms"] = {}
        out["store_read_ms"] = {}
        for c in contenders:
            if c.name == "real moss":  # ~30 s a push at 100k; resuming through the stand-in needs the service
                out["push_ms"][c.name] = statistics.median(c.ask(cmd="push")["ms"] for _ in range(3))
                continue
            # push, the store's own write and read, resume: interleaved, so the store's yardstick is
            # taken under the same conditions as what it measures (the disk's speed drifts by 2x)
            pushes, writes, reads, resumes = [], [], [], []
            for _ in range(5):
                pushes.append(c.ask(cmd="push")["ms"])
                io = c.ask(cmd="store_io")
                writes.append(io["write_ms"])
                reads.append(io["read_ms"])
                resumes.append(c.ask(cmd="resume")["ms"])
            out["push_ms"][c.name] = statistics.median(pushes)
            out["store_write_ms"][c.name] = statistics.median(writes)
            out["store_read_ms"][c.name] = statistics.median(reads)
            out["resume_ms"][c.name] = statistics.median(resumes)
        print(
            f"  {n}: push {out['push_ms']}, resume {out['resume_ms']}, "
            f"store write {out['store_write_ms']}, store read {out['store_read_ms']}",
            flush=True,
        )
        return out
    finally:
        for c in contenders:
            c.close()
        standin.stop()


def render(results: dict[str, Any]) -> str:
    lines = [
        "# moss_ref vs the real moss SDK (generated by `bench/vs_moss.py`)",
        "",
        f"Command: `{results['command']}`. Machine: {results['machine']}. Medians over {results['rounds']} "
        "interleaved rounds, top_k 10, custom 384-d vectors, common-word texts (see the script's docstring).",
        "",
    ]
    for size in results["sizes"]:
        names = list(size["contenders"])
        lines += [
            f"## {size['n']:,} documents",
            "",
            "| | " + " | ".join(names) + " | moss_ref numpy / real |",
            "|---|" + "---:|" * (len(names) + 1),
        ]
        for shape in SHAPES:
            row = size["query"][shape]
            ratio = row["moss_ref numpy"]["p50_ms"] / row["real moss"]["p50_ms"]
            cells = [f"{row[n]['p50_ms']:.3f} ms" for n in names]
            lines.append(
                f"| {shape} (same ids: {row['same_ids_as_real_moss']}) | " + " | ".join(cells) + f" | {ratio:.2f}x |"
            )
        vector = size["query"]["vector"]
        if all("cpu_p50_ms" in vector[n] for n in names):  # results written before CPU time was kept lack it
            lines.append(
                "| vector: CPU time / wall time (all threads) | "
                + " | ".join(f"{vector[n]['cpu_p50_ms'] / vector[n]['p50_ms']:.2f}" for n in names)
                + " | |"
            )
        build = size["build"]
        ratio = build["moss_ref numpy"]["docs_per_s"] / build["real moss"]["docs_per_s"]
        lines.append(
            "| add_docs | " + " | ".join(f"{build[n]['docs_per_s']:,.0f} docs/s" for n in names) + f" | {ratio:.2f}x |"
        )
        lines.append("| push | " + " | ".join(f"{size['push_ms'][n]:,.0f} ms" for n in names) + " | |")
        lines.append(
            "| resume | "
            + " | ".join(
                f"{size['resume_ms'][n]:,.0f} ms" if n in size["resume_ms"] else "needs the service" for n in names
            )
            + " | |"
        )
        for label, key, own in (("push", "push_ms", "store_write_ms"), ("resume", "resume_ms", "store_read_ms")):
            if own in size:  # results written before the store yardstick existed lack it
                ratios = {n: size[key][n] / size[own][n] for n in names if n in size[own]}
                lines.append(
                    f"| {label} / the store's own {'write' if label == 'push' else 'read'} | "
                    + " | ".join(f"{ratios[n]:.2f}x ({size[own][n]:,.0f} ms)" if n in ratios else "" for n in names)
                    + " | |"
                )
        mem = {n: build[n]["rss_growth"] / size["n"] for n in names}
        ratio = mem["moss_ref numpy"] / mem["real moss"]
        lines.append(
            "| resident memory growth | " + " | ".join(f"{mem[n]:,.0f} B/doc" for n in names) + f" | {ratio:.2f}x |"
        )
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["10000,100000"], help="e.g. 10000 100000 (or 10000,100000)")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--moss-python", default=str(ROOT / ".venv-moss" / "bin" / "python"))
    parser.add_argument("--name", default="vs_moss")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="moss-vs-"))
    try:
        sizes = [int(s) for part in args.sizes for s in part.split(",") if s]
        results = {
            "command": "python bench/vs_moss.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "rounds": args.rounds,
            "sizes": [run_size(n, args.rounds, args.moss_python, scratch, with_python=n <= 10000) for n in sizes],
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out = ROOT / "bench" / "results" / f"{args.name}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    if args.name == "vs_moss":
        (ROOT / "bench" / "VS_MOSS.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
