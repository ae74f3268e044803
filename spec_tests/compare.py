"""The comparator: does a target's response meet a step's expectation? (CMP rules)

One function, :func:`compare`, used by the runner (expectations from the vectors) and by the fuzzer
(expectations made from the reference's own response with :func:`expectation_from`), so both judge
a target by the same rules:

* CMP-2 an expected error matches an error response with the same ``code``; the ``kind`` is
  compared too when the target reports kinds; the message is never compared;
* CMP-3 an expected result is *partial*: every key it gives must match, keys it omits are ignored;
* CMP-4 ``score`` and ``embedding`` components (and the computed numbers of an ``explain_query``
  result) match within :data:`~.protocol.TOLERANCE`; every other value matches exactly;
* CMP-5 document lists have the expected length; ``get_docs`` lists are compared in order; query
  lists by their ``order`` mode: ``ties_as_sets`` (default: docs whose expected scores tie within
  the tolerance may come in any order among themselves), ``exact`` or ``set``.
"""

from __future__ import annotations

import math
from typing import Any

from .protocol import DEFAULT_ORDER, QUERY_OPS, TOLERANCE, response_kind

_TOLERANT_KEYS = frozenset({"score", "embedding"})
#: explain_query's computed numbers (KIT-9) match within the tolerance too; counts, ranks and
#: positions match exactly.
_TOLERANT_KEYS |= frozenset(
    {"similarity", "bm25", "idf", "avgdl", "norm", "contribution", "vector_part", "keyword_part", "fused", "alpha"}
)


def compare(
    op: str,
    expect: dict[str, Any],
    response: dict[str, Any],
    *,
    error_kinds: bool = True,
    tolerance: float = TOLERANCE,
) -> list[str]:
    """Mismatches between ``expect`` and ``response`` (empty list: the step passes)."""
    kind = response_kind(response)
    if kind == "invalid":
        return [f"malformed response {_short(response)}: expected exactly one of result/error/skip/failure"]
    if kind in ("skip", "failure"):
        return [f"{op}: got {kind} {_short(response[kind])}"]
    if "error" in expect:
        want = expect["error"]
        if kind != "error":
            return [f"{op}: expected error {_error_text(want)}, got result {_short(response['result'])}"]
        got = response["error"]
        problems = []
        if got.get("code") != want.get("code"):
            problems.append(
                f"{op}: expected error code {want.get('code')!r}, got {got.get('code')!r} ({_error_text(got)})"
            )
        if error_kinds and "kind" in want and got.get("kind") != want["kind"]:
            problems.append(f"{op}: expected error kind {want['kind']!r}, got {got.get('kind')!r} ({_error_text(got)})")
        return problems
    if kind == "error":
        return [f"{op}: expected a result, got error {_error_text(response['error'])}"]
    order = expect.get("order", DEFAULT_ORDER) if op in QUERY_OPS else "exact"
    problems: list[str] = []
    _match(expect.get("result", {}), response["result"], "result", order, tolerance, problems)
    return [f"{op}: {p}" for p in problems]


def _match(want: Any, got: Any, path: str, order: str, tol: float, out: list[str], tolerant: bool = False) -> None:
    if isinstance(want, dict):
        if not isinstance(got, dict):
            out.append(f"{path}: expected an object, got {_short(got)}")
            return
        for key, value in want.items():
            if key not in got:
                out.append(f"{path}: missing {key!r}")
            elif key == "docs" and isinstance(value, list):
                _match_docs(value, got[key], f"{path}.docs", order, tol, out)
            elif key == "metadata":
                # metadata maps are compared whole: an extra key is a difference (CMP-3)
                if value != got[key]:
                    out.append(f"{path}.metadata: expected {_short(value)}, got {_short(got[key])}")
            else:
                _match(value, got[key], f"{path}.{key}", order, tol, out, key in _TOLERANT_KEYS)
        return
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            out.append(f"{path}: expected {_short(want)}, got {_short(got)}")
            return
        for i, (w, g) in enumerate(zip(want, got)):
            _match(w, g, f"{path}[{i}]", order, tol, out, tolerant)
        return
    if tolerant and _is_number(want) and _is_number(got):
        if not math.isclose(float(want), float(got), rel_tol=0.0, abs_tol=tol):
            out.append(f"{path}: expected {want!r} (within {tol}), got {got!r}")
        return
    if isinstance(want, bool) or isinstance(got, bool):
        if type(want) is not type(got) or want != got:
            out.append(f"{path}: expected {_short(want)}, got {_short(got)}")
        return
    if want != got:
        out.append(f"{path}: expected {_short(want)}, got {_short(got)}")


