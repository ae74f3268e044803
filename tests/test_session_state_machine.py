"""A RuleBasedStateMachine drives a custom session against ``tests/model.py``.

After every step the session and the model must agree on counts and contents; every query must
give the same ids in the same order, scores within 1e-6. Small integer vectors and a tiny vocabulary
make ties, duplicates and upserts common. It runs once per vector backend x keyword backend.
"""

from __future__ import annotations

from typing import Callable, Optional

import model
import pytest
from helpers import client, contents
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from moss_ref import DocumentInfo, GetDocumentsOptions, InvalidArgumentError, MutationOptions, QueryOptions

IDS = ["a", "b", "c", "d", "e", "B", "é"]
WORDS = ["red", "green", "blue", "fox", "Fox", "ﬁsh"]
DIM = 3

components = st.integers(-2, 2).map(float)
vectors = st.lists(components, min_size=DIM, max_size=DIM)
metadata = st.none() | st.fixed_dictionaries(
    {}, optional={"n": st.sampled_from(["1", "2", "10", "x"]), "c": st.sampled_from(["p", "q"])}
)
docs = st.builds(
    lambda i, words, md, v: DocumentInfo(i, " ".join(words), md, v),
    st.sampled_from(IDS),
    st.lists(st.sampled_from(WORDS), max_size=4),
    metadata,
    vectors,
)

Where = Optional[Callable[[Optional[dict[str, str]]], bool]]
FILTERS: list[tuple[Optional[dict[str, object]], Where]] = [
    (None, None),
    ({"field": "c", "condition": {"$eq": "p"}}, lambda m: m is not None and m.get("c") == "p"),
    ({"field": "c", "condition": {"$ne": "p"}}, lambda m: m is not None and "c" in m and m["c"] != "p"),
    # "x" is text and 1 a number: they never satisfy a range (FLT-17), so only "2" and "10" match.
    ({"field": "n", "condition": {"$gt": 1}}, lambda m: m is not None and m.get("n") in ("2", "10")),
    (
        {"$or": [{"field": "n", "condition": {"$in": ["x", 10]}}, {"field": "c", "condition": {"$eq": "q"}}]},
        lambda m: m is not None and (m.get("n") in ("x", "10") or m.get("c") == "q"),
    ),
]


def machine_for(vector_backend: str, keyword_backend: str) -> type[RuleBasedStateMachine]:
    class SessionMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.session = client(vector_backend, keyword_backend=keyword_backend).session_sync("sm", "custom")
            self.model: dict[str, model.Doc] = {}

        @rule(batch=st.lists(docs, max_size=5), upsert=st.sampled_from([None, True, False]))
        def add(self, batch: list[DocumentInfo], upsert: Optional[bool]) -> None:
            got = self.session.core.add_docs(batch, MutationOptions(upsert=upsert))
            added = updated = 0
            for d in batch:
                if d.id in self.model:
                    if upsert is False:
                        continue
                    updated += 1
                else:
                    added += 1
                self.model[d.id] = model.Doc(
                    d.id, d.text, None if d.metadata is None else dict(d.metadata), list(d.embedding or [])
                )
            assert got == (added, updated)

        @rule(batch=st.lists(docs, min_size=1, max_size=3), bad=st.sampled_from(["not-a-document", "dim", "nan"]))
        def add_bad_batch(self, batch: list[DocumentInfo], bad: str) -> None:
            broken: object = "not a document"
            if bad == "dim":
                broken = DocumentInfo("z", "x", None, [1.0] * (DIM + 1))
            elif bad == "nan":
                broken = DocumentInfo("z", "x", None, [float("nan")] * DIM)
            with pytest.raises(InvalidArgumentError):
                self.session.core.add_docs([*batch, broken])

        @rule(ids=st.lists(st.sampled_from([*IDS, "zz"]), max_size=4))
        def delete(self, ids: list[str]) -> None:
            expected = len({i for i in ids if i in self.model})
            assert self.session.core.delete_docs(ids) == expected
            for i in ids:
                self.model.pop(i, None)

        @rule(ids=st.none() | st.lists(st.sampled_from([*IDS, "zz"]), max_size=4), f=st.sampled_from(FILTERS))
        def get(self, ids: Optional[list[str]], f: tuple[Optional[dict[str, object]], Where]) -> None:
            flt, where = f
            got = [d.id for d in self.session.core.get_docs(GetDocumentsOptions(doc_ids=ids, filter=flt))]
            order = ids if ids is not None else sorted(self.model)  # DOC-11: repeats kept
            want = [i for i in order if i in self.model and (where is None or where(self.model[i].metadata))]
            assert got == want

        @precondition(lambda self: bool(self.model))
        @rule(
            words=st.lists(st.sampled_from([*WORDS, "zzz"]), max_size=3),
            q=vectors.filter(any),
            alpha=st.sampled_from([0.5, 0.5, 0.0, 0.2, 0.8, 1.0, 1.5, -0.5]),  # outside [0, 1]: clamped
            top_k=st.sampled_from([1, 1, 2, 2, 3, 0, 8]),  # small: partial candidate lists make fused ties
            f=st.sampled_from(FILTERS),
            min_score=st.sampled_from([None, None, None, 0.0, 0.3, 0.9]),
        )
        def query(
            self,
            words: list[str],
            q: list[float],
            alpha: float,
            top_k: int,
            f: tuple[Optional[dict[str, object]], Where],
            min_score: Optional[float],
        ) -> None:
            # A session ignores min_score (QRY-9), even at alpha 0: the model is asked without it.
            flt, where = f
            text = " ".join(words)
            got = self.session.core.query(
                text, QueryOptions(embedding=q, alpha=alpha, top_k=top_k, filter=flt, min_score=min_score)
            )
            want = model.query(self.model, text, embedding=q, alpha=alpha, top_k=top_k, where=where)
            assert [d.id for d in got.docs] == [i for i, _ in want]
            for d, (_, score) in zip(got.docs, want):
                assert abs(d.score - score) <= 1e-6

        @invariant()
        def contents_agree(self) -> None:
            assert self.session.doc_count == len(self.model)
            got = [(i, text, md, vector) for i, text, md, _, vector in contents(self.session)]
            want = [(i, self.model[i].text, self.model[i].metadata, self.model[i].vector) for i in sorted(self.model)]
            assert got == want

    SessionMachine.__name__ = f"SessionMachine_{vector_backend}_{keyword_backend}"
    return SessionMachine


TestSessionMachinePython = machine_for("python", "python").TestCase
TestSessionMachineNumpy = machine_for("numpy", "numpy").TestCase
TestSessionMachinePythonVectorsNumpyKeywords = machine_for("python", "numpy").TestCase
TestSessionMachineNumpyVectorsPythonKeywords = machine_for("numpy", "python").TestCase
