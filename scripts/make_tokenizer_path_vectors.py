"""Write ``spec_tests/vectors/query/tokenizer_paths.json`` from the real SDK: texts that take a
batch tokenizer's rare ways, and stored keyword lengths that a resume must read back.

A fast keyword tokenizer splits a whole batch of texts at once and maps each run of word
characters through a cache, with fallbacks for what the cache cannot hold. Each case here adds
a batch that only a correct fallback tokenizes right, then asks keyword queries (alpha 0) whose
scores depend on every document's terms and length:

* a NUL between spaces inside a text (a batch joined by NUL must not cut the text there);
* texts whose every run of word characters holds two words (``zed:1`` is ``zed`` and ``1``);
* words of underscores only (dropped) in a batch that also holds such a two-word run;
* a word whose 32-bit term id is 0 (``bfbhotoi``: FxHash, found by inverting its last block),
  which an index using 0 as "no term" would lose;
* a document of stop words only (in the keyword index with no terms) beside a blank one (not
  in it) across a push and a resume, where N, and so every idf, tells them apart.

Every ``expect`` is what moss 1.21.0 answered. Run with the real SDK installed, offline::

    .venv-moss/bin/python scripts/make_tokenizer_path_vectors.py

then run the cases against moss_ref (``moss-conformance run --test query.tokenizer_paths``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _recording import record, write

OUT = Path(__file__).resolve().parents[1] / "spec_tests" / "vectors" / "query" / "tokenizer_paths.json"
OPEN = {"op": "open_session", "args": {"index": "kb", "model_id": "custom"}}


def add(*docs: tuple[str, str]) -> dict[str, Any]:
    return {"op": "add_docs", "args": {"docs": [{"id": i, "text": t, "embedding": [1, 0]} for i, t in docs]}}


def find(text: str, top_k: int = 10, **args: Any) -> dict[str, Any]:
    return {"op": "query", "args": {"query": text, "embedding": [1, 0], "alpha": 0.0, "top_k": top_k, **args}}


CASES: list[dict[str, Any]] = [
    {
        "name": "nul_between_spaces_inside_a_text",
        "rules": ["QRY-3"],
        "description": "A NUL with spaces around it inside a text separates words like any punctuation; "
        "it does not end the document: both words stay with it, and the next text's words with the next.",
        "steps": [
            add(("p", "apple \u0000 banana"), ("q", "cherry banana")),
            find("banana"),
            add(("r", " \u0000 "), ("s", "damson")),
            find("apple"),
            find("cherry"),
            find("damson"),
            add(("t", "elder \u0000 \u0000 fig"), ("u", "fig gum")),
            find("fig"),
            find("elder"),
        ],
    },
    {
        "name": "runs_of_two_words_only",
        "rules": ["QRY-3"],
        "description": "A run of word characters can hold two words (`zed:1` is `zed` and `1`: a colon joins "
        "letters only); a batch whose every run is such a pair is tokenized like any other.",
        "steps": [
            add(("x", "zed:1")),
            find("zed"),
            add(("y", "yak:2 gnu.3"), ("z", "emu,4")),
            find("gnu"),
            find("emu yak"),
            find("1 2"),
        ],
    },
    {
        "name": "underscore_words_beside_a_two_word_run",
        "rules": ["QRY-3", "KW-2"],
        "description": "Words of underscores only are dropped also in a batch that a two-word run sends "
        "the slow way: `u` has three terms like `v`, so the two tie on `alpha` (a longer `u` would score lower).",
        "steps": [
            add(("u", "zed:1 ___ alpha"), ("v", "alpha beta gamma"), ("w", "delta _ __")),
            find("alpha"),
            find("___ alpha"),
            find("zed delta"),
        ],
    },
    {
        "name": "a_word_whose_term_id_is_zero",
        "rules": ["QRY-3", "KW-1"],
        "description": "`bfbhotoi`, `bfbprtoi` and `bfbxetoi` hash to term id 0 (32-bit FxHash of the stem); "
        "they are words like any other, alone in a batch or beside others.",
        "steps": [
            add(("z", "bfbhotoi")),
            find("bfbhotoi"),
            add(("z2", "bfbprtoi alpha"), ("z3", "bfbxetoi bfbxetoi beta")),
            find("bfbprtoi"),
            find("bfbxetoi bfbhotoi"),
            find("alpha beta"),
        ],
    },
    {
        "name": "stop_words_only_and_blank_documents_after_a_resume",
        "features": ["query", "persistence"],
        "rules": ["QRY-17", "KW-1", "SES-4", "STO-12"],
        "description": "A text of stop words only is in the keyword index with no terms (it counts in N and "
        "the average length); a blank one with no metadata is not. `q` ranks above `p` only while `s` counts "
        "(N 4, average length 2); a resumed session ranks as the pushed one.",
        "steps": [
            add(("s", "the of and"), ("p", "alpha zeta eta theta"), ("q", "gamma gamma"), ("r", "gamma beta")),
            add(("d", ""), ("e", " \t")),
            find("alpha gamma"),
            {"op": "push_index"},
            {"op": "open_session", "args": {"index": "kb", "model_id": None, "session": "r"}},
            find("alpha gamma", session="r"),
        ],
    },
]


def main() -> None:
    head = {
        "group": "query.tokenizer_paths",
        "description": "Batches that only a batch tokenizer's fallbacks get right, and keyword lengths that a "
        "resume must read back (observed: moss 1.21.0; scripts/make_tokenizer_path_vectors.py).",
        "level": "required",
        "features": ["query"],
        "setup": [{**OPEN, "expect": {"result": {"name": "kb", "model_id": "custom", "doc_count": 0}}}],
    }
    write(OUT, head, record(CASES, OPEN, ["query", "persistence"]))


if __name__ == "__main__":
    main()
