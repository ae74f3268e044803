"""Python values in protocol steps: the optional feature ``python_values`` (KIT-10).

JSON cannot say "a tuple", "a ``str`` subclass", "a ``Fraction``", "a filter that contains
itself" or "an option assigned after ``QueryOptions`` was built", yet Python code hands the SDK
such values, and a drop-in replacement must treat them as the real SDK does. A step argument may
therefore hold a *tag*, ``{"$py": KIND, ...}``, which a Python target turns into that value before
it calls the API. Only Python targets declare the feature (the reference, ``MossApiTarget``, the
real SDK); a driver in another language does not, and skips such cases (KIT-7).

Kinds (``value`` is decoded first, so tags nest):

* ``str`` — ``value`` (a string) as an instance of :class:`KitStr`, a plain ``str`` subclass;
* ``str_metadata`` — ``value`` (an object) with its keys (``keys``, default true) and its string
  values (``values``, default true) made :class:`KitStr`;
* ``tuple`` — ``value`` (an array) as a tuple;
* ``fraction`` — ``value`` (a string such as ``"1/3"``) as a :class:`fractions.Fraction`;
* ``deep_and`` — ``value`` (a filter) wrapped in ``depth`` nested one-child ``$and`` clauses,
  built in Python (a JSON text that deep defeats most parsers);
* ``cycle`` — an ``$and`` clause whose list contains the clause itself;
* ``shared`` — ``{"$or": [{"$and": L}, {"$and": L}]}`` where both ``$and`` hold the *same* list
  object ``L = [value]`` (a DAG: JSON parses every list anew);
* ``raw`` — ``value`` unchanged: a JSON value the vector schema types otherwise (a string
  ``alpha``, a string ``doc_ids``), passed to the API as it is.

A query step (``query``, ``client_query``, ``explain_query``) may also carry ``assign``: an object
of ``QueryOptions`` attributes set *after* the options are built (``options.embedding = ...``), the
way Python code can bypass the constructor's conversions.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Final, Optional

TAG: Final = "$py"
KINDS: Final = ("str", "str_metadata", "tuple", "fraction", "deep_and", "cycle", "shared", "raw")


class KitStr(str):
    """A ``str`` subclass with nothing changed (as an ``enum.StrEnum`` member is to its value)."""

    __slots__ = ()


def has_tags(value: Any, kind: Optional[str] = None) -> bool:
    """Whether ``value`` holds a ``{"$py": ...}`` tag (of ``kind``, if given) anywhere (iteratively:
    filters nest deep; each container once: a decoded value may share lists or contain itself)."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if not isinstance(item, (dict, list)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            if TAG in item and (kind is None or item[TAG] == kind):
                return True
            stack.extend(item.values())
        else:
            stack.extend(item)
    return False


def decode(value: Any) -> Any:
    """``value`` with every tag replaced by the Python value it stands for (see the module docstring).

    Called only on values :func:`has_tags` found a tag in; untagged containers are rebuilt on the
    way (recursion depth is that of the value, as with the JSON parser that read it).
    """
    if not has_tags(value):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if TAG not in value:
        return {k: decode(v) for k, v in value.items()}
    kind = value[TAG]
    inner = decode(value.get("value"))
    if kind == "str":
        return KitStr(inner)
    if kind == "str_metadata":
        keys, values = value.get("keys", True), value.get("values", True)
        return {
            (KitStr(k) if keys else k): (KitStr(v) if values and isinstance(v, str) else v) for k, v in inner.items()
        }
    if kind == "tuple":
        return tuple(inner)
    if kind == "fraction":
        return Fraction(inner)
    if kind == "deep_and":
        node = inner
        for _ in range(int(value["depth"])):
            node = {"$and": [node]}
        return node
    if kind == "cycle":
        items: list[Any] = []
        clause = {"$and": items}
        items.append(clause)
        return clause
    if kind == "shared":
        shared = [inner]
        return {"$or": [{"$and": shared}, {"$and": shared}]}
    if kind == "raw":
        return inner
    raise ValueError(f"unknown {TAG} kind {kind!r}; known: {', '.join(KINDS)}")


__all__ = ["KINDS", "TAG", "KitStr", "decode", "has_tags"]
