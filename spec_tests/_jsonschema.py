"""A small JSON Schema (2020-12 subset) validator, standard library only.

The kit must lint vectors without third-party packages, so it carries the keywords its own schemas
use: ``type``, ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``,
``patternProperties``, ``propertyNames``, ``items``, ``minItems``, ``maxItems``, ``uniqueItems``,
``minLength``, ``pattern``, ``minimum``, ``maximum``, ``allOf``, ``anyOf``, ``oneOf``, ``not``,
``if``/``then``/``else`` and local ``$ref`` (``#/$defs/...``). Any other keyword is an error in
the schema, so a schema cannot silently rely on something this validator ignores.

Errors carry a JSON Pointer into the instance, as jsonschema's do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "$defs", "default", "examples"}
_KNOWN = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "pattern",
    "minimum",
    "maximum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
}


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise ValueError(f"unknown JSON Schema type {name!r}")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return (type(a) is type(b) and a == b) or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b)


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


class Validator:
    """Validate instances against one root schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema
        self._check_schema(schema, ())

    def _check_schema(self, schema: Any, where: tuple[Any, ...]) -> None:
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            raise ValueError(f"schema at {_pointer(where)} is not an object")
        unknown = set(schema) - _KNOWN
        if unknown:
            raise ValueError(f"schema at {_pointer(where)} uses unsupported keywords {sorted(unknown)}")
        for key in ("properties", "patternProperties", "$defs"):
            for name, sub in schema.get(key, {}).items():
                self._check_schema(sub, (*where, key, name))
        for key in ("items", "additionalProperties", "not", "if", "then", "else", "propertyNames"):
            if key in schema:
                self._check_schema(schema[key], (*where, key))
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(schema.get(key, [])):
                self._check_schema(sub, (*where, key, i))

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref are supported, got {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def errors(self, instance: Any) -> list[str]:
        """Every violation as ``"<pointer>: <what is wrong>"`` (empty when valid)."""
        return list(self._errors(instance, self.root, ()))

    def is_valid(self, instance: Any, schema: Any = None) -> bool:
        return next(self._errors(instance, self.root if schema is None else schema, ()), None) is None

    def _errors(self, value: Any, schema: Any, path: tuple[Any, ...]) -> Iterator[str]:
        if schema is True:
            return
        if schema is False:
            yield f"{_pointer(path)}: no value is allowed here"
            return
        where = _pointer(path)
        if "$ref" in schema:
            yield from self._errors(value, self._resolve(schema["$ref"]), path)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_is_type(value, t) for t in types):
                yield f"{where}: expected {' or '.join(types)}, got {_json_type(value)}"
                return
        if "const" in schema and not _equal(value, schema["const"]):
            yield f"{where}: expected {schema['const']!r}, got {value!r}"
        if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
            yield f"{where}: {value!r} is not one of {schema['enum']!r}"
        if isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                yield f"{where}: string shorter than {schema['minLength']}"
            if "pattern" in schema and re.search(schema["pattern"], value) is None:
                yield f"{where}: {value!r} does not match {schema['pattern']!r}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                yield f"{where}: {value!r} is less than {schema['minimum']!r}"
            if "maximum" in schema and value > schema["maximum"]:
                yield f"{where}: {value!r} is greater than {schema['maximum']!r}"
        if isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                yield f"{where}: expected at least {schema['minItems']} items, got {len(value)}"
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                yield f"{where}: expected at most {schema['maxItems']} items, got {len(value)}"
            if schema.get("uniqueItems"):
                for i in range(len(value)):
                    if any(_equal(value[i], value[j]) for j in range(i)):
                        yield f"{where}: item {i} repeats an earlier item"
            if "items" in schema:
                for i, item in enumerate(value):
                    yield from self._errors(item, schema["items"], (*path, i))
        if isinstance(value, dict):
            for name in schema.get("required", []):
                if name not in value:
                    yield f"{where}: missing required property {name!r}"
            props = schema.get("properties", {})
            patterns = schema.get("patternProperties", {})
            for name, item in value.items():
                matched = False
                if name in props:
                    matched = True
                    yield from self._errors(item, props[name], (*path, name))
                for pattern, sub in patterns.items():
                    if re.search(pattern, name):
                        matched = True
                        yield from self._errors(item, sub, (*path, name))
                if not matched and "additionalProperties" in schema:
                    extra = schema["additionalProperties"]
                    if extra is False:
                        yield f"{where}: unexpected property {name!r}"
                    else:
                        yield from self._errors(item, extra, (*path, name))
                if "propertyNames" in schema:
                    yield from self._errors(name, schema["propertyNames"], (*path, name))
        for sub in schema.get("allOf", []):
            yield from self._errors(value, sub, path)
        if "anyOf" in schema and not any(self._first_ok(value, s, path) for s in schema["anyOf"]):
            yield f"{where}: matches none of the allowed forms"
        if "oneOf" in schema:
            ok = [s for s in schema["oneOf"] if self._first_ok(value, s, path)]
            if len(ok) != 1:
                if not ok:
                    # Report the errors of the closest alternative: the one with the fewest.
                    best = min((list(self._errors(value, s, path)) for s in schema["oneOf"]), key=len, default=[])
                    yield from best or [f"{where}: matches none of the allowed forms"]
                else:
                    yield f"{where}: matches {len(ok)} forms, expected exactly one"
        if "not" in schema and self._first_ok(value, schema["not"], path):
            yield f"{where}: matches a form that is not allowed"
        if "if" in schema:
            branch = "then" if self._first_ok(value, schema["if"], path) else "else"
            if branch in schema:
                yield from self._errors(value, schema[branch], path)

    def _first_ok(self, value: Any, schema: Any, path: tuple[Any, ...]) -> bool:
        return next(self._errors(value, schema, path), None) is None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