def _ids(docs: list[Any]) -> list[Any]:
    return [d.get("id") if isinstance(d, dict) else d for d in docs]


def _match_docs(want: list[Any], got: Any, path: str, order: str, tol: float, out: list[str]) -> None:
    if not isinstance(got, list):
        out.append(f"{path}: expected a list, got {_short(got)}")
        return
    if len(got) != len(want) or not all(isinstance(d, dict) for d in got):
        out.append(f"{path}: expected {len(want)} docs {_ids(want)}, got {len(got)} {_ids(got)}")
        return
    if order == "exact" or (order == "ties_as_sets" and not all("score" in d for d in want)):
        if _ids(want) != _ids(got):
            out.append(f"{path}: expected ids in order {_ids(want)}, got {_ids(got)}")
            return
        pairs = list(zip(want, got))
    else:
        by_id: dict[Any, list[dict[str, Any]]] = {}
        for doc in got:
            by_id.setdefault(doc.get("id"), []).append(doc)
        if sorted(map(str, _ids(want))) != sorted(map(str, _ids(got))):
            within = " within ties" if order != "set" else ""
            out.append(f"{path}: expected ids {_ids(want)} (any order{within}), got {_ids(got)}")
            return
        if order == "ties_as_sets":
            for start, end in _tie_groups(want, tol):
                if sorted(map(str, _ids(want[start:end]))) != sorted(map(str, _ids(got[start:end]))):
                    out.append(
                        f"{path}: expected ids {_ids(want)} (ties {_describe_groups(want, tol)} in any order), "
                        f"got {_ids(got)}"
                    )
                    return
        pairs = [(w, by_id[w.get("id")].pop(0)) for w in want]
    for w, g in pairs:
        _match(w, g, f"{path}[id={w.get('id')!r}]", order, tol, out)


def _tie_groups(docs: list[dict[str, Any]], tol: float) -> list[tuple[int, int]]:
    """Runs of consecutive docs whose scores differ from their neighbour by at most ``tol``."""
    groups: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(docs) + 1):
        if i == len(docs) or abs(float(docs[i]["score"]) - float(docs[i - 1]["score"])) > tol:
            groups.append((start, i))
            start = i
    return groups


def _describe_groups(docs: list[dict[str, Any]], tol: float) -> str:
    return " ".join(str(_ids(docs[s:e])) for s, e in _tie_groups(docs, tol) if e - s > 1) or "none"


def expectation_from(response: dict[str, Any], *, order: str = "exact") -> dict[str, Any]:
    """An expectation that a response equal to ``response`` meets (used by the fuzzer, CMP-6)."""
    kind = response_kind(response)
    if kind == "error":
        err = response["error"]
        return {"error": {"code": err.get("code"), "kind": err.get("kind")}}
    if kind == "result":
        return {"result": response["result"], "order": order}
    raise ValueError(f"cannot build an expectation from a {kind} response: {_short(response)}")


def _error_text(err: Any) -> str:
    if not isinstance(err, dict):
        return _short(err)
    text = f"{err.get('code')}/{err.get('kind')}"
    message = err.get("message")
    return f"{text}: {message}" if message else text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value: Any, limit: int = 300) -> str:
    import json

    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
