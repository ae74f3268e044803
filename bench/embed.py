"""MiniLM embedding speed: each moss_ref MiniLM path against a bare onnxruntime run on the same token ids.

Contenders: ``minilm-onnx-fp32`` (the float32 graph built from model.safetensors), ``minilm-onnx``
(the int8 export) and ``minilm-numpy``, all in one run.

* single short sentence: ``embedder.embed([s])`` (tokenize, run, mean-pool, normalise, to lists)
  for every embedder, against ``InferenceSession.run`` of the very sessions ``minilm-onnx`` and
  ``minilm-onnx-fp32`` hold, fed the same token ids prepared in advance (so the ratio is exactly
  the tokenizer + pooling + conversion overhead);
* batches of 32: texts per second, same comparison (the bare runs get the same padded batch);
* the pure-Python WordPiece tokenizer alone, per sentence;
* accuracy: the largest error of each embedder against sentence-transformers on the golden texts
  (tests/data/minilm/golden.json): every pairwise score, each cosine, each component.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np
from common import interleaved, log, summary

SENTENCES = [
    "refund for a billing issue",
    "how do I reset my password",
    "my invoice shows the wrong amount",
    "the package arrived damaged",
    "can I change the delivery address",
    "cancel my subscription please",
    "where is my order",
    "the app crashes when I log in",
    "I was charged twice this month",
    "how long does shipping take to Canada",
    "update the credit card on my account",
    "prune tomato plants in early summer",
    "what are your opening hours on Sunday",
    "the discount code does not work",
    "I forgot the email I signed up with",
    "export my data as a spreadsheet",
    "two factor authentication codes never arrive",
    "is there a student discount",
    "the checkout page keeps loading",
    "how to return an item without a receipt",
    "my account was locked after three attempts",
    "add a second user to the team plan",
    "the tracking number is not valid",
    "can I pay with a bank transfer",
    "the battery drains overnight",
    "order arrived without the charger",
    "change the language of the dashboard",
    "notifications stopped working after the update",
    "what is the warranty on refurbished phones",
    "delete my account and all my data",
    "the invoice PDF will not download",
    "schedule a pickup for a return",
    "why was my card declined",
    "the size chart seems wrong for shoes",
    "how do I merge two accounts",
    "refund still not received after ten days",
    "the password reset link expired",
    "upgrade from the basic to the pro plan",
    "water the garden before the heat wave",
    "report a bug in the mobile app",
]


def _batches(size: int = 32, count: int = 4) -> list[list[str]]:
    return [[SENTENCES[(b * 7 + i) % len(SENTENCES)] + f" ({b}-{i})" for i in range(size)] for b in range(count)]


GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "minilm", "golden.json")


def _golden_errors(embedder: Any) -> dict[str, float]:
    """Largest |error| against sentence-transformers on the golden texts (what the tests check)."""
    with open(GOLDEN, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    want = np.array([c["vector"] for c in cases], dtype=np.float64)
    got = np.array(embedder.embed([c["text"] for c in cases]), dtype=np.float64)
    return {
        "max_score_error": float(np.abs(got @ got.T - want @ want.T).max()),
        "max_cosine_error": float((1.0 - (got * want).sum(axis=1)).max()),
        "max_component_error": float(np.abs(got - want).max()),
    }


def _create_embedders(out: dict[str, Any]) -> dict[str, Any]:
    from moss_ref_backends.minilm import numpy_embedder, onnx_embedder

    factories = {
        "minilm-onnx-fp32": onnx_embedder.create_fp32,
        "minilm-onnx": onnx_embedder.create,
        "minilm-numpy": numpy_embedder.create,
    }
    embedders: dict[str, Any] = {}
    for name, create in factories.items():
        start = time.perf_counter()
        try:
            embedders[name] = create("moss-minilm")
        except Exception as exc:  # weights, onnx or onnxruntime missing: say so in the results
            out[name] = f"unavailable: {getattr(exc, 'detail', None) or exc}"
            log(f"[minilm] {name} unavailable: {out[name]}")
            continue
        out.setdefault("create_s", {})[name] = round(time.perf_counter() - start, 3)
    fp32 = embedders.get("minilm-onnx-fp32")
    if fp32 is not None:  # "built": this run built the graph (create_s is the cold cost); "cached": read back
        out["fp32_graph"] = {"status": fp32.graph.status, "path": str(fp32.graph.path), "sha256": fp32.graph.sha256}
    return embedders


def bench_minilm(rounds: int, batch_rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    embedders = _create_embedders(out)
    if "minilm-onnx" not in embedders:
        log("[minilm] no onnx embedder: nothing to compare against")
        return out
    onnx = embedders["minilm-onnx"]
    out["onnx_precision"] = onnx.precision
    out["onnx_intra_op_threads"] = onnx._session.get_session_options().intra_op_num_threads
    session, output_name, token_types = onnx._session, onnx._output, onnx._token_types
    tokenizer = onnx.tokenizer
    fp32 = embedders.get("minilm-onnx-fp32")

    def feed(ids_list: list[list[int]], with_token_types: bool) -> dict[str, Any]:
        width = max(len(ids) for ids in ids_list)
        input_ids = np.zeros((len(ids_list), width), dtype=np.int64)
        mask = np.zeros((len(ids_list), width), dtype=np.int64)
        for r, ids in enumerate(ids_list):
            input_ids[r, : len(ids)] = ids
            mask[r, : len(ids)] = 1
        f = {"input_ids": input_ids, "attention_mask": mask}
        if with_token_types:
            f["token_type_ids"] = np.zeros_like(input_ids)
        return f

    single_ids = [[tokenizer.encode(s)] for s in SENTENCES]
    single_feeds = [feed(ids, token_types) for ids in single_ids]
    out["tokens_per_sentence_mean"] = round(sum(f["input_ids"].shape[1] for f in single_feeds) / len(single_feeds), 2)

    def sentence(r: int) -> str:
        return SENTENCES[r % len(SENTENCES)]

    contenders: dict[str, Any] = {
        "bare onnxruntime (same token ids)": lambda r: session.run([output_name], single_feeds[r % len(SENTENCES)]),
        "pure-Python WordPiece tokenizer alone": lambda r: tokenizer.encode(sentence(r)),
    }
    if fp32 is not None:
        fp32_feeds = [feed(ids, False) for ids in single_ids]
        contenders["bare onnxruntime, fp32 graph (same token ids)"] = lambda r: fp32._session.run(
            None, fp32_feeds[r % len(SENTENCES)]
        )
    for name, embedder in embedders.items():
        contenders[f"{name} embed([sentence])"] = lambda r, e=embedder: e.embed([sentence(r)])
    log(f"[minilm] single sentence: {len(contenders)} contenders x {rounds} rounds")
    times = interleaved(contenders, rounds, warmup=5)
    out["single"] = {name: summary(t) for name, t in times.items()}

    batches = _batches()
    by_length = [sorted(batch, key=lambda s: len(tokenizer.encode(s))) for batch in batches]
    batch_ids = [[tokenizer.encode(s) for s in batch] for batch in by_length]
    batch_feeds = [feed(ids, token_types) for ids in batch_ids]
    contenders = {"bare onnxruntime, batch of 32": lambda r: session.run([output_name], batch_feeds[r % len(batches)])}
    if fp32 is not None:
        fp32_batch_feeds = [feed(ids, False) for ids in batch_ids]
        contenders["bare onnxruntime, fp32 graph, batch of 32"] = lambda r: fp32._session.run(
            None, fp32_batch_feeds[r % len(batches)]
        )
    for name, embedder in embedders.items():
        contenders[f"{name} embed(32 texts)"] = lambda r, e=embedder: e.embed(batches[r % len(batches)])
    log(f"[minilm] batches of 32: {len(contenders)} contenders x {batch_rounds} rounds")
    times = interleaved(contenders, batch_rounds, warmup=2)
    out["batch32"] = {
        name: {**summary(t), "texts_per_s": round(32 / (summary(t)["p50_ms"] / 1000.0), 1)} for name, t in times.items()
    }
    out["golden_errors"] = {name: _golden_errors(e) for name, e in embedders.items()}
    for section in ("single", "batch32"):
        for name, s in out[section].items():
            log(
                f"    {name:48s} p50 {s['p50_ms']:9.3f} ms"
                + (f"  {s['texts_per_s']:8.1f} texts/s" if "texts_per_s" in s else "")
            )
    for name, errors in out["golden_errors"].items():
        log(f"    {name:18s} vs sentence-transformers: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="the MiniLM section alone, as JSON on stdout")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--batch-rounds", type=int, default=25)
    args = parser.parse_args()
    print(json.dumps(bench_minilm(args.rounds, args.batch_rounds), indent=1))
