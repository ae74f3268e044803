"""Targets: what the runner and the fuzzer run steps against.

A target is any object with the five methods of :class:`Target`; its responses are the protocol's
JSON objects (``result`` / ``error`` / ``skip`` / ``failure``, see :mod:`.protocol`). Two kinds:

* in-process Python targets, named ``module:factory`` (``--target``); the factory is called with
  the ``--option key=value`` pairs as keyword arguments. :class:`InProcess` wraps one so that a
  crash in the target becomes a ``failure`` and every response goes through JSON, exactly as it
  would through a driver;
* a driver subprocess speaking the JSON-lines protocol (``--driver``), see :mod:`.remote`.
"""

from __future__ import annotations

import importlib
import json
import traceback
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from .protocol import failure, response_kind


@runtime_checkable
class Target(Protocol):
    """The contract between the kit and an implementation under test (DRV rules, in Python)."""

    def hello(self) -> dict[str, Any]:
        """``{"implementation": {"name", "version", "language"}, "features": [...], "error_kinds": bool}``."""

    def start_case(self, name: str, features: Sequence[str]) -> dict[str, Any]:
        """Reset to an empty store with no sessions; a ``result`` response, or ``skip`` to skip the case."""

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Perform one operation; return its response."""

    def end_case(self) -> None:
        """Release what the case opened."""

    def close(self) -> None:
        """Release everything (end of run)."""


def load_factory(spec: str) -> Any:
    """``"package.module:factory"`` (the factory may be a dotted attribute path) to the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"target must look like 'module:factory', got {spec!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["k=v", ...]`` to keyword arguments; values that parse as JSON are decoded (``x=1`` is 1)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option must look like key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def load_target(spec: str, options: dict[str, Any] | None = None) -> Target:
    """Build the in-process target ``spec`` names."""
    factory = load_factory(spec)
    target = factory(**(options or {}))
    missing = [
        m for m in ("hello", "start_case", "step", "end_case", "close") if not callable(getattr(target, m, None))
    ]
    if missing:
        raise TypeError(f"{spec} returned {type(target).__name__}, which lacks {', '.join(missing)}")
    return target  # type: ignore[no-any-return]


def _json_round_trip(response: Any) -> dict[str, Any]:
    try:
        out = json.loads(json.dumps(response, allow_nan=False))
    except (TypeError, ValueError) as exc:
        return failure(f"response is not JSON: {exc}: {response!r}"[:2000])
    if response_kind(out) == "invalid":
        return failure(f"response must have exactly one of result/error/skip/failure: {out!r}"[:2000])
    return out  # type: ignore[no-any-return]


class InProcess:
    """Wrap a Python target: exceptions become ``failure`` responses, responses go through JSON."""

    def __init__(self, target: Target, label: str = "") -> None:
        self.target = target
        self.label = label or type(target).__name__

    def hello(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.target.hello()))  # type: ignore[no-any-return]

    def start_case(self, name: str, features: Sequence[str]) -> dict[str, Any]:
        try:
            return _json_round_trip(self.target.start_case(name, features))
        except Exception:  # the target's own bug, not a domain error
            return failure("start_case raised:\n" + traceback.format_exc(limit=20))

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return _json_round_trip(self.target.step(op, json.loads(json.dumps(args))))
        except Exception:
            return failure(f"{op} raised outside the API call:\n" + traceback.format_exc(limit=20))

    def end_case(self) -> None:
        try:
            self.target.end_case()
        except Exception:
            pass

    def close(self) -> None:
        self.target.close()
