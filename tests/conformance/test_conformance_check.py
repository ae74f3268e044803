"""``moss-conformance check`` passes on the shipped vectors and finds each kind of problem (KIT-2);
the vector format and the protocol vocabulary agree (KIT-1)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from moss_ref_conformance._jsonschema import Validator
from moss_ref_conformance.cases import SCHEMA_DIR, load_cases
from moss_ref_conformance.check import check
from moss_ref_conformance.cli import main
from moss_ref_conformance.protocol import ERROR_CODES, ERROR_KINDS, FEATURES, OPS

SCHEMA = json.loads((SCHEMA_DIR / "vectors.schema.json").read_text())


def test_shipped_vectors_pass_the_lint() -> None:
    result = check()
    assert result.problems == []
    assert result.ok and len(result.cases) >= 100
    assert {f for c in result.cases for f in c.features} == set(FEATURES)


def test_check_command_prints_one_summary_line(capsys: Any) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("moss-conformance check: ") and out[-1].endswith(": OK")


def test_vocabulary_matches_the_schema() -> None:
    defs = SCHEMA["$defs"]
    assert defs["feature"]["enum"] == list(FEATURES)
    assert defs["step"]["properties"]["op"]["enum"] == list(OPS)
    assert defs["error_expect"]["properties"]["error"]["properties"]["code"]["enum"] == [*ERROR_CODES, None]
    assert defs["error_expect"]["properties"]["error"]["properties"]["kind"]["enum"] == list(ERROR_KINDS)


def test_every_feature_folder_has_success_and_error_cases() -> None:
    kinds: Counter[tuple[str, bool]] = Counter()
    for case in load_cases():
        kinds[(case.features[0], any("error" in s["expect"] for s in case.steps))] += 1
    for feature in FEATURES:
        assert kinds[(feature, False)] and kinds[(feature, True)], feature


def _write(root: Path, rel: str, data: Any) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


OPEN = {"op": "open_session", "args": {"index": "kb", "model_id": "custom"}, "expect": {"result": {}}}
ERR = {"op": "doc_count", "expect": {"error": {"code": "INVALID_ARGUMENT", "kind": "InvalidArgumentError"}}}


def _group(group: str, features: list[str], cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"group": group, "description": "d", "features": features, "cases": cases}


def _case(name: str, steps: list[dict[str, Any]], rules: list[str]) -> dict[str, Any]:
    return {"name": name, "description": "d", "rules": rules, "steps": steps}


def test_check_finds_each_kind_of_problem(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors"
    conformance = tmp_path / "CONFORMANCE.md"
    conformance.write_text("**AAA-1** one.\n\n**AAA-2** two.\n\n**BBB-1** three.\n**BBB-2 Titled.** four.\n")
    coverage = tmp_path / "coverage.json"
    coverage.write_text(json.dumps({"exempt": {"BBB-*": "not observable", "CCC-*": "stale", "AAA-1": "cited anyway"}}))
    _write(vectors, "session/bad.json", "{not json")
    _write(vectors, "session/schema.json", {"group": "x", "cases": []})
    ok = _group("session.ok", ["session"], [_case("fine", [OPEN], ["AAA-1"]), _case("fine", [OPEN, ERR], ["AAA-9"])])
    _write(vectors, "session/ok.json", ok)
    _write(vectors, "query/misplaced.json", _group("query.m", ["documents"], [_case("c", [ERR], [])]))
    _write(vectors, "nofolder.json", _group("top", ["session"], [_case("c", [OPEN], ["AAA-1"])]))
    result = check(vectors, conformance=conformance, coverage=coverage)
    text = "\n".join(result.problems)
    expected = [
        "session/bad.json",  # not JSON
        "session/schema.json: schema:",  # missing description/features, empty cases
        "duplicate case name session.ok.fine",
        "cites unknown rule AAA-9",
        "first feature 'documents' does not match folder 'query'",
        "query.m.c: cites no rule",
        "uses session 's' before any open_session opens it",
        "vector files live in a folder named after their feature",
        "exemption 'CCC-*' matches no rule",
        "AAA-1 is exempt but cited by a case",
        "rule AAA-2 (CONFORMANCE.md) is cited by no case",
        "feature 'get_docs' has no success case",
        "feature 'documents' has no success case",
    ]
    for needle in expected:
        assert needle in text, f"{needle!r} not reported in:\n{text}"
    assert "BBB-2" not in text  # '**BBB-2 Titled.**' is a rule, and it is exempt
    assert not result.ok


def test_unknown_feature_and_op_are_schema_errors(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors"
    bad = _group(
        "session.x", ["session", "telepathy"], [_case("c", [{"op": "teleport", "expect": {"result": {}}}], ["A-1"])]
    )
    _write(vectors, "session/x.json", bad)
    text = "\n".join(check(vectors, require_full_coverage=False).problems)
    assert "'telepathy' is not one of" in text and "'teleport' is not one of" in text


def test_schema_validator_supports_what_the_schemas_use() -> None:
    v = Validator(
        {
            "$defs": {"n": {"type": "integer", "minimum": 0}},
            "type": "object",
            "required": ["a"],
            "additionalProperties": False,
            "properties": {
                "a": {"$ref": "#/$defs/n"},
                "b": {"oneOf": [{"const": 1}, {"type": "string"}]},
                "c": {"type": "array", "uniqueItems": True, "items": {"enum": ["x", "y"]}},
            },
        }
    )
    assert v.errors({"a": 3, "b": 1, "c": ["x", "y"]}) == []
    problems = v.errors({"a": -1, "b": 2.5, "c": ["x", "x", "z"], "d": 0})
    assert any(p.startswith("/a:") for p in problems) and any("/c/2" in p for p in problems)
    assert any("unexpected property 'd'" in p for p in problems) and any("repeats" in p for p in problems)
    assert v.errors({"a": True}) != []  # a boolean is not an integer
    try:
        Validator({"format": "email"})
    except ValueError as exc:
        assert "unsupported keywords" in str(exc)
    else:
        raise AssertionError("an unsupported keyword must be refused")


def test_python_values_need_their_feature(tmp_path: Path) -> None:
    """KIT-10: a case holding {"$py": ...} tags or an assign must carry the python_values feature."""
    vectors = tmp_path / "vectors"
    tagged = {
        "op": "query",
        "args": {"query": "", "embedding": {"$py": "tuple", "value": [1, 0]}},
        "expect": {"result": {}},
    }
    assigned = {"op": "query", "args": {"query": "", "assign": {"top_k": 1}}, "expect": {"result": {}}}
    _write(vectors, "query/x.json", _group("query.x", ["query"], [_case("a", [OPEN, tagged], ["A-1"])]))
    _write(vectors, "query/y.json", _group("query.y", ["query"], [_case("b", [OPEN, assigned], ["A-1"])]))
    good = _group("python_values.z", ["python_values"], [_case("c", [OPEN, tagged], ["A-1"])])
    _write(vectors, "python_values/z.json", good)
    problems = check(vectors, require_full_coverage=False).problems
    lacking = [p for p in problems if "lacks python_values" in p]
    assert len(lacking) == 2 and any("query.x.a" in p for p in lacking) and any("query.y.b" in p for p in lacking)
    bad_kind = {
        "op": "query",
        "args": {"query": "", "embedding": {"$py": "set", "value": [1]}},
        "expect": {"result": {}},
    }
    _write(
        vectors,
        "python_values/w.json",
        _group("python_values.w", ["python_values"], [_case("d", [OPEN, bad_kind], ["A-1"])]),
    )
    assert any(
        "python_values/w.json" in p and "schema" in p for p in check(vectors, require_full_coverage=False).problems
    )
