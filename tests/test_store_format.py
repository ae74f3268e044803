"""The on-disk format (docs/rules/stores.md FMT-*) and path safety (STO-8).

Every stored byte is untrusted: truncations, bit flips and hand edits (with checksums redone so
that only the deeper validation can catch them) must give ``MossError`` code
``DESERIALIZATION`` — or, where the edit changes nothing that matters, the very same answer —
and must leave the store untouched. No other exception, no wrong answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
from array import array
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref import MossClient, MossError
from moss_ref._corpus import Record
from moss_ref._protocols import EmbedderFingerprint
from moss_ref.stores.base import StoredIndex
from moss_ref.stores.directory import DirectoryStore
from moss_ref.stores.format import (
    FORMAT_VERSION,
    FormatError,
    child_path,
    path_component,
    seal,
    unseal,
)

P, K = "proj", "key"


def custom_index(name: str = "idx", n: int = 3, dim: int = 4) -> StoredIndex:
    records = tuple(
        Record(f"d{i}", f"text number {i} \u00e9\u4e2d", {"k": str(i)} if i % 2 else None, None if i % 3 else f"p{i}")
        for i in range(n)
    )
    vectors = array("f", [float(i * dim + j) / 7.0 for i in range(n) for j in range(dim)])
    return StoredIndex(name, "custom", None, dim if n else None, records, vectors)


def builtin_index(name: str = "idx", dim: int = 8) -> StoredIndex:
    fp = EmbedderFingerprint("test-embedder", "3", dim, "ab" * 32)
    records = (Record("a", "alpha", None, None), Record("b", "beta", {"x": "y"}, "pay"))
    return StoredIndex(name, "moss-minilm", fp, dim, records, array("f", [0.5] * (2 * dim)))


def same_contents(a: StoredIndex, b: StoredIndex) -> bool:
    return (a.name, a.model_id, a.embedder, a.dimension, list(a.records), list(a.vectors)) == (
        b.name,
        b.model_id,
        b.embedder,
        b.dimension,
        list(b.records),
        list(b.vectors),
    )


def tree(root: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, root)] = fh.read()
    return out


@pytest.fixture
def store(tmp_path: Any) -> DirectoryStore:
    s = DirectoryStore(str(tmp_path / "store"))
    s.authenticate(P, K)
    return s


def index_dir(store: DirectoryStore, name: str = "idx") -> str:
    return child_path(os.path.join(store.root, "projects", path_component(P), "indexes"), name)


def current_version_dir(store: DirectoryStore, name: str = "idx") -> str:
    folder = index_dir(store, name)
    with open(os.path.join(folder, "CURRENT"), "rb") as f:
        version = json.loads(f.read())["version"]
    return os.path.join(folder, "versions", version)


def rehash(store: DirectoryStore, name: str = "idx") -> None:
    """Redo every checksum of the current version after a hand edit (so only validation can object)."""
    folder = index_dir(store, name)
    vdir = current_version_dir(store, name)
    with open(os.path.join(vdir, "manifest.json"), "rb") as f:
        manifest = json.loads(f.read())
    for fname, entry in manifest.get("files", {}).items():
        path = os.path.join(vdir, fname)
        if isinstance(entry, dict) and os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            entry["bytes"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    body = json.dumps(manifest).encode()
    with open(os.path.join(vdir, "manifest.json"), "wb") as f:
        f.write(body)
    with open(os.path.join(folder, "CURRENT"), "rb") as f:
        pointer = json.loads(f.read())
    pointer["manifest_sha256"] = hashlib.sha256(body).hexdigest()
    with open(os.path.join(folder, "CURRENT"), "w") as f:
        f.write(json.dumps(pointer))


# -- round trips and the exact layout ------------------------------------------------------


@pytest.mark.parametrize("make", [custom_index, builtin_index, lambda: custom_index(n=0)])
def test_round_trip_keeps_everything(store: DirectoryStore, make: Callable[[], StoredIndex]) -> None:
    index = make()
    published = store.write_index(P, index)
    back = store.read_index(P, "idx")
    assert back is not None and same_contents(back, index)
    assert (back.version, back.created_at, back.updated_at, back.index_id) == (
        published.version,
        published.created_at,
        published.updated_at,
        published.index_id,
    )


def test_strings_that_are_not_valid_unicode_round_trip(store: DirectoryStore) -> None:
    records = (Record("\ud800id", "lone \udfff surrogate", {"\ud801": "v\udc00"}, "\ud83d"),)
    index = StoredIndex("idx", "custom", None, 2, records, array("f", [1.0, 0.0]))
    store.write_index(P, index)
    back = store.read_index(P, "idx")
    assert back is not None and back.records == records
    with open(os.path.join(current_version_dir(store), "documents.jsonl"), "rb") as f:
        f.read().decode("utf-8")  # the file itself is always valid UTF-8 (FMT-5)


def test_layout_is_exactly_the_documented_one(store: DirectoryStore) -> None:
    index = StoredIndex(
        "idx",
        "custom",
        None,
        2,
        (Record("a", "x", {"k": "v"}, None), Record("b", "\u00e9", None, "p")),
        array("f", [1.0, -2.5, 0.1, 3.0]),
    )
    store.write_index(P, index)
    vdir = current_version_dir(store)
    assert sorted(os.listdir(vdir)) == ["documents.jsonl", "manifest.json", "vectors.f32"]
    with open(os.path.join(vdir, "documents.jsonl"), "rb") as f:
        docs = f.read()
    assert docs == (
        b'{"id":"a","text":"x","metadata":{"k":"v"},"payload":null}\n'
        b'{"id":"b","text":"\xc3\xa9","metadata":null,"payload":"p"}\n'
    )
    with open(os.path.join(vdir, "vectors.f32"), "rb") as f:
        vectors = f.read()
    assert vectors == struct.pack("<4f", 1.0, -2.5, 0.1, 3.0)
    with open(os.path.join(vdir, "manifest.json"), "rb") as f:
        manifest_bytes = f.read()
    manifest = json.loads(manifest_bytes)
    assert manifest["format"] == "moss_ref/index" and manifest["format_version"] == FORMAT_VERSION == 1
    assert set(manifest) == {
        "format",
        "format_version",
        "index_name",
        "index_id",
        "version",
        "model_id",
        "embedder",
        "dimension",
        "doc_count",
        "created_at",
        "updated_at",
        "files",
    }
    assert (manifest["index_name"], manifest["model_id"], manifest["embedder"], manifest["dimension"]) == (
        "idx",
        "custom",
        None,
        2,
    )
    assert manifest["doc_count"] == 2 and manifest["version"] == os.path.basename(vdir)
    assert manifest["files"] == {
        "documents.jsonl": {"bytes": len(docs), "sha256": hashlib.sha256(docs).hexdigest()},
        "vectors.f32": {"bytes": 16, "sha256": hashlib.sha256(vectors).hexdigest(), "dtype": "<f4"},
    }
    with open(os.path.join(index_dir(store), "CURRENT"), "rb") as f:
        pointer = json.loads(f.read())
    assert pointer == {
        "format_version": 1,
        "version": manifest["version"],
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
    }


def test_builtin_manifest_records_the_embedder_fingerprint(store: DirectoryStore) -> None:
    store.write_index(P, builtin_index())
    with open(os.path.join(current_version_dir(store), "manifest.json"), "rb") as f:
        manifest = json.loads(f.read())
    assert manifest["embedder"] == {
        "backend": "test-embedder",
        "version": "3",
        "dimension": 8,
        "weights_sha256": "ab" * 32,
    }
    assert manifest["model_id"] == "moss-minilm" and manifest["dimension"] == 8


def test_vectors_are_never_json(store: DirectoryStore) -> None:
    n, dim = 200, 16
    records = tuple(Record(f"{i:04d}", "t", None, None) for i in range(n))
    store.write_index(P, StoredIndex("idx", "custom", None, dim, records, array("f", [0.25] * (n * dim))))
    vdir = current_version_dir(store)
    assert os.path.getsize(os.path.join(vdir, "vectors.f32")) == 4 * n * dim
    with open(os.path.join(vdir, "documents.jsonl"), "rb") as f:
        assert b"0.25" not in f.read()
    with open(os.path.join(vdir, "manifest.json"), "rb") as f:
        assert b"0.25" not in f.read()


def test_writer_refuses_what_a_reader_would_reject(store: DirectoryStore) -> None:
    bad = StoredIndex("idx", "custom", None, 4, (Record("a", "t", None, None),), array("f", [1.0]))
    with pytest.raises(MossError) as info:
        store.write_index(P, bad)
    assert info.value.code == "INTERNAL"
    assert store.read_index(P, "idx") is None


def test_finite_check_accepts_the_largest_floats_and_rejects_nan_and_infinity(store: DirectoryStore) -> None:
    big = array("f", [3.0e38, -3.0e38, 1e-45, -0.0])
    store.write_index(P, StoredIndex("idx", "custom", None, 4, (Record("a", "t", None, None),), big))
    back = store.read_index(P, "idx")
    assert back is not None and list(back.vectors) == list(big)
    for value in (float("nan"), float("inf"), float("-inf")):
        path = os.path.join(current_version_dir(store), "vectors.f32")
        with open(path, "r+b") as f:
            f.seek(8)
            f.write(struct.pack("<f", value))
        rehash(store)
        with pytest.raises(MossError) as info:
            store.read_index(P, "idx")
        assert info.value.code == "DESERIALIZATION" and "finite" in (info.value.detail or "")


# -- damaged files ---------------------------------------------------------------------------


def expect_deserialization_or_same(store: DirectoryStore, original: StoredIndex) -> None:
    try:
        back = store.read_index(P, "idx")
    except MossError as exc:
        assert exc.code == "DESERIALIZATION", exc
        return
    assert back is not None and same_contents(back, original)


def index_files(store: DirectoryStore) -> list[str]:
    vdir = current_version_dir(store)
    return [os.path.join(index_dir(store), "CURRENT")] + [
        os.path.join(vdir, f) for f in ("manifest.json", "documents.jsonl", "vectors.f32")
    ]


def test_every_single_bit_flip_is_detected(store: DirectoryStore) -> None:
    original = custom_index(n=2, dim=3)
    store.write_index(P, original)
    for path in index_files(store):
        with open(path, "rb") as f:
            data = f.read()
        for i in range(len(data)):
            damaged = bytearray(data)
            damaged[i] ^= 1 << (i % 8)  # a different bit position at each byte
            with open(path, "wb") as f:
                f.write(damaged)
            expect_deserialization_or_same(store, original)
        with open(path, "wb") as f:
            f.write(data)
    assert store.read_index(P, "idx") is not None


def test_every_truncation_is_detected(store: DirectoryStore) -> None:
    original = custom_index(n=2, dim=3)
    store.write_index(P, original)
    for path in index_files(store):
        with open(path, "rb") as f:
            data = f.read()
        for cut in range(len(data)):
            with open(path, "wb") as f:
                f.write(data[:cut])
            expect_deserialization_or_same(store, original)
        with open(path, "wb") as f:
            f.write(data)


@pytest.mark.parametrize("victim", ["manifest.json", "documents.jsonl", "vectors.f32", None])
def test_missing_files_are_detected(store: DirectoryStore, victim: str | None) -> None:
    store.write_index(P, custom_index())
    vdir = current_version_dir(store)
    if victim is None:
        import shutil

        shutil.rmtree(vdir)
    else:
        os.unlink(os.path.join(vdir, victim))
    with pytest.raises(MossError) as info:
        store.read_index(P, "idx")
    assert info.value.code == "DESERIALIZATION"


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_damage_never_gives_a_wrong_answer(tmp_path_factory: Any, data: st.DataObject) -> None:
    store = DirectoryStore(str(tmp_path_factory.mktemp("fuzz")))
    original = custom_index(n=3, dim=2)
    store.write_index(P, original)
    path = data.draw(st.sampled_from(index_files(store)))
    with open(path, "rb") as f:
        content = bytearray(f.read())
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(0, len(content) - 1)))
        if kind == "flip" and content:
            content[pos] ^= data.draw(st.integers(1, 255))
        elif kind == "set" and content:
            content[pos] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            content[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif content:
            del content[pos : pos + data.draw(st.integers(1, 8))]
    with open(path, "wb") as f:
        f.write(content)
    expect_deserialization_or_same(store, original)


def _edit_manifest(change: Callable[[dict[str, Any]], None]) -> Callable[[DirectoryStore], None]:
    def edit(store: DirectoryStore) -> None:
        path = os.path.join(current_version_dir(store), "manifest.json")
        with open(path, "rb") as f:
            manifest = json.loads(f.read())
        change(manifest)
        with open(path, "w") as f:
            f.write(json.dumps(manifest))

    return edit


def _edit_docs(change: Callable[[list[bytes]], list[bytes]]) -> Callable[[DirectoryStore], None]:
    def edit(store: DirectoryStore) -> None:
        path = os.path.join(current_version_dir(store), "documents.jsonl")
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")[:-1]
        with open(path, "wb") as f:
            f.write(b"".join(line + b"\n" for line in change(lines)))

    return edit


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda m: m.__setitem__(key, value)


def _line(i: int, text: bytes) -> Callable[[list[bytes]], list[bytes]]:
    return lambda lines: [text if n == i else line for n, line in enumerate(lines)]


HAND_EDITS: dict[str, Callable[[DirectoryStore], None]] = {
    "format_version 2": _edit_manifest(_set("format_version", 2)),
    "format_version true": _edit_manifest(_set("format_version", True)),
    "format other": _edit_manifest(_set("format", "other")),
    "unknown manifest key": _edit_manifest(_set("extra", 1)),
    "missing doc_count": _edit_manifest(lambda m: m.pop("doc_count")),
    "doc_count too big": _edit_manifest(_set("doc_count", 4)),
    "doc_count bool": _edit_manifest(_set("doc_count", True)),
    "dimension changed": _edit_manifest(_set("dimension", 2)),
    "dimension zero": _edit_manifest(_set("dimension", 0)),
    "model unknown": _edit_manifest(_set("model_id", "moss-giant")),
    "builtin without embedder": _edit_manifest(_set("model_id", "moss-minilm")),
    "custom with embedder": _edit_manifest(
        _set("embedder", {"backend": "b", "version": "1", "dimension": 4, "weights_sha256": ""})
    ),
    "other index name": _edit_manifest(_set("index_name", "other")),
    "invalid index name": _edit_manifest(_set("index_name", "a/b")),
    "version mismatch": _edit_manifest(_set("version", "0000000009-00000000")),
    "bad index id": _edit_manifest(_set("index_id", "xyz")),
    "bad timestamp": _edit_manifest(_set("created_at", "yesterday")),
    "vectors dtype big-endian": _edit_manifest(lambda m: m["files"]["vectors.f32"].__setitem__("dtype", ">f4")),
    "files path key": _edit_manifest(lambda m: m["files"].__setitem__("../x", {"bytes": 0, "sha256": "0" * 64})),
    "manifest not an object": _edit_manifest(lambda m: m.clear()),
    "duplicate id": _edit_docs(lambda lines: [lines[0], lines[0], lines[2]]),
    "id not a string": _edit_docs(_line(0, b'{"id":1,"text":"t"}')),
    "text missing": _edit_docs(_line(0, b'{"id":"z"}')),
    "unknown doc key": _edit_docs(_line(0, b'{"id":"z","text":"t","embedding":[1,2,3,4]}')),
    "metadata value int": _edit_docs(_line(0, b'{"id":"z","text":"t","metadata":{"a":1}}')),
    "metadata list": _edit_docs(_line(0, b'{"id":"z","text":"t","metadata":["a"]}')),
    "payload object": _edit_docs(_line(0, b'{"id":"z","text":"t","payload":{}}')),
    "NaN constant": _edit_docs(_line(0, b'{"id":"z","text":NaN}')),
    "duplicate JSON key": _edit_docs(_line(0, b'{"id":"z","id":"y","text":"t"}')),
    "invalid UTF-8": _edit_docs(_line(0, b'{"id":"z","text":"\xff"}')),
    "line not an object": _edit_docs(_line(0, b'["z","t"]')),
    "blank line": _edit_docs(lambda lines: [*lines[:2], b""]),
    "extra line": _edit_docs(lambda lines: [*lines, lines[0]]),
    "deep nesting": _edit_docs(_line(0, b"[" * 100000 + b"]" * 100000)),
}


@pytest.mark.parametrize("edit", sorted(HAND_EDITS))
def test_hand_edited_store_gives_deserialization_and_changes_nothing(tmp_path: Any, edit: str) -> None:
    root = str(tmp_path / "store")
    store = DirectoryStore(root)
    store.authenticate(P, K)
    store.write_index(P, custom_index())
    HAND_EDITS[edit](store)
    rehash(store)
    before = tree(root)
    with pytest.raises(MossError) as info:
        store.read_index(P, "idx")
    assert info.value.code == "DESERIALIZATION", info.value
    client = MossClient(P, K, store=root, embedder="hash-v1", vector_backend="python")
    for call in (lambda: client.session_sync("idx"), lambda: asyncio.run(client.load_index("idx"))):
        with pytest.raises(MossError) as info:
            call()
        assert info.value.code == "DESERIALIZATION"
    assert not client._sessions
    with pytest.raises(MossError, match="not loaded"):
        asyncio.run(client.query("idx", "t"))
    assert tree(root) == before


def test_unknown_format_version_in_pointer_is_deserialization(store: DirectoryStore) -> None:
    store.write_index(P, custom_index())
    path = os.path.join(index_dir(store), "CURRENT")
    with open(path, "rb") as f:
        pointer = json.loads(f.read())
    pointer["format_version"] = 2
    with open(path, "w") as f:
        f.write(json.dumps(pointer))
    with pytest.raises(MossError) as info:
        store.read_index(P, "idx")
    assert info.value.code == "DESERIALIZATION" and "format_version" in str(info.value)


def test_a_directory_where_a_file_belongs_is_deserialization(store: DirectoryStore) -> None:
    store.write_index(P, custom_index())
    path = os.path.join(current_version_dir(store), "documents.jsonl")
    os.unlink(path)
    os.mkdir(path)
    with pytest.raises(MossError) as info:
        store.read_index(P, "idx")
    assert info.value.code == "DESERIALIZATION"


# -- sealed small records --------------------------------------------------------------------


def test_sealed_records_round_trip_and_detect_any_change() -> None:
    record = {"job_id": "job_1", "doc_count": 2, "error": None, "name": "\u00e9\ud800"}
    data = seal(record)
    assert unseal(data, "x") == record
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0x04
        try:
            again = unseal(bytes(damaged), "x")
        except FormatError:
            continue
        assert again == record


# -- names never leave the store (STO-8) -----------------------------------------------------


def test_path_components_are_portable_and_never_special() -> None:
    assert path_component("support") == "support"
    assert path_component("my-index_2.v1") == "my-index_2.v1"
    for name in ("Support", "con", "nul.txt", "a.", ".hidden", "..", ".", "a b", "a\\b", "C:", "~x", "_x61", "é"):
        component = path_component(name)
        assert component.startswith(("_x", "_h")), name
        assert set(component[2:]) <= set("0123456789abcdef")
    assert path_component("Support") != path_component("support")
    long = "n" * 256
    assert path_component(long).startswith("_h") and len(path_component(long)) == 66
    assert len(path_component("é" * 48)) == 2 + 192


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_no_name_maps_outside_its_parent(name: str) -> None:
    parent = os.path.abspath("/tmp/parent-dir")
    path = child_path(parent, name)
    assert os.path.dirname(path) == parent
    component = os.path.basename(path)
    assert component not in ("", ".", "..") and "/" not in component and "\\" not in component
    assert len(component.encode()) <= 200


TRICKY = ["..x", "...", "a\\..\\..\\b", " lead", "C:\\x", "CON", "%2e%2e", "\u202e", "n" * 256, "é" * 128, "a.b."]
REJECTED = [
    "../x",
    "a/b",
    "/abs",
    "..",
    ".",
    "",
    "   ",
    "a\x00b",
    "tab\there",
    "new\nline",
    "\x7f",
    "x" * 257,
    "é" * 129,
]


def test_tricky_and_rejected_names_never_touch_paths_outside_the_store(tmp_path: Any) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    root = str(outer / "store")
    client = MossClient(P, K, store=root, cache_path=str(outer / "cache"), embedder="hash-v1", vector_backend="python")
    for name in TRICKY:
        asyncio.run(client.create_index(name, [{"id": "a", "text": "x"}]))
        assert asyncio.run(client.get_index(name)).name == name
        asyncio.run(client.load_index(name))
        session = client.session_sync(name)
        asyncio.run(session.save_to_disk())
    assert sorted(i.name for i in asyncio.run(client.list_indexes())) == sorted(TRICKY)
    for name in REJECTED:
        for call in (
            lambda n=name: client.session_sync(n),
            lambda n=name: asyncio.run(client.create_index(n, [{"id": "a", "text": "x"}])),
            lambda n=name: asyncio.run(client.get_index(n)),
            lambda n=name: asyncio.run(client.delete_index(n)),
            lambda n=name: asyncio.run(client.load_index(n)),
        ):
            with pytest.raises(ValueError):
                call()
        with pytest.raises(ValueError):
            DirectoryStore(root).read_index(P, name)
    assert sorted(os.listdir(outer)) == ["cache", "store"]
    for _folder, dirs, files in os.walk(outer):
        for entry in dirs + files:
            assert entry.isascii() and "\\" not in entry and len(entry) <= 200, entry
    for name in TRICKY:
        assert asyncio.run(client.delete_index(name)) is True
    assert asyncio.run(client.list_indexes()) == []


def test_an_index_directory_moved_under_another_name_is_deserialization(store: DirectoryStore) -> None:
    """FMT-4: the manifest's index name must map back to the directory it lives in."""
    store.write_index(P, custom_index("alpha"))
    os.rename(index_dir(store, "alpha"), index_dir(store, "beta"))
    for call in (lambda: store.read_index(P, "beta"), lambda: store.list_indexes(P)):
        with pytest.raises(MossError) as info:
            call()
        assert info.value.code == "DESERIALIZATION" and "alpha" in str(info.value)


