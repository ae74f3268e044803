"""The real all-MiniLM-L6-v2 for ``moss-minilm`` (R-M-2, R-M-5), two ways.

- ``minilm-onnx``: ``moss_ref_backends.minilm.onnx_embedder.create``, onnxruntime on an ONNX export
  (needs ``pip install 'moss-ref[minilm]'``);
- ``minilm-numpy``: ``moss_ref_backends.minilm.numpy_embedder.create``, a numpy forward pass over
  ``model.safetensors`` (needs ``pip install 'moss-ref[numpy]'``).

Both factories are ``create(model_id: str, **options)`` (one option: ``model_dir: str | None``) and
return an object satisfying ``moss_ref._protocols.Embedder``. Both tokenize with the pure-Python
WordPiece tokenizer in ``wordpiece.py`` (at most 256 tokens), mean-pool over the attention mask and
L2-normalise. Weights are never downloaded: ``weights.py`` finds them in installed packages or a
named directory and checks their SHA-256. Importing this package imports neither numpy nor
onnxruntime; the factories do, and raise ``MossError`` code ``MODEL_UNAVAILABLE`` with the
``pip install`` line when something is missing. Rules and tests: ``docs/rules/minilm.md``.
"""

from __future__ import annotations

__all__ = ["FACTORIES", "MODEL_ID"]

MODEL_ID = "moss-minilm"

#: stable embedder name -> "module:function" of its factory (imported only when used)
FACTORIES: dict[str, str] = {
    "minilm-onnx": "moss_ref_backends.minilm.onnx_embedder:create",
    "minilm-numpy": "moss_ref_backends.minilm.numpy_embedder:create",
}
