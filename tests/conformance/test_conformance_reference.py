"""The reference passes every vector, in-process and through its own driver, on every vector
backend x keyword backend combination (KIT-3, KW-5), and through the async public API as well as
the sync core."""

from __future__ import annotations

import os
import sys

import pytest
from moss_ref_conformance.cases import load_cases
from moss_ref_conformance.reference import MossApiTarget, ReferenceTarget
from moss_ref_conformance.remote import DriverTarget
from moss_ref_conformance.runner import run_cases
from moss_ref_conformance.targets import InProcess

CASES = load_cases()
BACKENDS = ["python", "numpy"]
COMBINATIONS = [(v, k) for v in BACKENDS for k in BACKENDS]


def _assert_all_pass(summary: object) -> None:
    failures = [f"{r.name}: {r.outcome}: {r.message}" for r in summary.results if r.outcome != "pass"]  # type: ignore[attr-defined]
    assert not failures, "\n".join(failures)
    assert summary.ok  # type: ignore[attr-defined]


@pytest.mark.parametrize(("backend", "keywords"), COMBINATIONS)
def test_reference_passes_every_vector_in_process(backend: str, keywords: str) -> None:
    summary = run_cases(InProcess(ReferenceTarget(vector_backend=backend, keyword_backend=keywords)), CASES)
    assert len(summary.results) == len(CASES) >= 100
    _assert_all_pass(summary)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_reference_passes_every_vector_through_its_driver(backend: str) -> None:
    """One driver subprocess per run; the backend is chosen by the environment variable, as a user
    of the real client would (R-V-1), so the run also proves the driver honours it."""
    env = {**os.environ, "MOSS_REF_VECTOR_BACKEND": backend}
    target = DriverTarget([sys.executable, "-m", "moss_ref_conformance.driver"], env=env, timeout=60)
    try:
        info = target.hello()
        assert f"vector_backend={backend}" in info["implementation"]["detail"]
        summary = run_cases(target, CASES)
    finally:
        target.close()
    _assert_all_pass(summary)
    assert target.starts == 1 and target.restarts == 0


def test_reference_passes_with_a_directory_store() -> None:
    """The same vectors with a temporary DirectoryStore as the cloud (push and resume go to disk)."""
    summary = run_cases(InProcess(ReferenceTarget(vector_backend="python", store="directory")), CASES)
    _assert_all_pass(summary)


def test_public_async_api_passes_like_the_sync_core() -> None:
    """MossApiTarget drives the Moss-shaped async API; it must agree with the sync core everywhere."""
    summary = run_cases(InProcess(MossApiTarget(module="moss_ref", vector_backend="python")), CASES)
    _assert_all_pass(summary)


def test_only_hash_v1_targets_declare_hash_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """KIT-8: the hash_embedder cases need hash-v1 behind the built-in model ids. The reference
    declares the feature with its default embedder only; another embedder, or MossApiTarget over
    another SDK, declines it, so those cases are skipped there, never failed."""
    import types

    from moss_ref_conformance.cases import select
    from moss_ref_conformance.protocol import OPTIONAL_FEATURES

    assert "hash_embedder" in OPTIONAL_FEATURES
    assert "hash_embedder" in ReferenceTarget().hello()["features"]
    assert "hash_embedder" in MossApiTarget(module="moss_ref").hello()["features"]
    other = ReferenceTarget(embedder="minilm-numpy")
    assert "hash_embedder" not in other.hello()["features"]
    assert "text_embedding" in other.hello()["features"]
    fake = types.ModuleType("fake_moss_sdk")
    fake.MossError = type("MossError", (Exception,), {})  # type: ignore[attr-defined]
    fake.__version__ = "0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_moss_sdk", fake)
    assert "hash_embedder" not in MossApiTarget(module="fake_moss_sdk").hello()["features"]

    chosen = select(CASES, features=["hash_embedder"])
    assert chosen and all(c.level == "recommended" and "text_embedding" in c.features for c in chosen)
    summary = run_cases(InProcess(other), chosen)
    assert summary.ok and {r.outcome for r in summary.results} == {"skip"}
    assert all("hash_embedder" in r.message for r in summary.results)
    _assert_all_pass(run_cases(InProcess(ReferenceTarget(vector_backend="python")), chosen))