def test_damaged_project_and_job_files_are_deserialization(tmp_path: Any) -> None:
    """FMT-11, FMT-13: the small records are checksummed too (a flipped digit is never believed)."""
    root = str(tmp_path / "store")
    client = MossClient(P, K, store=root, embedder="hash-v1", vector_backend="python")
    session = client.session_sync("idx")
    asyncio.run(session.add_docs([{"id": "a", "text": "t"}]))
    job_id = asyncio.run(session.push_index()).job_id
    project = os.path.join(root, "projects", path_component(P))
    for path, call in (
        (os.path.join(project, "jobs", f"{job_id}.json"), lambda: asyncio.run(client.get_job_status(job_id))),
        (
            os.path.join(project, "project.json"),
            lambda: MossClient(P, K, store=root, embedder="hash-v1").session_sync("idx"),
        ),
    ):
        with open(path, "rb") as f:
            data = f.read()
        for i in range(0, len(data), 3):
            damaged = bytearray(data)
            damaged[i] ^= 1 << (i % 8)
            with open(path, "wb") as f:
                f.write(damaged)
            try:
                call()
            except MossError as exc:
                assert exc.code == "DESERIALIZATION", exc
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        with pytest.raises(MossError) as info:
            call()
        assert info.value.code == "DESERIALIZATION"
        with open(path, "wb") as f:
            f.write(data)
        call()
