"""The vocabulary shared by vectors, runner, drivers and the fuzzer (DRV rules in CONFORMANCE.md).

Everything here is plain data so a runner in another language can copy it: the protocol version,
the closed lists of operations, features, levels, error codes and error kinds, and the encoding of
non-finite floats (JSON has none): ``{"$float": "NaN" | "Infinity" | "-Infinity"}``.

A *response* (from a driver or an in-process target) is a JSON object with exactly one of:

* ``result``  -- the step succeeded; the value is the op's result object (DRV-6);
* ``error``   -- the API raised a documented domain error: ``{"code", "kind", "message"}``;
* ``skip``    -- the target does not support this step or case: ``{"reason"}``;
* ``failure`` -- the driver itself failed (bad request, bug in the glue): ``{"message"}``.
"""

from __future__ import annotations

import math
from typing import Any, Final

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = (1,)

#: Operations a step may perform, with the session/client object they act on.
SESSION_OPS: Final = (
    "add_docs",
    "delete_docs",
    "get_docs",
    "query",
    "explain_query",
    "doc_count",
    "session_info",
    "push_index",
    "close_session",
)
CLIENT_OPS: Final = ("open_session", "load_index", "client_query", "unload_index")
OPS: Final = ("open_session", *SESSION_OPS, "load_index", "client_query", "unload_index")
QUERY_OPS: Final = ("query", "client_query")

#: The closed list of feature tags. A case's first feature is the folder it lives in.
FEATURES: Final = (
    "session",
    "documents",
    "get_docs",
    "filters",
    "geo",
    "query",
    "custom_model",
    "persistence",
    "client_query",
    "grouping",
    "text_embedding",
    "auth",
    "strict",
    "hash_embedder",
    "explain",
    "python_values",
)
#: Features a target may decline as a whole (the rest are the core API every SDK has).
#: ``strict`` cases run with the reference's opt-in strict mode (STRICT-1), which refuses input
#: the real SDK accepts; an SDK without such a mode declines them. ``hash_embedder`` cases expect
#: the exact scores of the reference's deterministic embedder ``hash-v1`` (HASH rules) for the
#: built-in model ids; only a target whose built-in models are served by ``hash-v1`` declares it
#: (KIT-8), so the real SDK and a target embedding with a real model skip them. ``explain`` cases run
#: ``explain_query``, moss_ref's query explanation (EXPL rules): the numbers a ranking was made
#: from; only a target with that extension declares it (KIT-9), the real SDK has no such call.
#: ``python_values`` cases hold ``{"$py": ...}`` tags for values only Python has (tuples, str
#: subclasses, self-containing filters, options assigned after construction; KIT-10): Python
#: targets, the real SDK among them, declare it; a driver in another language skips them.
OPTIONAL_FEATURES: Final = (
    "geo",
    "client_query",
    "grouping",
    "text_embedding",
    "auth",
    "strict",
    "hash_embedder",
    "explain",
    "python_values",
)

LEVELS: Final = ("required", "recommended")

#: Error codes (E-2).
ERROR_CODES: Final = (
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "UNAUTHORIZED",
    "NETWORK",
    "DESERIALIZATION",
    "MODEL_UNAVAILABLE",
    "INTERNAL",
)
#: Exception kinds, most specific first (a driver reports the first that applies; CMP-3).
ERROR_KINDS: Final = (
    "InvalidArgumentError",
    "MossError",
    "ValueError",
    "TypeError",
    "OverflowError",
    "RuntimeError",
    "other",
)

#: How a query step's expected docs are compared (CMP-5).
ORDER_MODES: Final = ("ties_as_sets", "exact", "set")
DEFAULT_ORDER: Final = "ties_as_sets"

#: Absolute tolerance for scores and embedding components (CMP-4).
TOLERANCE: Final = 1e-5

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def decode_float(value: Any) -> Any:
    """``{"$float": "NaN"}`` and friends to a Python float; anything else unchanged."""
    if isinstance(value, dict) and set(value) == {"$float"} and value["$float"] in _SPECIAL:
        return _SPECIAL[value["$float"]]
    return value


def decode_floats(value: Any) -> Any:
    """:func:`decode_float` on a value and, for a list, on every item."""
    if isinstance(value, list):
        return [decode_float(v) for v in value]
    return decode_float(value)


def encode_float(value: float) -> Any:
    """A float as JSON: finite floats unchanged, the others as ``{"$float": ...}``."""
    if math.isnan(value):
        return {"$float": "NaN"}
    if math.isinf(value):
        return {"$float": "Infinity" if value > 0 else "-Infinity"}
    return value


def result(value: dict[str, Any]) -> dict[str, Any]:
    return {"result": value}


def error(code: str | None, kind: str, message: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "kind": kind, "message": message}}


def skip(reason: str) -> dict[str, Any]:
    return {"skip": {"reason": reason}}


def failure(message: str) -> dict[str, Any]:
    return {"failure": {"message": message}}


RESPONSE_KEYS: Final = ("result", "error", "skip", "failure")


def response_kind(response: object) -> str:
    """Which of :data:`RESPONSE_KEYS` a response carries; ``"invalid"`` if not exactly one."""
    if not isinstance(response, dict):
        return "invalid"
    present = [k for k in RESPONSE_KEYS if k in response]
    return present[0] if len(present) == 1 else "invalid"
