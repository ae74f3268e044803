"""Session behaviour over every embedder (issue 4 item 5; R-M-2, R-M-3, X-4).

Every test that stores or queries text runs once per embedder serving ``moss-minilm`` (the
``embedder`` fixture of conftest.py: ``hash-v1``, ``minilm-onnx-fp32``, ``minilm-onnx``,
``minilm-numpy``) and, where vectors are stored, once per vector backend (the ``vector_backend``
fixture), the way tinydb's tests run over every storage. The MiniLM embedders need their weight
packages (docs/rules/minilm.md).

R-M-3: an index pushed (or saved to disk) by one embedder and resumed or loaded by a client with
another embedder is re-embedded from its stored texts, with a ``ReembeddingWarning``; with the same
embedder nothing is re-embedded; a custom index is never re-embedded.

The last test checks the metadata index behind filters (``Corpus.allowed``, a speed path) against
plain evaluation of the filter on every document, through adds, upserts and deletes.
"""

from __future__ import annotations

import asyncio
import importlib
import math
import re
import sys
import warnings
from collections.abc import Sequence
from functools import cache
from itertools import permutations
from pathlib import Path
from typing import Any, Optional

import pytest
from conftest import EMBEDDERS, VECTOR_BACKENDS
from hypothesis import given
from hypothesis import strategies as st

from moss_ref import DocumentInfo, MossClient, MutationOptions, QueryOptions
from moss_ref._filters import compile_filter
from moss_ref._protocols import Embedder
from moss_ref._registry import create_embedder
from moss_ref._session import SessionIndex
from moss_ref._snapshot import ReembeddingWarning
from moss_ref.stores.base import Store
from moss_ref.stores.directory import DirectoryStore
from moss_ref.stores.memory import MemoryStore

P, K = "proj", "key"
MODEL = "moss-minilm"
# X-4 (MOSS-BEHAVIOUR §11): a billing document and a garden document.
BILLING = "Your invoice was charged twice; we issued a refund to the original card for the billing issue."
GARDEN = "Prune tomato suckers weekly so the plant puts energy into fruit."
QUERY = "refund for a billing issue"
DOCS = [
    DocumentInfo("billing", BILLING, {"topic": "billing", "priority": "2"}),
    DocumentInfo("garden", GARDEN, {"topic": "garden", "priority": "9"}),
    DocumentInfo("password", "Reset your password from the sign-in page.", {"topic": "account", "priority": "1"}),
    DocumentInfo("refund-time", "Refunds reach your card within five business days.", {"topic": "billing"}),
    DocumentInfo("soil", "Tomatoes like warm, well drained soil and full sun.", {"topic": "garden", "priority": "5"}),
]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@cache
def reference_embedder(name: str) -> Embedder:
    """The embedder ``name``, created once, to compute expected vectors independently of a session."""
    return create_embedder(name, MODEL)


def make_client(embedder: str, vector_backend: str = "python", store: Optional[Store] = None) -> MossClient:
    return MossClient(
        P, K, store=store if store is not None else MemoryStore(), embedder=embedder, vector_backend=vector_backend
    )


def text_session(embedder: str, vector_backend: str, name: str = "support") -> SessionIndex:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicitly named embedder never falls back (REG-4)
        session = make_client(embedder, vector_backend).session_sync(name)
    assert session.model_id == MODEL and session.core.fingerprint().backend == embedder  # type: ignore[union-attr]
    return session


def ids(result: Any) -> list[str]:
    return [d.id for d in result.docs]


def assert_close(got: Optional[Sequence[float]], want: Sequence[float], tol: float = 1e-6) -> None:
    """MiniLM batched and single-text vectors agree within 1e-6 per component (MINI-6)."""
    assert got is not None and len(got) == len(want)
    assert max(abs(a - b) for a, b in zip(got, want)) <= tol


def stored_vector(session: SessionIndex, doc_id: str) -> Optional[list[float]]:
    return session.core.corpus.vectors.get(doc_id)


