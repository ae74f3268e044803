"""Stored keyword terms (format_version 2, ``keywords.u32``): what a resume loads instead of
tokenizing every text again (issue 9). Old snapshots (format_version 1, no terms) still load,
terms of another tokenizer are ignored, damage is detected, and every backend exports and loads
the same terms and ranks the same afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import random
import struct
from array import array
from typing import Any

import pytest

from moss_ref import DocumentInfo, MossClient, MossError, QueryOptions
from moss_ref._bm25 import term_ids
from moss_ref._bulk import export_terms
from moss_ref._corpus import Corpus, Record
from moss_ref._keyword_rule import NOT_INDEXED, TERMS_VERSION, document_terms
from moss_ref._keywords import PythonKeywords
from moss_ref._vectors import PythonVectors
from moss_ref.stores.base import StoredIndex, StoredTerms
from moss_ref.stores.directory import DirectoryStore
from moss_ref.stores.format import child_path, path_component

np = pytest.importorskip("numpy")
from moss_ref_backends.numpy_keywords import NumpyKeywords  # noqa: E402

P, K = "proj", "key"
WORDS = "the red fox jumps over a lazy dog and red cats of time year people way".split()


def docs(n: int = 40, seed: int = 5) -> list[DocumentInfo]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choices(WORDS, k=rng.randint(0, 9)))
        if i % 13 == 0:
            text = "   "  # blank: without metadata it is not in the keyword index (QRY-17)
        metadata = {"colour": rng.choice(["red", "blue", "the"])} if i % 3 == 0 else None
        vector = [rng.uniform(-1, 1) for _ in range(4)]
        out.append(DocumentInfo(f"d{i:03d}", text, metadata=metadata, embedding=vector))
    return out


QUERIES = ["red", "red fox red", "lazy dog", "blue", "people time way", "cats"]


def version_dir(store: DirectoryStore, name: str) -> str:
    folder = child_path(os.path.join(store.root, "projects", path_component(P), "indexes"), name)
    with open(os.path.join(folder, "CURRENT"), "rb") as f:
        return os.path.join(folder, "versions", json.loads(f.read())["version"])


def rehash(store: DirectoryStore, name: str) -> None:
    """Redo the checksums after a hand edit, so only validation can object."""
    vdir = version_dir(store, name)
    with open(os.path.join(vdir, "manifest.json"), "rb") as f:
        manifest = json.loads(f.read())
    for fname, entry in manifest["files"].items():
        with open(os.path.join(vdir, fname), "rb") as f:
            data = f.read()
        entry["bytes"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    body = json.dumps(manifest).encode()
    with open(os.path.join(vdir, "manifest.json"), "wb") as f:
        f.write(body)
    pointer_path = os.path.join(os.path.dirname(os.path.dirname(vdir)), "CURRENT")
    with open(pointer_path, "rb") as f:
        pointer = json.loads(f.read())
    pointer["manifest_sha256"] = hashlib.sha256(body).hexdigest()
    with open(pointer_path, "w") as f:
        f.write(json.dumps(pointer))


async def answers(session: Any) -> list[list[tuple[str, float]]]:
    out = []
    for text in QUERIES:
        for alpha in (0.0, 0.8):
            found = await session.query(text, QueryOptions(embedding=[0.5, -0.5, 0.25, 0.1], top_k=8, alpha=alpha))
            out.append([(d.id, d.score) for d in found.docs])
    return out


def client(store: DirectoryStore, keyword_backend: str, vector_backend: str = "python") -> MossClient:
    return MossClient(P, K, store=store, vector_backend=vector_backend, keyword_backend=keyword_backend)


@pytest.fixture
def store(tmp_path: Any) -> DirectoryStore:
    s = DirectoryStore(str(tmp_path / "store"))
    s.authenticate(P, K)
    return s


def test_a_push_stores_the_terms_in_the_documented_layout(store: DirectoryStore, keyword_backend: str) -> None:
    async def run() -> None:
        session = await client(store, keyword_backend).session("kb", "custom")
        await session.add_docs(docs())
        await session.push_index()

    asyncio.run(run())
    vdir = version_dir(store, "kb")
    assert sorted(os.listdir(vdir)) == ["documents.jsonl", "keywords.u32", "manifest.json", "vectors.f32"]
    with open(os.path.join(vdir, "manifest.json"), "rb") as f:
        manifest = json.loads(f.read())
    assert manifest["format_version"] == 2
    entry = manifest["files"]["keywords.u32"]
    assert set(entry) == {"bytes", "sha256", "dtype", "terms"}
    assert entry["dtype"] == "<u4" and entry["terms"] == TERMS_VERSION
    with open(os.path.join(vdir, "keywords.u32"), "rb") as f:
        data = f.read()
    assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    # doc_count lengths (0xFFFFFFFF: not in the keyword index), then each document's term ids ascending
    expected_lengths, expected_terms = [], []
    for doc in sorted(docs(), key=lambda d: d.id):  # insertion order is id order here
        if not doc.metadata and not doc.text.strip():
            expected_lengths.append(0xFFFFFFFF)  # the marker FMT-15 spells, not whatever NOT_INDEXED holds
            continue
        terms = sorted(document_terms(doc.text, doc.metadata))
        expected_lengths.append(len(terms))
        expected_terms += terms
    n = len(expected_lengths)
    assert list(struct.unpack(f"<{n}I", data[: 4 * n])) == expected_lengths
    assert list(struct.unpack(f"<{len(expected_terms)}I", data[4 * n :])) == expected_terms


@pytest.mark.parametrize("stored_as", ["terms", "format 1", "other tokenizer"])
def test_a_resume_ranks_as_the_pushed_session_whatever_the_stored_form(
    store: DirectoryStore, vector_backend: str, keyword_backend: str, stored_as: str
) -> None:
    """Terms loaded, an old snapshot without them (format_version 1) and terms of another
    tokenizer version (ignored: the texts are tokenized) all give the session's exact answers."""

    async def run() -> None:
        session = await client(store, keyword_backend, vector_backend).session("kb", "custom")
        await session.add_docs(docs())
        await session.add_docs(docs(10, seed=9)[3:8])  # upserts: positions kept, terms replaced
        await session.delete_docs(["d005", "d020"])
        expected = await answers(session)
        await session.push_index()
        if stored_as != "terms":
            pushed = store.read_index(P, "kb")
            assert pushed is not None and pushed.keywords is not None
            if stored_as == "format 1":
                index = dataclasses.replace(pushed, keywords=None)
            else:  # nonsense terms of an unknown tokenizer: must not be used
                bogus = StoredTerms(
                    "some-other-tokenizer", array("I", [1] * pushed.doc_count), array("I", [7] * pushed.doc_count)
                )
                index = dataclasses.replace(pushed, keywords=bogus)
            store.write_index(P, index)
            vdir = version_dir(store, "kb")
            with open(os.path.join(vdir, "manifest.json"), "rb") as f:
                manifest = json.loads(f.read())
            assert manifest["format_version"] == (1 if stored_as == "format 1" else 2)
            assert ("keywords.u32" in os.listdir(vdir)) == (stored_as != "format 1")
        for kb in ("python", "numpy"):
            resumed = await client(store, kb, vector_backend).session("kb")
            assert await answers(resumed) == expected
            await resumed.close()

    asyncio.run(run())


