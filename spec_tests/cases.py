"""Loading the vectors: files of grouped cases, flattened into :class:`Case` objects.

A vector file (``vectors/<feature>/<topic>.json``, schema ``schema/vectors.schema.json``) holds a
``group`` name, defaults (``level``, ``features``, ``rules``), optional ``setup`` steps run before
every case, and the ``cases``. Flattening gives every case its full dotted name
(``<group>.<case>``), its own level/features/rules and its complete list of steps (setup first).
:func:`dump` writes that flat form for runners in other languages.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
VECTORS_DIR = PACKAGE_DIR / "vectors"
SCHEMA_DIR = PACKAGE_DIR / "schema"
REGRESSIONS = "regressions"
DUMP_FORMAT = "moss-conformance-vectors"
DUMP_VERSION = 1


class VectorError(Exception):
    """A vector file cannot be read (bad JSON, wrong top-level shape)."""


@dataclass(frozen=True)
class Case:
    """One flattened case."""

    name: str
    group: str
    file: str
    description: str
    level: str
    features: tuple[str, ...]
    rules: tuple[str, ...]
    steps: tuple[dict[str, Any], ...]
    setup_steps: int = 0

    @property
    def folder(self) -> str:
        return self.file.split("/", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "file": self.file,
            "description": self.description,
            "level": self.level,
            "features": list(self.features),
            "rules": list(self.rules),
            "steps": [dict(s) for s in self.steps],
        }


def vector_files(root: Path = VECTORS_DIR) -> list[Path]:
    """Every ``*.json`` under ``root``, in a stable order."""
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def read_file(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VectorError(f"{path}: {exc}") from exc


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def flatten(data: Any, file: str) -> list[Case]:
    """The cases of one parsed vector file (which should already have passed the schema)."""
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise VectorError(f"{file}: expected an object with a 'cases' list")
    group = data.get("group", "")
    setup = list(data.get("setup", []))
    out = []
    for raw in data["cases"]:
        if not isinstance(raw, dict):
            raise VectorError(f"{file}: every case must be an object")
        out.append(
            Case(
                name=f"{group}.{raw.get('name', '')}",
                group=group,
                file=file,
                description=raw.get("description", ""),
                level=raw.get("level", data.get("level", "required")),
                features=tuple(raw.get("features", data.get("features", []))),
                rules=_dedupe([*data.get("rules", []), *raw.get("rules", [])]),
                steps=tuple(setup + list(raw.get("steps", []))),
                setup_steps=len(setup),
            )
        )
    return out


def load_cases(roots: Sequence[Path] | None = None) -> list[Case]:
    """Every case under ``roots`` (default: the shipped vectors), in file then case order."""
    cases: list[Case] = []
    for root in roots or [VECTORS_DIR]:
        root = Path(root)
        files = [root] if root.is_file() else vector_files(root)
        for path in files:
            rel = path.name if root.is_file() else path.relative_to(root).as_posix()
            data = read_file(path)
            if isinstance(data, dict) and data.get("format") == DUMP_FORMAT:
                cases.extend(from_dump(data))
            else:
                cases.extend(flatten(data, rel))
    return cases


def from_dump(data: dict[str, Any]) -> list[Case]:
    """Cases from the flat form written by :func:`dump`."""
    return [
        Case(
            c["name"],
            c["group"],
            c["file"],
            c["description"],
            c["level"],
            tuple(c["features"]),
            tuple(c["rules"]),
            tuple(c["steps"]),
        )
        for c in data["cases"]
    ]


def dump(cases: Sequence[Case]) -> dict[str, Any]:
    """The flat, self-contained form of ``cases`` (setup steps inlined, defaults resolved)."""
    from .protocol import PROTOCOL_VERSION

    return {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "cases": [c.to_json() for c in cases],
    }


def matches_pattern(name: str, pattern: str) -> bool:
    """A ``--test`` pattern: an exact name, a dotted prefix (``filters.x1``) or an fnmatch glob."""
    return name == pattern or name.startswith(pattern + ".") or fnmatch.fnmatchcase(name, pattern)


def select(
    cases: Sequence[Case],
    *,
    tests: Sequence[str] = (),
    features: Sequence[str] = (),
    exclude_features: Sequence[str] = (),
    level: str | None = None,
) -> list[Case]:
    """Cases matching any of ``tests`` (all when empty), having any of ``features`` (all when empty),
    none of ``exclude_features``, and at least ``level`` (``required`` keeps only required cases)."""
    out = []
    for case in cases:
        if tests and not any(matches_pattern(case.name, p) for p in tests):
            continue
        if features and not set(features) & set(case.features):
            continue
        if set(exclude_features) & set(case.features):
            continue
        if level == "required" and case.level != "required":
            continue
        out.append(case)
    return out


def pretty_json(value: Any, indent: int = 0, width: int = 118) -> str:
    """JSON with every object or array that fits in ``width`` columns written on one line.

    Vector files use it so a step (op, args, expectation) usually reads as one line.
    """
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {pretty_json(v, indent + 2, width).lstrip()}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + pretty_json(v, indent + 2, width).lstrip() for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
