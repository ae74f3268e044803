"""Write ``spec_tests/vectors/explain/explain.json``: vectors for ``explain_query`` (KIT-9).

``explain_query`` is moss_ref's extension (EXPL rules); the real SDK has no such call, so these
expectations cannot come from it. They are what moss_ref computes, from the BM25 and ranking rules
that the real SDK's behaviour pins elsewhere (QRY-3, QRY-17 ...): the cases are written here as
steps, run once against the reference (pure-Python backends) to fill in every ``expect``, and the
result is checked by hand (the file's description gives one hit worked out). Re-run after a
deliberate change of the EXPL rules: ``python3 scripts/make_explain_vectors.py``, then read the diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _recording import write
from moss_ref_conformance.compare import expectation_from
from moss_ref_conformance.reference import ReferenceTarget

OUT = Path(__file__).resolve().parents[1] / "spec_tests" / "vectors" / "explain" / "explain.json"

OPEN = {"op": "open_session", "args": {"index": "ex", "model_id": "custom"}}
DOCS = {
    "op": "add_docs",
    "args": {
        "docs": [
            {"id": "a", "text": "apple banana banana", "embedding": [1, 0]},
            {"id": "b", "text": "apple", "metadata": {"color": "red"}, "embedding": [0, 1]},
            {"id": "c", "text": "", "embedding": [1, 1]},
            {"id": "d", "text": "cherry apple", "metadata": {"color": "blue"}, "embedding": [-1, 0]},
        ]
    },
}


def _explain(query: str, **options: Any) -> dict[str, Any]:
    return {"op": "explain_query", "args": {"query": query, **options}}


CASES: list[dict[str, Any]] = [
    {
        "name": "hybrid_terms_df_idf_and_lengths",
        "description": "A hybrid query: every hit's vector rank and similarity, keyword rank and BM25, each query "
        "token (repeats included, stop words dropped) with tf, df, idf, the document's length, avgdl and "
        "its part of the BM25, and the fused parts. c's text is blank and it has no metadata, so it is not "
        "in the keyword index (QRY-17): N = 3, avgdl = (3 + 3 + 4) / 3, and c lists no terms. Worked: "
        "'appl' has df 3, idf ln(1 + 0.5/3.5); 'red' is only in b's metadata (df 1, idf ln(1 + 2.5/1.5)); "
        "'zebra' is in no document (df 0, contributes 0); d's metadata makes it 4 terms long.",
        "rules": ["EXPL-2", "EXPL-3", "EXPL-4", "EXPL-5", "QRY-17"],
        "steps": [DOCS, _explain("the apple apples red zebra", embedding=[1, 0], top_k=4, alpha=0.5)],
    },
    {
        "name": "keyword_only",
        "description": "alpha 0: keyword mode, hits in BM25 order with their terms; no vector parts.",
        "rules": ["EXPL-2", "EXPL-3", "EXPL-5"],
        "steps": [DOCS, _explain("banana cherry", embedding=[1, 0], top_k=3, alpha=0.0)],
    },
    {
        "name": "vector_only_and_alpha_clamped",
        "description": "alpha 1.5 is clamped to 1 (QRY-4): vector mode, and the explanation shows alpha 1.0; "
        "hits by similarity, with no keyword numbers and no terms.",
        "rules": ["EXPL-2", "EXPL-5", "QRY-4"],
        "steps": [DOCS, _explain("apple", embedding=[1, 0], top_k=3, alpha=1.5)],
    },
    {
        "name": "negative_alpha_clamped_to_keyword",
        "description": "alpha -0.5 is clamped to 0 (QRY-4): keyword mode.",
        "rules": ["EXPL-2", "QRY-4"],
        "steps": [DOCS, _explain("apple", embedding=[1, 0], top_k=2, alpha=-0.5)],
    },
    {
        "name": "filtered_hybrid",
        "description": "A filter narrows both candidate lists before ranking; ranks count only the documents "
        "that pass it.",
        "rules": ["EXPL-2", "EXPL-4"],
        "steps": [
            DOCS,
            _explain(
                "apple",
                embedding=[0, 1],
                top_k=2,
                alpha=0.5,
                filter={"field": "color", "condition": {"$in": ["red", "blue"]}},
            ),
        ],
    },
    {
        "name": "ties_decided_by_position",
        "description": "Two documents with the same text and vector tie on every key: the earlier position "
        "ranks first and the explanation says 'position' (QRY-6, EXPL-5).",
        "rules": ["EXPL-5", "QRY-6"],
        "steps": [
            {
                "op": "add_docs",
                "args": {
                    "docs": [
                        {"id": "y", "text": "plum", "embedding": [1, 0]},
                        {"id": "x", "text": "plum", "embedding": [1, 0]},
                    ]
                },
            },
            _explain("plum", embedding=[1, 0], top_k=2),
        ],
    },
    {
        "name": "empty_session_and_top_k_0",
        "description": "Nothing to rank: mode 'nothing' and no hits, on an empty session and for top_k 0.",
        "rules": ["EXPL-1"],
        "steps": [
            _explain("apple", embedding=[1, 0], top_k=3),
            DOCS,
            _explain("apple", embedding=[1, 0], top_k=0),
        ],
    },
    {
        "name": "every_keyword_document_empty",
        "description": "Texts of stop words only count in the keyword index with length 0, so avgdl is 0: the "
        "length normalisation is then k1 * (1 - b) = 0.3, and no term matches.",
        "rules": ["EXPL-3", "QRY-17"],
        "steps": [
            {
                "op": "add_docs",
                "args": {
                    "docs": [
                        {"id": "s", "text": "the", "embedding": [1, 0]},
                        {"id": "t", "text": "a an", "embedding": [0, 1]},
                    ]
                },
            },
            _explain("the cat", embedding=[1, 0], top_k=2, alpha=0.5),
        ],
    },
    {
        "name": "closed_session_refuses",
        "description": "explain_query validates as query does: a closed session refuses it.",
        "rules": ["EXPL-1"],
        "steps": [DOCS, {"op": "close_session", "args": {}}, _explain("apple", embedding=[1, 0], top_k=3)],
    },
    {
        "name": "text_query_on_a_built_in_model",
        "description": "A query without an embedding on a built-in-model session: the query text is embedded "
        "(hash-v1 here, so the numbers need the hash_embedder feature) and the hits are explained.",
        "features": ["explain", "text_embedding", "hash_embedder"],
        "rules": ["EXPL-1", "EXPL-2"],
        "steps": [
            {"op": "open_session", "args": {"index": "ex2", "model_id": "moss-minilm", "session": "m"}},
            {
                "op": "add_docs",
                "args": {
                    "session": "m",
                    "docs": [{"id": "p", "text": "green apple pie"}, {"id": "q", "text": "blue car"}],
                },
            },
            _explain("apple pie", top_k=2, session="m"),
        ],
    },
]


def main() -> None:
    target = ReferenceTarget(vector_backend="python", keyword_backend="python")
    out_cases = []
    try:
        for case in CASES:
            features = case.get("features", ["explain", "query"])
            target.start_case(case["name"], features)
            steps = []
            for step in [OPEN, *case["steps"]]:
                response = target.step(step["op"], step["args"])
                expect = expectation_from(response)
                expect.pop("order", None)
                steps.append({**step, "expect": expect})
            entry = {k: v for k, v in case.items() if k != "steps"}
            entry["steps"] = steps[1:]
            out_cases.append(entry)
    finally:
        target.close()
    setup = [{**OPEN, "expect": {"result": {"name": "ex", "model_id": "custom", "doc_count": 0}}}]
    document = {
        "group": "explain.explain",
        "description": "explain_query (moss_ref's extension, EXPL rules; optional feature explain, KIT-9): the "
        "numbers each hit was ranked with. Expected values are moss_ref's (the real SDK has no explain call), made "
        "by scripts/make_explain_vectors.py from the BM25 and ranking rules the real SDK pins elsewhere, and read "
        "by hand.",
        "level": "recommended",
        "features": ["explain", "query"],
        "setup": setup,
        "cases": out_cases,
    }
    write(OUT, {k: v for k, v in document.items() if k != "cases"}, out_cases)


if __name__ == "__main__":
    main()