def test_format_1_snapshot_written_by_the_old_writer_loads(store: DirectoryStore) -> None:
    """A version-1 index directory, byte for byte as writers before format_version 2 made it."""
    records = (Record("a", "red fox", None, None), Record("b", "lazy red dog", {"k": "v"}, "p"))
    store.write_index(P, StoredIndex("old", "custom", None, 2, records, array("f", [1.0, 0.0, 0.0, 1.0])))
    vdir = version_dir(store, "old")
    assert sorted(os.listdir(vdir)) == ["documents.jsonl", "manifest.json", "vectors.f32"]
    with open(os.path.join(vdir, "manifest.json"), "rb") as f:
        manifest = json.loads(f.read())
    assert manifest["format_version"] == 1 and set(manifest["files"]) == {"documents.jsonl", "vectors.f32"}
    back = store.read_index(P, "old")
    assert back is not None and back.keywords is None

    async def run() -> list[str]:
        session = await client(store, "numpy").session("old")
        found = await session.query("red", QueryOptions(embedding=[0.0, 1.0], alpha=0.0))
        return [d.id for d in found.docs]

    assert asyncio.run(run()) == ["a", "b"]  # a is shorter: higher BM25 for the same tf


@pytest.mark.parametrize(
    "edit",
    ["lengths too long", "lengths too short", "odd size", "v1 names keywords", "v2 without keywords", "dtype"],
)
def test_damaged_or_inconsistent_terms_are_deserialization(store: DirectoryStore, edit: str) -> None:
    records = (Record("a", "red fox", None, None), Record("b", "dog", None, None))
    terms = StoredTerms(TERMS_VERSION, array("I", [2, 1]), array("I", sorted(term_ids("red fox")) + term_ids("dog")))
    store.write_index(P, StoredIndex("kb", "custom", None, 1, records, array("f", [1.0, 2.0]), keywords=terms))
    assert store.read_index(P, "kb") is not None
    vdir = version_dir(store, "kb")
    path = os.path.join(vdir, "keywords.u32")
    with open(path, "rb") as f:
        data = f.read()
    with open(os.path.join(vdir, "manifest.json"), "rb") as f:
        manifest = json.loads(f.read())
    if edit == "lengths too long":
        data = struct.pack("<I", 3) + data[4:]
    elif edit == "lengths too short":
        data = struct.pack("<I", 1) + data[4:]
    elif edit == "odd size":
        data += b"\x00"
    elif edit == "v1 names keywords":
        manifest["format_version"] = 1
    elif edit == "v2 without keywords":
        del manifest["files"]["keywords.u32"]
    else:
        manifest["files"]["keywords.u32"]["dtype"] = "<i4"
    with open(path, "wb") as f:
        f.write(data)
    with open(os.path.join(vdir, "manifest.json"), "w") as f:
        f.write(json.dumps(manifest))
    rehash(store, "kb")
    with pytest.raises(MossError) as info:
        store.read_index(P, "kb")
    assert info.value.code == "DESERIALIZATION"


