"""Write ``spec_tests/vectors/query/keyword_shortlist.json`` from the real SDK: keyword queries
whose words are in many documents, with ties at the k-th place.

A keyword backend that scores in floating point and keeps a *shortlist* (every row whose
approximate score is at least a floor just below the k-th largest, then rescored exactly, as
moss_ref's numpy backend does for queries of more than 64 postings) must put the floor at or
below the k-th score: a floor a few ulps too high drops the documents tied at the k-th place,
and the answer comes back short. Here 70 documents hold `alpha` (10 of each length from 1 to
7 words) and some hold `beta` too, so the top k always ends inside a group of ties.

Every ``expect`` is what moss 1.21.0 answered. Run with the real SDK installed, offline::

    .venv-moss/bin/python scripts/make_keyword_shortlist_vectors.py

then run the cases against moss_ref on both keyword backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _recording import record, write

OUT = Path(__file__).resolve().parents[1] / "spec_tests" / "vectors" / "query" / "keyword_shortlist.json"
OPEN = {"op": "open_session", "args": {"index": "kb", "model_id": "custom"}}
FILLER = ["zeta", "eta", "theta", "iota", "kappa", "lamda"]


def docs() -> list[dict[str, Any]]:
    out = []
    for i in range(70):
        words = ["alpha", *FILLER[: i % 7]]
        if i % 3 == 0:
            words.append("beta")
        out.append({"id": f"d{i:02d}", "text": " ".join(words), "embedding": [1, 0]})
    return out


def find(text: str, top_k: int, **args: Any) -> dict[str, Any]:
    return {"op": "query", "args": {"query": text, "embedding": [1, 0], "alpha": 0.0, "top_k": top_k, **args}}


CASES: list[dict[str, Any]] = [
    {
        "name": "ties_at_the_kth_place_of_a_common_word",
        "rules": ["KW-1", "KW-2", "KW-3"],
        "description": "70 documents hold `alpha`; the top k ends inside a group of equal scores, which "
        "come in position order: all k places are filled.",
        "steps": [
            {"op": "add_docs", "args": {"docs": docs()}},
            find("alpha", 5),
            find("alpha", 10),
            find("alpha", 15),
            find("alpha beta", 5),
            find("alpha beta", 12),
            find("beta alpha alpha", 30),
        ],
    },
    {
        "name": "ties_at_the_kth_place_after_a_delete",
        "rules": ["KW-1", "KW-2", "KW-3", "DOC-9"],
        "description": "The same after deleting some of the tied documents: N, the lengths and the ties change.",
        "steps": [
            {"op": "add_docs", "args": {"docs": docs()}},
            {"op": "delete_docs", "args": {"ids": ["d00", "d07", "d14", "d03"]}},
            find("alpha", 5),
            find("alpha beta", 8),
        ],
    },
    {
        "name": "a_common_word_made_rare_by_deletes",
        "rules": ["KW-1", "KW-2", "KW-3", "DOC-9"],
        "description": "After 60 of the 70 documents holding `alpha` are deleted, its 10 live postings are "
        "a small share of the rows an index may still keep for the deleted ones (moss_ref's numpy backend: "
        "its float64 shortlist over the distinct rows held); the top k still comes back whole.",
        "steps": [
            {"op": "add_docs", "args": {"docs": docs()}},
            {"op": "delete_docs", "args": {"ids": [f"d{i:02d}" for i in range(70) if i % 7 != 3]}},
            find("alpha", 3),
            find("alpha beta", 5),
            find("beta alpha alpha", 20),
        ],
    },
]


def main() -> None:
    head = {
        "group": "query.keyword_shortlist",
        "description": "Keyword queries over a word in many documents, with ties at the k-th place "
        "(observed: moss 1.21.0; scripts/make_keyword_shortlist_vectors.py).",
        "level": "required",
        "features": ["query"],
        "setup": [{**OPEN, "expect": {"result": {"name": "kb", "model_id": "custom", "doc_count": 0}}}],
    }
    write(OUT, head, record(CASES, OPEN, ["query"]))


if __name__ == "__main__":
    main()
