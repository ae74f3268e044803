"""Turn bench/results/<name>.json (and results/store.json, when present) into a Markdown report.

``python bench/report.py bench/results/bench.json`` rewrites bench/RESULTS.md; any other results
file gets bench/results/<name>.md. ``run.py`` calls this at the end of a run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
NS = ("1000", "10000", "100000")
LABEL = {"1000": "1k", "10000": "10k", "100000": "100k"}

NUMPY_A1 = "moss numpy, alpha 1.0"
NUMPY_A1F = "moss numpy, alpha 1.0, filtered"
NUMPY_A1F_NEW = "moss numpy, alpha 1.0, filtered, new filter"
NUMPY_A08 = "moss numpy, alpha 0.8"
PY_A1 = "moss python, alpha 1.0"
PY_A1F = "moss python, alpha 1.0, filtered"
PY_A08 = "moss python, alpha 0.8"
KERNEL = "numpy kernel"
KERNEL_ROWS = "numpy kernel, matching rows"
KERNEL_ROWS_NEW = "numpy kernel, matching rows (new-filter group)"
STDLIB = "stdlib kernel"
STDLIB_ROWS = "stdlib kernel, matching rows"
QDRANT, QDRANT_F = "qdrant local, unfiltered", "qdrant local, filtered"
REF_A1 = "moss numpy, alpha 1.0 (with competitors)"
REF_A1F = "moss numpy, alpha 1.0, filtered (with competitors)"
CHROMA, CHROMA_F = "chroma, unfiltered", "chroma, filtered"


def _p50(results: dict[str, Any], n: str, name: str) -> float | None:
    entry = results.get("query", {}).get(n, {}).get("contenders", {}).get(name)
    return None if entry is None else float(entry["p50_ms"])


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def _fmt_x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x" if v < 100 else f"{v:,.0f}x"


def _verdict(ok: bool | None, miss: str = "") -> str:
    if ok is None:
        return "not measured"
    return "**met**" if ok else f"**missed**{(' (' + miss + ')') if miss else ''}"


def _auto_line(auto: dict[str, Any]) -> str:
    if not auto:
        return "not recorded"
    parts = [f"vector backend `{auto.get('vector_backend')}`"]
    for model_id in ("moss-minilm", "moss-mediumlm", "moss-litelm"):
        e = auto.get(model_id)
        if e:
            note = " (fallback, with a warning)" if e.get("fallback_warning") else ""
            parts.append(f"`{model_id}` -> `{e['embedder']}` {e['version']}{note}")
    return "; ".join(parts)


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []

    def add(
        target: str, value: float | None, fmt: Callable[[float | None], str], ok: bool | None, miss: str = ""
    ) -> None:
        rows.append((target, fmt(value), _verdict(ok, miss)))

    r = _ratio(_p50(results, "100000", NUMPY_A1), _p50(results, "100000", KERNEL))
    add(
        "numpy, alpha 1.0, 100k: p50 ≤ 1.5x the raw numpy kernel",
        r,
        _fmt_x,
        None if r is None else r <= 1.5,
        "" if r is None else f"by {r / 1.5:.2f}x",
    )
    v = _p50(results, "10000", NUMPY_A1)
    add(
        "numpy, alpha 1.0, 10k: p50 ≤ 1 ms",
        v,
        lambda x: _fmt_ms(x) + " ms",
        None if v is None else v <= 1.0,
        "" if v is None else f"by {v - 1.0:.3f} ms",
    )
    for n in NS:
        r = _ratio(_p50(results, n, NUMPY_A1F), _p50(results, n, KERNEL_ROWS))
        if r is not None:
            add(
                f"numpy, alpha 1.0, filtered 10%, {LABEL[n]}: p50 ≤ 1.5x scoring the matching rows alone",
                r,
                _fmt_x,
                r <= 1.5,
                f"by {r / 1.5:.2f}x",
            )
    r = _ratio(_p50(results, "100000", QDRANT), _p50(results, "100000", REF_A1))
    add(
        "100k unfiltered: ≥ 10x faster than qdrant local mode",
        r,
        _fmt_x,
        None if r is None else r >= 10,
        "" if r is None else f"{r:.1f}x of 10x",
    )
    r = _ratio(_p50(results, "100000", QDRANT_F), _p50(results, "100000", REF_A1F))
    add(
        "100k filtered 10%: ≥ 50x faster than qdrant local mode",
        r,
        _fmt_x,
        None if r is None else r >= 50,
        "" if r is None else f"{r:.1f}x of 50x",
    )
    v = _p50(results, "10000", NUMPY_A08)
    add(
        "default alpha 0.8 (hybrid), numpy, 10k: p50 ≤ 2 ms",
        v,
        lambda x: _fmt_ms(x) + " ms",
        None if v is None else v <= 2.0,
        "" if v is None else f"by {v - 2.0:.3f} ms",
    )
    for n in ("1000", "10000"):
        r = _ratio(_p50(results, n, PY_A1), _p50(results, n, STDLIB))
        if r is not None:
            add(
                f"pure-Python backend, {LABEL[n]}, unfiltered: ≤ 1.3x the best stdlib kernel",
                r,
                _fmt_x,
                r <= 1.3,
                f"by {r / 1.3:.2f}x",
            )
    m = results.get("minilm", {})
    single = m.get("single", {})
    bare = single.get("bare onnxruntime (same token ids)", {}).get("p50_ms")
    onnx = single.get("minilm-onnx embed([sentence])", {}).get("p50_ms")
    r = _ratio(onnx, bare)
    add(
        "MiniLM onnx, one short sentence: ≤ 1.2x the bare onnxruntime run",
        r,
        _fmt_x,
        None if r is None else r <= 1.2,
        "" if r is None else f"by {r / 1.2:.2f}x",
    )
    for name in ("minilm-onnx-fp32", "minilm-onnx"):
        tps = m.get("batch32", {}).get(f"{name} embed(32 texts)", {}).get("texts_per_s")
        add(
            f"MiniLM {name}, batches of 32: ≥ 400 short texts/s",
            tps,
            lambda x: "-" if x is None else f"{x:,.0f} texts/s",
            None if tps is None else tps >= 400,
            "" if tps is None else f"{tps:.0f} of 400",
        )
    err = m.get("golden_errors", {}).get("minilm-onnx-fp32", {}).get("max_score_error")
    add(
        "MiniLM minilm-onnx-fp32: largest score error vs sentence-transformers ≤ 1e-5 (golden texts)",
        err,
        lambda x: "-" if x is None else f"{x:.1e}",
        None if err is None else err <= 1e-5,
    )
    for backend, limit in (("numpy", 1.1), ("python", 1.3)):
        mem = [e for e in results.get("memory", []) if e["backend"] == backend and e["input"] == "lists"]
        if mem:
            e = max(mem, key=lambda e: e["n"])
            add(
                f"memory, {backend}, {e['n'] // 1000}k vectors: peak ≤ {limit}x the raw float32 bytes",
                e["peak_ratio"],
                _fmt_x,
                e["peak_ratio"] <= limit,
                f"by {e['peak_ratio'] / limit:.2f}x",
            )
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def render(results: dict[str, Any], store: dict[str, Any] | None, source: str) -> str:
    mach = results.get("machine", {})
    lines = [
        "# moss_ref benchmark results",
        "",
        f"Generated by `bench/report.py` from `{source}`; do not edit by hand. "
        "How to run and read it: `bench/README.md`.",
        "",
        f"- Command: `{results.get('command')}` "
        f"(wall time {results.get('wall_s')} s, started {results.get('started')})",
        f"- Machine: {mach.get('processor')}, {mach.get('cpu_count')} cores ({mach.get('usable_cpus')} usable), "
        f"{mach.get('platform')}; Python {mach.get('python')}; numpy {mach.get('numpy')} with "
        f"{(mach.get('blas') or {}).get('name')} {(mach.get('blas') or {}).get('version')}",
        f"- Load average at start {mach.get('load_average')}, "
        f"at end {results.get('machine_after', {}).get('load_average')} (a shared machine: other work ran alongside; "
        "every ratio below is between medians of the same interleaved run)",
        f"- BLAS threads: OPENBLAS_NUM_THREADS={mach.get('OPENBLAS_NUM_THREADS')} (see 'Default BLAS threads' below)",
        f"- Packages: {', '.join(f'{k} {v}' for k, v in (mach.get('packages') or {}).items() if v)}",
        f"- `auto` picks here: {_auto_line(mach.get('auto') or {})}",
        "",
        "## Targets",
        "",
    ]
    lines += _table(["target", "measured", "verdict"], [list(t) for t in targets(results)])
    query = results.get("query", {})
    ns = [n for n in NS if n in query]
    if ns:
        lines += [
            "",
            "## Query latency",
            "",
            "p50 in ms; top_k 10, custom 384-d unit vectors; filter = `bucket $eq b` keeping 10% (b rotates over "
            "10 values); alpha 0.8 = hybrid with BM25 over 12-word documents. Each table is one comparison, "
            "run as its own interleaved group.",
        ]
        titles = {
            "numpy": "numpy backend against the raw numpy kernel",
            "numpy-new-filter": "numpy backend with a filter never seen before, against the same kernel",
            "python": "pure-Python backend against the best stdlib kernel",
            "competitors": "numpy backend against qdrant local mode and chroma",
        }
        for group, title in titles.items():
            gns = [n for n in ns if group in query[n].get("groups", {})]
            if not gns:
                continue
            names: list[str] = []
            for n in gns:
                for name in query[n]["groups"][group]["contenders"]:
                    if name not in names:
                        names.append(name)
            rounds = ", ".join(f"{LABEL[n]}: {query[n]['groups'][group]['rounds']}" for n in gns)
            lines += ["", f"### {title}", "", f"Interleaved rounds: {rounds}.", ""]
            lines += _table(
                ["contender", *[f"N = {LABEL[n]}" for n in gns]],
                [[name, *[_fmt_ms(_p50(results, n, name)) for n in gns]] for name in names],
            )
        lines += ["", "p10/p90 of every contender are in the JSON.", "", "### Ratios (same group, medians)", ""]
        ratio_rows = [
            ("moss numpy alpha 1.0 / numpy kernel", NUMPY_A1, KERNEL),
            ("moss numpy alpha 1.0 filtered / numpy kernel on matching rows", NUMPY_A1F, KERNEL_ROWS),
            (
                "moss numpy alpha 1.0 filtered, new filter / numpy kernel on matching rows",
                NUMPY_A1F_NEW,
                KERNEL_ROWS_NEW,
            ),
            ("moss numpy alpha 0.8 / moss numpy alpha 1.0", NUMPY_A08, NUMPY_A1),
            ("moss python alpha 1.0 / best stdlib kernel", PY_A1, STDLIB),
            ("moss python alpha 1.0 filtered / stdlib kernel on matching rows", PY_A1F, STDLIB_ROWS),
            ("moss python alpha 0.8 / moss python alpha 1.0", PY_A08, PY_A1),
            ("qdrant local / moss numpy (unfiltered)", QDRANT, REF_A1),
            ("qdrant local / moss numpy (filtered)", QDRANT_F, REF_A1F),
            ("chroma / moss numpy (unfiltered)", CHROMA, REF_A1),
            ("chroma / moss numpy (filtered)", CHROMA_F, REF_A1F),
        ]
        lines += _table(
            ["ratio", *[f"N = {LABEL[n]}" for n in ns]],
            [
                [label, *[_fmt_x(_ratio(_p50(results, n, a), _p50(results, n, b))) for n in ns]]
                for label, a, b in ratio_rows
            ],
        )
        recall_names = sorted({k for n in ns for k in query[n].get("recall_at_10", {})})
        lines += [
            "",
            "Recall@10 against the exact ranking (16 queries; moss_ref must and does return the exact "
            "ranking, checked before timing; chroma is an approximate HNSW index):",
            "",
        ]
        lines += _table(
            ["engine", *[f"N = {LABEL[n]}" for n in ns]],
            [[e, *[str(query[n].get("recall_at_10", {}).get(e, "-")) for n in ns]] for e in recall_names],
        )
        kernels = {n: query[n].get("stdlib_kernels_p50_ms") for n in ns if query[n].get("stdlib_kernels_p50_ms")}
        if kernels:
            lines += ["", "Pure-Python kernels tried (p50 ms; the fastest is 'stdlib kernel'):", ""]
            knames = sorted({k for v in kernels.values() for k in v})
            lines += _table(
                ["kernel", *[f"N = {LABEL[n]}" for n in kernels]],
                [[k, *[_fmt_ms(kernels[n].get(k)) for n in kernels]] for k in knames],
            )
    blas = results.get("blas_default_threads")
    if blas:
        lines += [
            "",
            "## Default BLAS threads",
            "",
            "The same numpy comparison at N = 10k in a subprocess that keeps the machine's default BLAS threading "
            "(OPENBLAS_NUM_THREADS unset):",
            "",
        ]
        lines += _table(
            ["contender", "p50 ms", "p90 ms"],
            [[k, _fmt_ms(v["p50_ms"]), _fmt_ms(v["p90_ms"])] for k, v in blas["contenders"].items()],
        )
    ingest_rows = []
    for n in ns:
        for backend, rate in query[n].get("add_docs_docs_per_s", {}).items():
            ingest_rows.append([f"custom 384-d vectors, {backend} backend, N = {LABEL[n]}", f"{rate:,.0f}"])
    for embedder, v in (results.get("ingest") or {}).items():
        if isinstance(v, dict):
            ingest_rows.append(
                [f"text, embedder {embedder} ({results['ingest']['docs']} short docs)", f"{v['docs_per_s']:,.0f}"]
            )
        elif embedder not in ("docs", "batch"):
            ingest_rows.append([f"text, embedder {embedder}", str(v)])
    if ingest_rows:
        lines += ["", "## add_docs throughput", "", "Batches of 1,000 (custom) or 250 (text) documents per call.", ""]
        lines += _table(["what", "docs/s"], ingest_rows)
    m = results.get("minilm")
    if m and "single" in m:
        bare = m["single"]["bare onnxruntime (same token ids)"]["p50_ms"]
        lines += [
            "",
            "## MiniLM embedding",
            "",
            f"all-MiniLM-L6-v2, onnx weights {m.get('onnx_precision')}, {m.get('onnx_intra_op_threads')} intra-op "
            f"threads; short sentences of {m.get('tokens_per_sentence_mean')} tokens on average "
            "([CLS]/[SEP] included). 'bare onnxruntime' runs the very session `minilm-onnx` (or, for the fp32 "
            "graph, `minilm-onnx-fp32`) holds on token ids prepared in advance.",
            "",
        ]
        rows = [[k, _fmt_ms(v["p50_ms"]), _fmt_x(v["p50_ms"] / bare)] for k, v in m["single"].items()]
        lines += _table(["one sentence", "p50 ms", "vs bare onnxruntime"], rows)
        bare_b = m["batch32"]["bare onnxruntime, batch of 32"]["p50_ms"]
        lines += [""]
        rows = [
            [k, _fmt_ms(v["p50_ms"]), f"{v['texts_per_s']:,.0f}", _fmt_x(v["p50_ms"] / bare_b)]
            for k, v in m["batch32"].items()
        ]
        lines += _table(["batch of 32", "p50 ms", "texts/s", "vs bare onnxruntime"], rows)
        errors = m.get("golden_errors")
        if errors:
            lines += ["", "Largest error against sentence-transformers on the golden texts (tests/data/minilm):", ""]
            rows = [
                [k, f"{v['max_score_error']:.1e}", f"{v['max_cosine_error']:.1e}", f"{v['max_component_error']:.1e}"]
                for k, v in errors.items()
            ]
            lines += _table(["embedder", "pairwise score", "1 - cosine", "component"], rows)
    mem = results.get("memory")
    if mem:
        lines += [
            "",
            "## Memory per stored vector",
            "",
            "Vector backend alone, loaded with `put` in batches of 1,000; raw float32 = 1,536 bytes per 384-d vector. "
            "tracemalloc (numpy reports its buffers): peak during the load and retained after it. (The JSON also has "
            "the growth of resident memory, which mixes in allocator reuse of the input's pages: a cross-check, "
            "not a per-vector cost.)",
            "",
        ]
        rows = [
            [
                e["backend"],
                f"{e['n']:,}",
                e["input"],
                f"{e['peak_bytes_per_vector']:,.0f}",
                _fmt_x(e["peak_ratio"]),
                f"{e['retained_bytes_per_vector']:,.0f}",
                _fmt_x(e["retained_ratio"]),
            ]
            for e in mem
        ]
        lines += _table(
            ["backend", "N", "input", "peak B/vector", "peak ratio", "retained B/vector", "retained ratio"], rows
        )
    if store:
        s, sess = store.get("store", {}), store.get("session", {})
        lines += [
            "",
            "## Store (from results/store.json, `bench/bench_store.py`)",
            "",
            f"{store.get('docs'):,} documents x {store.get('dim')} dimensions; command `{store.get('command')}`.",
            "",
        ]
        rows = [
            ["DirectoryStore.write_index", f"{s.get('write_index_median_s')} s"],
            ["DirectoryStore.read_index", f"{s.get('read_index_median_s')} s"],
        ]
        if sess:
            rows += [
                [f"session add_docs ({sess.get('vector_backend')} vectors)", f"{sess.get('add_docs_s')} s"],
                ["session push_index", f"{sess.get('push_index_median_s')} s"],
                ["resume (client.session)", f"{sess.get('resume_session_median_s')} s"],
            ]
        lines += _table(["step (median)", "time"], rows)
    return "\n".join(lines) + "\n"


def write_report(path: str) -> str:
    with open(path) as f:
        results = json.load(f)
    store_path = os.path.join(HERE, "results", "store.json")
    store = None
    if os.path.exists(store_path):
        with open(store_path) as f:
            store = json.load(f)
    name = results.get("name", os.path.splitext(os.path.basename(path))[0])
    out = os.path.join(HERE, "RESULTS.md") if name == "bench" else os.path.join(HERE, "results", f"{name}.md")
    with open(out, "w") as f:
        f.write(render(results, store, os.path.relpath(path, os.path.dirname(HERE))))
    return out


if __name__ == "__main__":
    print(write_report(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "bench.json")))