def test_every_single_bit_flip_of_the_terms_is_detected(store: DirectoryStore) -> None:
    records = (Record("a", "red fox", None, None), Record("b", "", None, None))
    terms = StoredTerms(TERMS_VERSION, array("I", [2, NOT_INDEXED]), array("I", sorted(term_ids("red fox"))))
    store.write_index(P, StoredIndex("kb", "custom", None, 1, records, array("f", [1.0, 2.0]), keywords=terms))
    path = os.path.join(version_dir(store, "kb"), "keywords.u32")
    with open(path, "rb") as f:
        data = f.read()
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 1 << (i % 8)
        with open(path, "wb") as f:
            f.write(damaged)
        with pytest.raises(MossError) as info:
            store.read_index(P, "kb")
        assert info.value.code == "DESERIALIZATION"
    with open(path, "wb") as f:
        f.write(data)
    back = store.read_index(P, "kb")
    assert back is not None and back.keywords == terms


def test_the_writer_refuses_terms_that_do_not_fit_the_documents(store: DirectoryStore) -> None:
    records = (Record("a", "red fox", None, None),)
    terms = StoredTerms(TERMS_VERSION, array("I", [3]), array("I", [1, 2]))
    with pytest.raises(MossError) as info:
        store.write_index(P, StoredIndex("kb", "custom", None, 1, records, array("f", [1.0]), keywords=terms))
    assert info.value.code == "INTERNAL"
    assert store.read_index(P, "kb") is None