# -- X-4 and the text paths, for every embedder x vector backend -----------------------------------


def test_x4_smoke(embedder: str, vector_backend: str) -> None:
    """X-4: a moss-minilm session ranks the billing document first for a billing question."""
    s = text_session(embedder, vector_backend)
    assert run(s.add_docs([DocumentInfo("billing", BILLING), DocumentInfo("garden", GARDEN)])) == (2, 0)
    assert s.doc_count == 2
    assert ids(run(s.query(QUERY, QueryOptions(top_k=1)))) == ["billing"]
    assert ids(run(s.query(QUERY, QueryOptions(top_k=2, alpha=1.0)))) == ["billing", "garden"]  # vector alone
    assert ids(run(s.query(QUERY, QueryOptions(top_k=2, alpha=0.0)))) == ["billing"]  # keywords alone


def test_stored_and_query_vectors_come_from_the_embedder(embedder: str, vector_backend: str) -> None:
    """R-M-2: each text is embedded by the session's embedder; scores are clamp(dot(q, d))."""
    s = text_session(embedder, vector_backend)
    run(s.add_docs(DOCS))
    ref = reference_embedder(embedder)
    for doc in DOCS:
        assert_close(stored_vector(s, doc.id), ref.embed([doc.text])[0])
    q = ref.embed([QUERY])[0]
    result = run(s.query(QUERY, QueryOptions(top_k=len(DOCS), alpha=1.0)))
    assert len(result.docs) == len(DOCS)
    for d in result.docs:
        expected = math.fsum(a * b for a, b in zip(q, ref.embed([next(x.text for x in DOCS if x.id == d.id)])[0]))
        assert abs(d.score - min(1.0, max(0.0, expected))) <= 1e-5
    scores = [d.score for d in result.docs]
    assert scores == sorted(scores, reverse=True)
    assert run(s.get_docs())[0].embedding is None  # built-in sessions do not return vectors (R-D-6)


def test_upsert_re_embeds_and_reindexes_the_text(embedder: str, vector_backend: str) -> None:
    s = text_session(embedder, vector_backend)
    run(s.add_docs(DOCS))
    ref = reference_embedder(embedder)
    before = stored_vector(s, "billing")
    new_text = "Pinch out tomato side shoots and stake the plants in the garden."
    # upsert=False: an existing id is skipped, nothing is re-embedded (R-D-3)
    assert run(s.add_docs([DocumentInfo("billing", new_text)], MutationOptions(upsert=False))) == (0, 0)
    assert stored_vector(s, "billing") == before
    # default upsert: the new text replaces vector, keywords and metadata
    assert run(s.add_docs([DocumentInfo("billing", new_text, {"topic": "garden"})])) == (0, 1)
    assert_close(stored_vector(s, "billing"), ref.embed([new_text])[0])
    assert stored_vector(s, "billing") != before
    hits = ids(run(s.query("twice charged invoice", QueryOptions(top_k=5, alpha=0.0))))
    assert "billing" not in hits  # the old words are gone from the keyword index
    assert ids(run(s.query("side shoots", QueryOptions(top_k=1, alpha=0.0)))) == ["billing"]
    flt = {"field": "topic", "condition": {"$eq": "garden"}}
    got = run(s.query("tomato plants", QueryOptions(top_k=5, filter=flt)))
    assert sorted(ids(got)) == ["billing", "garden", "soil"]
    # a repeated id in one batch: the last copy wins (R-D-2)
    assert run(s.add_docs([DocumentInfo("new", GARDEN), DocumentInfo("new", QUERY)])) == (1, 1)
    assert_close(stored_vector(s, "new"), ref.embed([QUERY])[0])


