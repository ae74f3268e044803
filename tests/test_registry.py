"""The backend registry (docs/rules/registry.md): stable names, auto choices, real entry points."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest

from moss_ref import _registry
from moss_ref._errors import INTERNAL, InvalidArgumentError, MossError, model_unavailable
from moss_ref._hash_embedder import HashEmbedder
from moss_ref._protocols import Embedder, VectorBackend
from moss_ref._registry import (
    EmbedderFallbackWarning,
    create_embedder,
    create_vector_backend,
    embedder_names,
    missing_extra,
    resolve_embedder_name,
    resolve_vector_backend_name,
    vector_backend_names,
)
from moss_ref._vectors import PythonVectors

try:
    import numpy  # noqa: F401

    HAS_NUMPY = True
except ImportError:
    HAS_NUMPY = False


@pytest.fixture
def no_real_minilm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every MiniLM embedder unavailable, whatever is installed here."""

    def unavailable(model_id: str, **options: object) -> Embedder:
        raise model_unavailable("test: weights not installed")

    fake = types.ModuleType("fake_minilm_unavailable")
    fake.create = unavailable  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_minilm_unavailable", fake)
    monkeypatch.setitem(_registry.BUILTIN_EMBEDDERS, "minilm-onnx-fp32", "fake_minilm_unavailable:create")
    monkeypatch.setitem(_registry.BUILTIN_EMBEDDERS, "minilm-onnx", "fake_minilm_unavailable:create")
    monkeypatch.setitem(_registry.BUILTIN_EMBEDDERS, "minilm-numpy", "no_such_module_for_moss_ref_tests:create")


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real installed distribution (a *.dist-info with entry_points.txt) on sys.path."""
    (tmp_path / "toy_moss_plugin.py").write_text(
        textwrap.dedent(
            """
            from moss_ref._hash_embedder import HashEmbedder
            from moss_ref._vectors import PythonVectors

            class ToyEmbedder:
                def __init__(self, model_id, scale=1.0):
                    self._inner = HashEmbedder("moss-minilm")
                    self.model_id = model_id
                    self.fingerprint = self._inner.fingerprint.__class__("toy", "1", 384, "")
                    self.scale = scale

                def embed(self, texts):
                    return self._inner.embed(texts)

            def create(model_id, **options):
                return ToyEmbedder(model_id, **options)

            def create_lite(model_id, **options):
                return ToyEmbedder(model_id, **options)

            create_lite.model_ids = ("moss-litelm",)

            def create_vectors(**options):
                backend = PythonVectors()
                return backend

            def shadow(*args, **options):
                raise AssertionError("a plugin must not shadow a built-in name")
            """
        )
    )
    dist = tmp_path / "toy_moss_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-moss-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [moss_ref.embedders]
            toy = toy_moss_plugin:create
            toy-lite = toy_moss_plugin:create_lite
            hash-v1 = toy_moss_plugin:shadow
            auto = toy_moss_plugin:shadow

            [moss_ref.vector_backends]
            toyvec = toy_moss_plugin:create_vectors
            python = toy_moss_plugin:shadow
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toy_moss_plugin", raising=False)
    return tmp_path


def test_builtin_names() -> None:
    assert {"hash-v1", "minilm-onnx-fp32", "minilm-onnx", "minilm-numpy"} <= set(embedder_names())
    assert {"python", "numpy"} <= set(vector_backend_names())
    assert "auto" not in embedder_names() and "auto" not in vector_backend_names()


def test_explicit_builtins() -> None:
    embedder = create_embedder("hash-v1", "moss-litelm")
    assert isinstance(embedder, HashEmbedder) and embedder.model_id == "moss-litelm"
    assert isinstance(create_vector_backend("python"), PythonVectors)


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(InvalidArgumentError, match=r"Unknown embedder 'nope'\. Known: 'auto', 'hash-v1'"):
        create_embedder("nope", "moss-minilm")
    with pytest.raises(InvalidArgumentError, match=r"Unknown vector backend 'faiss'\. Known: 'auto', .*'python'"):
        create_vector_backend("faiss")
    with pytest.raises(InvalidArgumentError, match="must be a str"):
        create_vector_backend(3)  # type: ignore[arg-type]


def test_custom_model_has_no_embedder() -> None:
    with pytest.raises(InvalidArgumentError, match="custom"):
        create_embedder("auto", "custom")


def test_auto_falls_back_to_hash_with_one_warning(no_real_minilm: None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embedder = create_embedder("auto", "moss-minilm", model_dir="/nowhere")
    assert isinstance(embedder, HashEmbedder)
    assert len(caught) == 1 and caught[0].category is EmbedderFallbackWarning
    message = str(caught[0].message)
    assert "'hash-v1'" in message and "pip install 'moss-ref[onnx]'" in message
    assert "minilm-onnx-fp32: test: weights not installed" in message
    assert "minilm-onnx: test: weights not installed" in message and "minilm-numpy:" in message


def test_auto_prefers_the_real_model_when_it_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """REG-4: fp32 onnx first, then int8 onnx, then numpy; the first that loads wins, silently."""
    made: list[tuple[str, str, dict[str, object]]] = []

    def factory(name: str, loads: bool) -> object:
        def create(model_id: str, **options: object) -> HashEmbedder:
            made.append((name, model_id, options))
            if not loads:
                raise model_unavailable(f"test: {name} cannot load")
            return HashEmbedder(model_id)

        return create

    fake = types.ModuleType("fake_minilm_ok")
    monkeypatch.setitem(sys.modules, "fake_minilm_ok", fake)
    for name in ("minilm-onnx-fp32", "minilm-onnx", "minilm-numpy"):
        monkeypatch.setitem(_registry.BUILTIN_EMBEDDERS, name, f"fake_minilm_ok:{name.replace('-', '_')}")
    for loads in ((True, True, True), (False, True, True), (False, False, True)):
        made.clear()
        for name, ok in zip(("minilm-onnx-fp32", "minilm-onnx", "minilm-numpy"), loads):
            setattr(fake, name.replace("-", "_"), factory(name, ok))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            create_embedder("auto", "moss-minilm", model_dir="/weights")
        tried = [name for name, _, _ in made]
        assert tried == ["minilm-onnx-fp32", "minilm-onnx", "minilm-numpy"][: loads.index(True) + 1]
        assert all(m[1:] == ("moss-minilm", {"model_dir": "/weights"}) for m in made)


def test_auto_does_not_hide_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(model_id: str, **options: object) -> Embedder:
        raise ZeroDivisionError("bug")

    fake = types.ModuleType("fake_minilm_broken")
    fake.create = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_minilm_broken", fake)
    monkeypatch.setitem(_registry.BUILTIN_EMBEDDERS, "minilm-onnx-fp32", "fake_minilm_broken:create")
    with pytest.raises(ZeroDivisionError):
        create_embedder("auto", "moss-minilm")


@pytest.mark.parametrize("model_id", ["moss-mediumlm", "moss-litelm"])
def test_auto_serves_other_models_with_hash(model_id: str) -> None:
    with pytest.warns(EmbedderFallbackWarning, match=f"no real embedding model for '{model_id}'"):
        embedder = create_embedder("auto", model_id)
    assert isinstance(embedder, HashEmbedder) and embedder.model_id == model_id


def test_auto_vector_backend() -> None:
    backend = create_vector_backend("auto")
    assert backend.name == ("numpy" if HAS_NUMPY else "python")


def test_missing_numpy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy -> ImportError
    monkeypatch.delitem(sys.modules, "moss_ref_backends.numpy_vectors", raising=False)
    with pytest.raises(MossError, match=r"pip install 'moss-ref\[numpy\]'") as info:
        create_vector_backend("numpy")
    assert info.value.code == INTERNAL and not isinstance(info.value, ImportError)
    assert create_vector_backend("auto").name == "python"


def test_missing_extra() -> None:
    error = missing_extra("onnxruntime", "onnx")
    assert isinstance(error, MossError) and error.code == INTERNAL
    assert "onnxruntime" in str(error) and "pip install 'moss-ref[onnx]'" in str(error) == error.detail


def test_resolve_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOSS_REF_EMBEDDER", raising=False)
    monkeypatch.delenv("MOSS_REF_VECTOR_BACKEND", raising=False)
    assert resolve_embedder_name(None) == "auto" and resolve_vector_backend_name(None) == "auto"
    monkeypatch.setenv("MOSS_REF_EMBEDDER", "hash-v1")
    monkeypatch.setenv("MOSS_REF_VECTOR_BACKEND", "python")
    assert resolve_embedder_name(None) == "hash-v1" and resolve_vector_backend_name(None) == "python"
    assert resolve_embedder_name("minilm-onnx") == "minilm-onnx"
    assert resolve_vector_backend_name("numpy") == "numpy"
    assert resolve_embedder_name("not-validated-here") == "not-validated-here"  # C-1: checked on use
    monkeypatch.setenv("MOSS_REF_EMBEDDER", "")
    assert resolve_embedder_name(None) == "auto"


def test_plugin_through_a_real_entry_point(plugin_dir: Path) -> None:
    assert "toy" in embedder_names() and "toyvec" in vector_backend_names()
    embedder = create_embedder("toy", "moss-mediumlm", scale=2.0)
    assert type(embedder).__name__ == "ToyEmbedder" and embedder.model_id == "moss-mediumlm"
    assert isinstance(embedder, Embedder)
    assert len(embedder.embed(["hello"])[0]) == 384
    assert isinstance(create_vector_backend("toyvec"), PythonVectors)


def test_plugins_cannot_shadow_builtins_or_auto(plugin_dir: Path) -> None:
    assert isinstance(create_embedder("hash-v1", "moss-minilm"), HashEmbedder)
    assert isinstance(create_vector_backend("python"), PythonVectors)
    assert embedder_names().count("hash-v1") == 1 and vector_backend_names().count("python") == 1


def test_auto_uses_a_plugin_that_declares_the_model_id(plugin_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lite = create_embedder("auto", "moss-litelm")
    assert type(lite).__name__ == "ToyEmbedder"
    with pytest.warns(EmbedderFallbackWarning):  # "toy" declares no model ids: not used by auto
        assert isinstance(create_embedder("auto", "moss-mediumlm"), HashEmbedder)


def test_builtins_satisfy_the_protocols_at_runtime() -> None:
    assert isinstance(create_embedder("hash-v1", "moss-minilm"), Embedder)
    assert isinstance(create_vector_backend("python"), VectorBackend)
    if HAS_NUMPY:
        assert isinstance(create_vector_backend("numpy"), VectorBackend)
    for name in ("minilm-onnx-fp32", "minilm-onnx", "minilm-numpy"):
        try:
            embedder = create_embedder(name, "moss-minilm")
        except (ImportError, MossError):
            continue  # not installed here
        assert isinstance(embedder, Embedder)


@pytest.mark.slow
def test_builtins_satisfy_the_protocols_for_mypy(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "moss_ref").symlink_to(repo / "moss_ref")
    (tmp_path / "moss_ref_backends").symlink_to(repo / "backends")
    good = tmp_path / "check_good.py"
    lines = [
        "from moss_ref._hash_embedder import HashEmbedder",
        "from moss_ref._protocols import Embedder, VectorBackend",
        "from moss_ref._vectors import PythonVectors",
        "embedder: Embedder = HashEmbedder('moss-minilm')",
        "python_backend: VectorBackend = PythonVectors()",
    ]
    if HAS_NUMPY:
        lines += [
            "from moss_ref_backends.numpy_vectors import NumpyVectors",
            "numpy_backend: VectorBackend = NumpyVectors()",
        ]
    good.write_text("\n".join(lines) + "\n")
    bad = tmp_path / "check_bad.py"  # the check must be able to fail
    bad.write_text(
        "from moss_ref._protocols import VectorBackend\nfrom moss_ref._hash_embedder import HashEmbedder\n"
        "backend: VectorBackend = HashEmbedder('moss-minilm')\n"
    )
    env = {**os.environ, "MYPYPATH": str(tmp_path)}
    cmd = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary"]
    cmd += ["--cache-dir", str(tmp_path / ".mypy_cache")]
    ok = subprocess.run([*cmd, str(good)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ko = subprocess.run([*cmd, str(bad)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ko.returncode == 1 and "incompatible types in assignment" in ko.stdout.lower(), ko.stdout
    shutil.rmtree(tmp_path / ".mypy_cache", ignore_errors=True)


def test_missing_backends_package_is_explained_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a bare checkout, moss_ref_backends is not importable: the warning says what to install."""
    for name in [m for m in sys.modules if m.startswith("moss_ref_backends")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "moss_ref_backends", None)  # type: ignore[arg-type]
    with pytest.warns(EmbedderFallbackWarning) as caught:
        embedder = create_embedder("auto", "moss-minilm")
    assert embedder.fingerprint.backend == "hash-v1"
    message = str(caught[0].message)
    assert "moss_ref_backends is not installed (pip install 'moss-ref[minilm]')" in message
    assert "No module named" not in message