def test_terms_version_pins_the_term_ids() -> None:
    """If this fails, the term ids of some record changed: bump TERMS_VERSION (stored terms of the
    old tokenizer must then be ignored, not loaded)."""
    assert TERMS_VERSION == "moss_ref-terms-1"
    text = "The Refunds reach your card, in 3.14 days! Don't e-mail."  # "don't" is a stop word
    assert document_terms(text, {"topic": "billing"}) == [
        2614689184, 1786812219, 3873085845, 4239384973, 204071500, 13021349, 4186972115, 2895401077, 1573807491
    ]  # fmt: skip


class PlainKeywords:
    """A keyword backend with only the small methods: the core's fallbacks serve it."""

    name = "plain"

    def __init__(self) -> None:
        self.inner = PythonKeywords()

    def __len__(self) -> int:
        return len(self.inner)

    def put(self, ids: Any, tokens: Any) -> None:
        self.inner.put(ids, tokens)

    def remove(self, ids: Any) -> None:
        self.inner.remove(ids)

    def clear(self) -> None:
        self.inner.clear()

    def rank(self, query: Any, k: int, position: Any, allowed: Any) -> Any:
        return self.inner.rank(query, k, position, allowed)


@pytest.mark.parametrize("seed", range(12))
def test_every_backend_exports_the_same_terms_and_loads_them_back(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NumpyKeywords, "compact_min", 3)  # compaction (row renumbering) happens too
    rng = random.Random(seed)
    corpora = [Corpus(PythonVectors(), None, kb) for kb in (PythonKeywords(), NumpyKeywords(), PlainKeywords())]
    for _ in range(rng.randint(1, 6)):
        batch: dict[str, Record] = {}
        for _ in range(rng.randint(1, 30)):
            doc_id = f"d{rng.randrange(60)}"
            text = (
                " ".join(rng.choices(WORDS, k=rng.randint(0, 8)))
                if rng.random() > 0.15
                else rng.choice(["", " ", "the a"])
            )
            metadata = None if rng.random() < 0.5 else {"k": rng.choice(["red", "v", "the"])}
            batch[doc_id] = Record(doc_id, text, metadata, None)
        for corpus in corpora:
            corpus.put(list(batch.values()), [[1.0, float(j)] for j in range(len(batch))])
        gone = [f"d{rng.randrange(60)}" for _ in range(rng.randint(0, 8))]
        for corpus in corpora:
            corpus.remove(gone)
    records = tuple(corpora[0].records.values())
    exported = [export_terms(corpus.keywords, records) for corpus in corpora]
    assert exported[0] == exported[1] == exported[2]
    lengths, terms = exported[0]
    expected_lengths: list[int] = []
    expected: list[int] = []
    for r in records:
        if not r.metadata and not r.text.strip():
            expected_lengths.append(NOT_INDEXED)
        else:
            doc = sorted(document_terms(r.text, r.metadata))
            expected_lengths.append(len(doc))
            expected += doc
    assert list(lengths) == expected_lengths and list(terms) == expected
    rows = array("f", [0.5] * (2 * len(records)))
    queries = [term_ids(q) for q in [*QUERIES, "k v", "the"]]
    reference = Corpus(PythonVectors(), None, PythonKeywords())
    reference.load(list(records), rows, 2)  # tokenizes
    for make in (PythonKeywords, NumpyKeywords, PlainKeywords):
        loaded = Corpus(PythonVectors(), None, make())
        loaded.load(list(records), rows, 2, (lengths, terms))
        assert export_terms(loaded.keywords, records) == (lengths, terms)
        for query in queries:
            assert loaded.keywords.rank(query, 6, loaded.position, None) == reference.keywords.rank(
                query, 6, reference.position, None
            )