def test_only_moss_ref_targets_declare_explain(monkeypatch: pytest.MonkeyPatch) -> None:
    """KIT-9: explain_query is moss_ref's extension. The reference and MossApiTarget over moss_ref
    declare the feature and pass its cases (on both facades, numbers equal to the core's own
    Explanation); MossApiTarget over another SDK declines it, so its cases are skipped there."""
    import types

    from moss_ref_conformance.cases import select
    from moss_ref_conformance.protocol import OPTIONAL_FEATURES, SESSION_OPS

    from moss_ref import DocumentInfo, MossClient, QueryOptions

    assert "explain" in OPTIONAL_FEATURES and "explain_query" in SESSION_OPS
    assert "explain" in ReferenceTarget().hello()["features"]
    assert "explain" in MossApiTarget(module="moss_ref").hello()["features"]
    fake = types.ModuleType("fake_moss_sdk")
    fake.MossError = type("MossError", (Exception,), {})  # type: ignore[attr-defined]
    fake.__version__ = "0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_moss_sdk", fake)
    fake_target = MossApiTarget(module="fake_moss_sdk")
    assert "explain" not in fake_target.hello()["features"]

    chosen = select(CASES, features=["explain"])
    assert chosen and all(c.level == "recommended" for c in chosen)
    assert any(step["op"] == "explain_query" for c in chosen for step in c.steps)
    summary = run_cases(fake_target, chosen)
    assert summary.ok and {r.outcome for r in summary.results} == {"skip"}
    for backend in ("python", "numpy"):
        _assert_all_pass(run_cases(InProcess(ReferenceTarget(vector_backend=backend, keyword_backend=backend)), chosen))
    _assert_all_pass(run_cases(InProcess(MossApiTarget(module="moss_ref")), chosen))

    # The op's result is the core's Explanation, field for field.
    target = ReferenceTarget(vector_backend="python", keyword_backend="python")
    target.start_case("explain", ["explain"])
    target.step("open_session", {"index": "x", "model_id": "custom"})
    target.step("add_docs", {"docs": [{"id": "a", "text": "pear pear fig", "embedding": [1, 0]}]})
    got = target.step("explain_query", {"query": "pear", "embedding": [1, 0], "top_k": 1})["result"]
    client = MossClient("p", "k", vector_backend="python", keyword_backend="python")
    session = client.session_sync("x", "custom")
    session.core.add_docs([DocumentInfo("a", "pear pear fig", None, [1.0, 0.0])])
    want = session.core.explain_query("pear", QueryOptions(embedding=[1.0, 0.0], top_k=1)).to_dict()
    assert got["hits"][0]["terms"][0]["tf"] == 2
    assert got == {**want, "hits": [{**h, "terms": [dict(t) for t in h["terms"]]} for h in want["hits"]]}
    target.close()


def test_python_values_decode_and_declare() -> None:
    """KIT-10: each tag becomes its Python value (nesting, sharing and cycles kept through the
    filter decoding); every Python target declares python_values; the real SDK's target skips a
    step holding a self-containing filter instead of dying with it."""
    from fractions import Fraction

    from moss_ref_conformance.python_values import KitStr, decode, has_tags
    from moss_ref_conformance.reference import decode_filter

    leaf = {"field": "c", "condition": {"$eq": "x"}}
    assert not has_tags({"a": [1, {"b": 2}]}) and has_tags({"a": [{"$py": "raw", "value": 1}]})
    got = decode({"m": {"$py": "str_metadata", "value": {"k": "v", "n": "1"}, "values": False}})
    assert [type(k) for k in got["m"]] == [KitStr, KitStr] and all(type(v) is str for v in got["m"].values())
    assert decode({"$py": "tuple", "value": [{"$py": "fraction", "value": "1/3"}]}) == (Fraction(1, 3),)
    assert type(decode({"$py": "str", "value": "x"})) is KitStr
    deep = decode({"$py": "deep_and", "value": leaf, "depth": 3})
    assert deep == {"$and": [{"$and": [{"$and": [leaf]}]}]}
    shared = decode_filter(decode({"$py": "shared", "value": leaf}))
    assert shared["$or"][0]["$and"] is shared["$or"][1]["$and"] and shared["$or"][0]["$and"] == [leaf]
    cycle = decode_filter(decode({"$py": "cycle"}))
    assert cycle["$and"][0] is cycle
    assert decode({"$py": "raw", "value": "0.5"}) == "0.5"
    with pytest.raises(ValueError, match="unknown"):
        decode({"$py": "set", "value": [1]})
    assert has_tags({"filter": {"$py": "cycle"}}, "cycle") and not has_tags({"filter": shared}, "cycle")
    for target in (ReferenceTarget(), MossApiTarget(module="moss_ref")):
        assert "python_values" in target.hello()["features"]
    bad = ReferenceTarget().step("query", {"query": "", "embedding": {"$py": "set", "value": [1]}})
    assert "failure" in bad and "$py" in bad["failure"]["message"]
    chosen = [c for c in CASES if "python_values" in c.features]
    assert chosen
    _assert_all_pass(run_cases(InProcess(ReferenceTarget(vector_backend="python", keyword_backend="python")), chosen))
    _assert_all_pass(run_cases(InProcess(MossApiTarget(module="moss_ref")), chosen))
