"""Write ``spec_tests/vectors/python_values/python_values.json`` from the real SDK (KIT-10).

The cases hand the API values only Python has (``{"$py": ...}`` tags, and ``assign``: options set
after ``QueryOptions`` was built): ``str`` subclasses in metadata, tuples as embeddings, numbers
of other types, filters built in Python (very deep, self-containing, sharing a list), and values
of the wrong type where the vector schema would type them. Every ``expect`` is what moss 1.21.0
answered (but for one ``recommended`` case the SDK cannot survive, which says why and expects
moss_ref's answer): run this with the real SDK installed, offline (``--real-moss``'s service)::

    .venv-moss/bin/python scripts/make_python_values_vectors.py

then run the cases against moss_ref (``moss-conformance run --feature python_values``) and read
the diff. The output is deterministic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _recording import record, write

OUT = Path(__file__).resolve().parents[1] / "spec_tests" / "vectors" / "python_values" / "python_values.json"


def py(kind: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    tag: dict[str, Any] = {"$py": kind}
    if value is not None:
        tag["value"] = value
    tag.update(extra)
    return tag


X = {"c": "x"}
OPEN = {"op": "open_session", "args": {"index": "pv", "model_id": "custom"}}
DOCS = {
    "op": "add_docs",
    "args": {
        "docs": [
            {"id": "p", "text": "plain pear", "metadata": {"c": "x", "n": "2"}, "embedding": [1, 0]},
            {"id": "v", "text": "sub value", "metadata": py("str_metadata", X, keys=False), "embedding": [1, 0]},
            {"id": "k", "text": "sub key", "metadata": py("str_metadata", X, values=False), "embedding": [0, 1]},
            {"id": "b", "text": "sub both", "metadata": py("str_metadata", {"c": "y", "n": "3"}), "embedding": [0, 1]},
        ]
    },
}
EQ_X = {"field": "c", "condition": {"$eq": "x"}}


def query(**args: Any) -> dict[str, Any]:
    return {"op": "query", "args": {"query": "", "embedding": [1, 0], "top_k": 10, "alpha": 1.0, **args}}


def assigned(assign: dict[str, Any], **args: Any) -> dict[str, Any]:
    step = query(**args)
    step["args"]["assign"] = assign
    return step


CASES: list[dict[str, Any]] = [
    {
        "name": "str_subclass_metadata_is_filtered_like_str",
        "description": "Metadata keys and values that are str subclasses (an enum.StrEnum member is one) match "
        "filters as the equal str does, before and after deletes, and come back equal to it.",
        "rules": ["FLT-29", "API-6"],
        "steps": [
            DOCS,
            query(filter=EQ_X),
            query(filter={"field": "c", "condition": {"$in": ["x", "y"]}}),
            query(filter={"field": "n", "condition": {"$gte": "3"}}),
            {"op": "delete_docs", "args": {"ids": ["v"]}},
            query(filter=EQ_X),
            {"op": "get_docs", "args": {"filter": {"field": "c", "condition": {"$ne": "x"}}}},
        ],
    },
    {
        "name": "tuples_as_embeddings",
        "description": "A document embedding and a query embedding given as tuples work as lists do.",
        "rules": ["API-6", "QRY-1"],
        "steps": [
            {
                "op": "add_docs",
                "args": {"docs": [{"id": "t", "text": "tuple", "embedding": py("tuple", [0.6, 0.8])}]},
            },
            query(embedding=py("tuple", [0.6, 0.8])),
        ],
    },
    {
        "name": "query_embedding_assigned_after_construction",
        "description": "options.embedding set after QueryOptions was built: a tuple, Fractions and ints are "
        "used as numbers; a string, a list holding a string, a value beyond float32 and NaN are refused.",
        "rules": ["API-6", "QRY-2"],
        "steps": [
            DOCS,
            assigned({"embedding": py("tuple", [0, 1])}),
            assigned({"embedding": [py("fraction", "1/3"), py("fraction", "2/3")]}),
            assigned({"embedding": [3, 4]}),
            assigned({"embedding": "ab"}),
            assigned({"embedding": [1, "x"]}),
            assigned({"embedding": [1e39, 0]}),
            assigned({"embedding": [{"$float": "NaN"}, 0]}),
        ],
    },
    {
        "name": "top_k_and_alpha_assigned_after_construction",
        "description": "options.top_k and options.alpha set after construction: a negative top_k, a string "
        "alpha and a bool alpha; alpha beyond the float32 range (infinite: refused), at its maximum and just "
        "past it (which a float32 cast rounds to the maximum: clamped), an int too large for a float "
        "(OverflowError), top_k at and past the unsigned 64-bit limit.",
        "rules": ["API-6", "QRY-4"],
        "steps": [
            DOCS,
            assigned({"top_k": -1}),
            assigned({"top_k": 2}),
            assigned({"alpha": "0.5"}),
            assigned({"alpha": True}),
            query(alpha=py("raw", "0.5")),
            query(alpha=3.5e38),
            query(alpha=3.4028234663852886e38),
            query(alpha=-3.402823466388e38),
            query(alpha=10**400),
            query(embedding=[10**400, 0]),
            assigned({"top_k": 2**64}),
            assigned({"top_k": 2**64 - 1}),
            assigned({"top_k": 2**64 - 1, "candidate_depth": 2**64}),
        ],
    },
    {
        "name": "filters_built_in_python",
        "description": "A filter 1,200 one-child $and clauses deep, and a filter sharing one list between two "
        "branches (a DAG, not a cycle), work as their plain equivalents.",
        "rules": ["FLT-1", "FLT-26"],
        "steps": [
            DOCS,
            query(filter=py("deep_and", EQ_X, depth=1200)),
            query(filter=py("shared", EQ_X)),
        ],
    },
    {
        "name": "a_self_containing_filter_is_refused",
        "description": "A filter whose $and list contains the filter itself. moss 1.21.0 does not return: "
        "its process is killed (it recurses without end), so this expectation is moss_ref's (a reference "
        "choice, FLT-26): the filter is refused as invalid input, promptly.",
        "level": "recommended",
        "reference": True,
        "rules": ["FLT-26"],
        "steps": [DOCS, query(filter=py("cycle"))],
    },
    {
        "name": "ids_and_grouping_of_other_types",
        "description": "get_docs doc_ids and delete_docs ids given as a string, and a group_by whose fields "
        "are not strings.",
        "rules": ["API-6", "DOC-9", "DOC-15"],
        "steps": [
            DOCS,
            {"op": "get_docs", "args": {"doc_ids": py("raw", "pv")}},
            {"op": "get_docs", "args": {"doc_ids": py("tuple", ["p", "k"])}},
            {"op": "delete_docs", "args": {"ids": py("raw", "pk")}},
            {"op": "delete_docs", "args": {"ids": py("tuple", ["p"])}},
            query(group_by=py("raw", {"parent_field": 1, "order_field": "n"})),
        ],
    },
]


def main() -> None:
    head = {
        "group": "python_values.python_values",
        "description": 'Values only Python has, handed to the API through {"$py": ...} tags and assign '
        "(optional feature python_values, KIT-10); every expectation is what moss 1.21.0 answered "
        "(scripts/make_python_values_vectors.py).",
        "level": "required",
        "features": ["python_values"],
        "setup": [{**OPEN, "expect": {"result": {"name": "pv", "model_id": "custom", "doc_count": 0}}}],
    }
    write(OUT, head, record(CASES, OPEN, ["python_values"]))


if __name__ == "__main__":
    main()