def test_delete_then_query(embedder: str, vector_backend: str) -> None:
    s = text_session(embedder, vector_backend)
    run(s.add_docs(DOCS))
    assert run(s.delete_docs(["billing", "refund-time", "billing", "nope"])) == 2
    assert s.doc_count == 3 and stored_vector(s, "billing") is None
    result = ids(run(s.query(QUERY, QueryOptions(top_k=5))))
    assert sorted(result) == ["garden", "password", "soil"]
    assert ids(run(s.query("refund", QueryOptions(top_k=5, alpha=0.0)))) == []  # no document has the word now
    assert run(s.delete_docs(["garden", "password", "soil"])) == 3
    assert ids(run(s.query(QUERY))) == [] and s.doc_count == 0


def test_text_queries_with_filters(embedder: str, vector_backend: str) -> None:
    s = text_session(embedder, vector_backend)
    run(s.add_docs(DOCS))
    billing = {"field": "topic", "condition": {"$eq": "billing"}}
    assert ids(run(s.query(QUERY, QueryOptions(top_k=5, filter=billing))))[0] == "billing"
    assert sorted(ids(run(s.query(QUERY, QueryOptions(top_k=5, filter=billing))))) == ["billing", "refund-time"]
    mixed = {
        "$and": [
            {"field": "topic", "condition": {"$in": ["garden", "account"]}},
            {"field": "priority", "condition": {"$lt": 6}},
        ]
    }
    assert sorted(ids(run(s.query("tomato", QueryOptions(top_k=5, filter=mixed))))) == ["password", "soil"]
    missing = {"field": "priority", "condition": {"$ne": "2"}}  # refund-time has no priority: never matches (R-F-5)
    assert sorted(ids(run(s.query(QUERY, QueryOptions(top_k=5, filter=missing))))) == ["garden", "password", "soil"]
    nothing = {"field": "topic", "condition": {"$eq": "none"}}
    assert ids(run(s.query(QUERY, QueryOptions(top_k=5, filter=nothing)))) == []


