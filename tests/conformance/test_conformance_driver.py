"""The driver protocol (DRV rules), proved with the reference's own driver: handshake, responses,
one long-lived process, crash and timeout recovery, protocol lines that match the published schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moss_ref_conformance._jsonschema import Validator
from moss_ref_conformance.cases import SCHEMA_DIR, load_cases, select
from moss_ref_conformance.cli import explain_lines
from moss_ref_conformance.remote import DriverError, DriverTarget
from moss_ref_conformance.runner import run_cases

HERE = Path(__file__).resolve().parent
DRIVER = [sys.executable, "-m", "moss_ref_conformance.driver"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
CASES = load_cases()
PROTOCOL = Validator(json.loads((SCHEMA_DIR / "protocol.schema.json").read_text()))


def converse(lines: list[Any]) -> list[dict[str, Any]]:
    """Send raw request lines to a fresh reference driver; return its response objects."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    out = subprocess.run(DRIVER, input=text, capture_output=True, text=True, timeout=60, env=ENV)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_hello_negotiates_version_and_features() -> None:
    (hello,) = converse([{"seq": 1, "cmd": "hello", "protocol_versions": [7, 1]}])
    assert hello["seq"] == 1
    info = hello["result"]
    assert info["protocol_version"] == 1
    assert info["implementation"]["name"] == "moss_ref" and info["error_kinds"] is True
    assert "text_embedding" in info["features"]
    assert PROTOCOL.is_valid(hello, PROTOCOL.root["$defs"]["response"])
    assert PROTOCOL.is_valid(info, PROTOCOL.root["$defs"]["hello_result"])
    (refused,) = converse([{"seq": 1, "cmd": "hello", "protocol_versions": [99]}])
    assert "failure" in refused and "no common protocol version" in refused["failure"]["message"]


def test_requests_before_hello_and_bad_lines_are_failures() -> None:
    early, junk, hello, unknown_cmd, unknown_op, no_session = converse(
        [
            {"seq": 1, "cmd": "start_case", "case": "x"},
            "this is not json",
            {"seq": 2, "cmd": "hello", "protocol_versions": [1]},
            {"seq": 3, "cmd": "teleport"},
            {"seq": 4, "cmd": "step", "op": "teleport", "args": {}},
            {"seq": 5, "cmd": "step", "op": "doc_count", "args": {"session": "nope"}},
        ]
    )
    assert "failure" in early and early["seq"] == 1
    assert "failure" in junk and junk["seq"] is None
    assert "result" in hello
    assert "failure" in unknown_cmd and unknown_cmd["seq"] == 3
    assert "failure" in unknown_op and "failure" in no_session


def test_responses_separate_result_error_skip_and_failure() -> None:
    lines = [
        {"seq": 1, "cmd": "hello", "protocol_versions": [1]},
        {"seq": 2, "cmd": "start_case", "case": "demo", "features": ["documents"]},
        {"seq": 3, "cmd": "step", "op": "open_session", "args": {"index": "kb", "model_id": "custom"}},
        {
            "seq": 4,
            "cmd": "step",
            "op": "add_docs",
            "args": {"docs": [{"id": "a", "text": "x", "embedding": [{"$float": "NaN"}]}]},
        },
        {"seq": 5, "cmd": "step", "op": "add_docs", "args": {"docs": [{"id": "a", "text": "x"}]}},
        {"seq": 6, "cmd": "step", "op": "query", "args": {"query": "x", "embedding": [{"$float": "NaN"}]}},
        {"seq": 7, "cmd": "end_case"},
        {"seq": 8, "cmd": "stop"},
        {"seq": 9, "cmd": "step", "op": "doc_count", "args": {}},
    ]
    responses = converse(lines)
    assert [r["seq"] for r in responses] == [1, 2, 3, 4, 5, 6, 7, 8]  # nothing is read after stop
    assert responses[2]["result"] == {"name": "kb", "model_id": "custom", "doc_count": 0}
    assert (
        responses[3]["error"]["code"] == "INVALID_ARGUMENT" and responses[3]["error"]["kind"] == "InvalidArgumentError"
    )
    assert responses[4]["error"] == {**responses[4]["error"], "code": None, "kind": "ValueError"}
    assert responses[5]["error"]["code"] == "INVALID_ARGUMENT"
    for request in lines:
        assert PROTOCOL.errors(request) == [], request
    for response in responses:
        assert PROTOCOL.is_valid(response, PROTOCOL.root["$defs"]["response"]), response


def test_explain_lines_are_exactly_what_the_runner_sends() -> None:
    case = next(c for c in CASES if c.name == "persistence.push_resume.resume_loads_documents")
    target = DriverTarget(DRIVER, env=ENV)
    try:
        summary = run_cases(target, [case])
    finally:
        target.close()
    assert summary.ok
    assert target.sent[: len(explain_lines(case))] == explain_lines(case)
    for line in target.sent:
        assert PROTOCOL.errors(json.loads(line)) == []


def _three(middle: str) -> list[Any]:
    names = ["documents.add.basic", middle, "documents.delete.existing"]
    return [next(c for c in CASES if c.name == n) for n in names]


@pytest.mark.slow
def test_a_crash_is_recorded_and_the_driver_restarted() -> None:
    cases = _three("documents.add.empty_batch")
    cmd = [*DRIVER, "--target", "conformance_targets:Flaky", "--option", "crash_on=documents.add.empty_batch"]
    target = DriverTarget(cmd, env=ENV, timeout=60)
    try:
        summary = run_cases(target, cases)
    finally:
        target.close()
    outcomes = [r.outcome for r in summary.results]
    assert outcomes == ["pass", "error", "pass"]
    assert "exited (exit status 3)" in summary.results[1].message
    assert target.restarts == summary.restarts == 1
    assert not summary.ok and "1 driver restarts" in summary.line()


@pytest.mark.slow
def test_a_step_timeout_is_recorded_and_the_driver_restarted() -> None:
    cases = _three("documents.add.empty_batch")
    cmd = [
        *DRIVER,
        "--target",
        "conformance_targets:Flaky",
        "--option",
        "hang_on=documents.add.empty_batch",
        "--option",
        "vector_backend=python",
    ]
    target = DriverTarget(cmd, env=ENV, timeout=4)
    try:
        summary = run_cases(target, cases)
    finally:
        target.close()
    assert [r.outcome for r in summary.results] == ["pass", "error", "pass"]
    assert "timed out after 4s" in summary.results[1].message
    assert target.restarts == 1


@pytest.mark.slow
def test_what_the_implementation_prints_does_not_corrupt_the_protocol() -> None:
    cases = _three("documents.add.empty_batch")
    cmd = [*DRIVER, "--target", "conformance_targets:Flaky", "--option", "chatter_on=documents.add.empty_batch"]
    target = DriverTarget(cmd, env=ENV)
    try:
        summary = run_cases(target, cases)
    finally:
        target.close()
    assert summary.ok and target.restarts == 0


def test_a_driver_that_cannot_start_is_an_error() -> None:
    target = DriverTarget([sys.executable, "-c", "import sys; sys.exit(5)"], startup_timeout=20)
    with pytest.raises(DriverError):
        target.hello()
    target = DriverTarget([sys.executable, "-c", 'print(\'{"seq": 1, "result": {"protocol_version": 9}}\')'])
    with pytest.raises(DriverError, match="unsupported protocol version"):
        target.hello()


def test_features_a_driver_does_not_declare_are_skipped() -> None:
    from moss_ref_conformance.reference import ReferenceTarget
    from moss_ref_conformance.targets import InProcess

    class NoText(ReferenceTarget):
        def hello(self) -> dict[str, Any]:
            info = super().hello()
            info["features"] = [f for f in info["features"] if f != "text_embedding"]
            return info

    chosen = select(CASES, features=["text_embedding"])
    summary = run_cases(InProcess(NoText()), chosen)
    assert summary.ok and {r.outcome for r in summary.results} == {"skip"}
    assert all("text_embedding" in r.message for r in summary.results)