def test_blank_text_query_embeds_nothing(embedder: str, vector_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-Q-5: a blank query without an embedding returns nothing and calls no embedder."""
    s = text_session(embedder, vector_backend)
    run(s.add_docs(DOCS[:2]))
    cls = type(s.core.embedder)
    original = cls.embed
    calls: list[int] = []

    def counting(self: Any, texts: Sequence[str]) -> Any:
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(cls, "embed", counting)
    assert ids(run(s.query("   ", QueryOptions(top_k=3)))) == []
    assert calls == []
    assert ids(run(s.query(QUERY, QueryOptions(top_k=1)))) == ["billing"] and calls == [1]


# -- R-M-3: vectors from another embedder are re-embedded -----------------------------------------


@pytest.fixture(params=["memory", "directory"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Store:
    return MemoryStore() if request.param == "memory" else DirectoryStore(str(tmp_path / "store"))


def _push(store: Store, embedder: str, name: str = "kb") -> None:
    s = make_client(embedder, store=store).session_sync(name)
    run(s.add_docs(DOCS))
    run(s.push_index())


def _assert_vectors_of(session_or_core: Any, embedder: str) -> None:
    ref = reference_embedder(embedder)
    want = ref.embed([d.text for d in sorted(DOCS, key=lambda d: d.id)])  # one batch, as the re-embedding does
    for doc, vector in zip(sorted(DOCS, key=lambda d: d.id), want):
        assert_close(session_or_core.corpus.vectors.get(doc.id), vector)


@pytest.mark.parametrize("pushed_with, resumed_with", list(permutations(EMBEDDERS, 2)))
def test_resuming_with_another_embedder_re_embeds(store: Store, pushed_with: str, resumed_with: str) -> None:
    """R-M-3: push with one embedder, resume with another: warning, vectors recomputed, ranking works."""
    _push(store, pushed_with)
    with pytest.warns(ReembeddingWarning, match=f"embedded by {pushed_with}.*with '{resumed_with}'.*re-embedding 5"):
        s = make_client(resumed_with, store=store).session_sync("kb")
    assert s.doc_count == len(DOCS) and s.core.fingerprint().backend == resumed_with  # type: ignore[union-attr]
    _assert_vectors_of(s.core, resumed_with)
    assert ids(run(s.query(QUERY, QueryOptions(top_k=1)))) == ["billing"]
    # pushing again records the new embedder: a third client with it re-embeds nothing
    run(s.push_index())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = make_client(resumed_with, store=store).session_sync("kb")
    _assert_vectors_of(again.core, resumed_with)


@pytest.mark.parametrize("pushed_with, loaded_with", [("hash-v1", "minilm-onnx"), ("minilm-numpy", "hash-v1")])
def test_load_index_with_another_embedder_re_embeds(store: Store, pushed_with: str, loaded_with: str) -> None:
    """R-M-3 for client.load_index: the loaded copy is re-embedded; the stored index is not changed."""
    _push(store, pushed_with)
    client = make_client(loaded_with, store=store)
    with pytest.warns(ReembeddingWarning, match="re-embedding 5 stored texts"):
        run(client.load_index("kb"))
    assert ids(run(client.query("kb", QUERY, QueryOptions(top_k=1)))) == ["billing"]
    stored = store.read_index(P, "kb")
    assert stored is not None and stored.embedder is not None and stored.embedder.backend == pushed_with


def test_same_embedder_re_embeds_nothing(store: Store, embedder: str) -> None:
    _push(store, embedder)
    stored = store.read_index(P, "kb")
    assert stored is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = make_client(embedder, store=store).session_sync("kb")
        client = make_client(embedder, store=store)
        run(client.load_index("kb"))
    for i, record in enumerate(stored.records):
        assert stored_vector(s, record.id) == list(stored.vector(i))  # the stored bits, not recomputed ones


def test_disk_snapshot_from_another_embedder_re_embeds(tmp_path: Any) -> None:
    """R-M-3 for load_from_disk (S-35)."""
    s = make_client("hash-v1").session_sync("snap")
    run(s.add_docs(DOCS))
    run(s.save_to_disk(str(tmp_path)))
    fresh = make_client("minilm-onnx").session_sync("snap", auto_load_on_init=False)
    with pytest.warns(ReembeddingWarning, match="re-embedding 5 stored texts"):
        assert run(fresh.load_from_disk(str(tmp_path))) == len(DOCS)
    _assert_vectors_of(fresh.core, "minilm-onnx")


@pytest.mark.parametrize("pushed_with, resumed_with", [("hash-v1", "minilm-onnx"), ("minilm-numpy", "hash-v1")])
def test_custom_indexes_are_never_re_embedded(store: Store, pushed_with: str, resumed_with: str) -> None:
    vectors = {"a": [0.25, -1.5, 3.0], "b": [1.0, 0.0, 0.5]}
    s = make_client(pushed_with, store=store).session_sync("vecs", "custom")
    run(s.add_docs([DocumentInfo(i, f"text {i}", None, v) for i, v in vectors.items()]))
    run(s.push_index())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ReembeddingWarning
        back = make_client(resumed_with, store=store).session_sync("vecs")
        client = make_client(resumed_with, store=store)
        run(client.load_index("vecs"))
    assert back.model_id == "custom" and back.core.embedder is None
    assert {d.id: stored_vector(back, d.id) for d in run(back.get_docs())} == vectors
    result = run(client.query("vecs", "", QueryOptions(embedding=[0.25, -1.5, 3.0], top_k=1)))
    assert ids(result) == ["a"]


# -- the metadata index behind filters agrees with evaluating the filter -------------------------

VALUES = ["a", "b", "10", "2", "x"]
IDS = "pqrs"  # few ids: puts replace and deletes hit often
metadata = st.none() | st.dictionaries(st.sampled_from(["c", "n"]), st.sampled_from(VALUES), min_size=1, max_size=2)
leaf = st.builds(
    lambda field, op, value: {"field": field, "condition": {op: value}},
    st.sampled_from(["c", "c", "n", "missing"]),
    st.sampled_from(["$eq", "$eq", "$ne", "$gt", "$lte"]),
    st.sampled_from(VALUES),
) | st.builds(
    lambda field, op, values: {"field": field, "condition": {op: values}},
    st.sampled_from(["c", "n"]),
    st.sampled_from(["$in", "$in", "$nin"]),
    st.lists(st.sampled_from([*VALUES, 10, 2.0]), min_size=1, max_size=3),
)
filters = st.recursive(
    leaf,
    lambda children: st.builds(
        lambda k, c: {k: c}, st.sampled_from(["$and", "$or"]), st.lists(children, min_size=1, max_size=3)
    ),
    max_leaves=6,
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.lists(st.tuples(st.sampled_from(IDS), metadata), min_size=1, max_size=4)),
        st.tuples(st.just("delete"), st.lists(st.sampled_from(IDS), min_size=1, max_size=3)),
    ),
    min_size=2,
    max_size=8,
)


@pytest.mark.parametrize("backend", VECTOR_BACKENDS)  # not the fixture: hypothesis runs many inputs per call
@given(steps=steps, flts=st.lists(filters, min_size=1, max_size=4))
def test_filter_index_agrees_with_evaluation(backend: str, steps: list[Any], flts: list[Any]) -> None:
    s = make_client("hash-v1", backend).session_sync("flt", "custom")
    core = s.core
    for flt in flts:  # queried before any change too: cached answers must not outlive a change
        core.query("", QueryOptions(embedding=[1.0, 0.0], top_k=20, filter=flt))
    for op, arg in steps:
        if op == "put":
            core.add_docs([DocumentInfo(i, "t", md, [1.0, float(n)]) for n, (i, md) in enumerate(arg)])
        else:
            core.delete_docs(arg)
        for raw in flts:
            flt = compile_filter(raw)
            want = {i for i, r in core.corpus.records.items() if flt.matches(r.metadata)}
            assert set(core.corpus.allowed(flt) or ()) == want
            if core.doc_count:
                got = core.query("", QueryOptions(embedding=[1.0, 0.0], top_k=20, filter=raw))
                assert {d.id for d in got.docs} == want


# -- docs/extending.md: the guide's code runs (a plugin embedder through a real entry point) -----

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "extending.md"
PLUGIN_HEADER = "# my_moss_plugin.py"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text("utf-8"), flags=re.S | re.M)


def test_extending_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``python`` block of docs/extending.md runs; the plugin is found through its entry points."""
    blocks = _blocks("python")
    plugin = [b for b in blocks if b.startswith(PLUGIN_HEADER)]
    assert len(plugin) == 2, "the guide's plugin module is split over two blocks"
    (tmp_path / "my_moss_plugin.py").write_text("\n".join(plugin), "utf-8")
    (toml,) = _blocks("toml")
    dist = tmp_path / "my_moss_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-moss-plugin\nVersion: 1.0\n")
    entry_points = re.sub(r'^\[project\.entry-points\."([^"]+)"\]$', r"[\1]", toml, flags=re.M)  # TOML -> INI
    entry_points = re.sub(r'^(\S+) = "([^"]+)"$', r"\1 = \2", entry_points, flags=re.M)
    (dist / "entry_points.txt").write_text(entry_points, "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_moss_plugin", raising=False)
    module = importlib.import_module("my_moss_plugin")
    namespace: dict[str, Any] = dict(vars(module))
    for block in blocks:
        if not block.startswith(PLUGIN_HEADER):
            exec(compile(block, str(GUIDE), "exec"), namespace)
    # and the plugin embedder takes part in auto for the model id it declares (REG-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lite = make_client("auto").session_sync("lite", "moss-litelm")
    assert lite.core.fingerprint().backend == "hashed-words"  # type: ignore[union-attr]
