"""Running cases against a target: outcomes, the strict failure list, the JSON-lines report.

Outcomes of a case: ``pass``; ``fail`` (a step's response does not meet its expectation, CMP
rules); ``error`` (the target failed: a ``failure`` response, a driver crash or timeout); ``skip``
(the target lacks a feature the case needs, or answered ``skip``). With a failure list, a listed
case that fails or errors is ``xfail`` (tolerated), and a listed case that passes is ``xpass``,
which fails the run, as does a list entry that matches no case (protobuf's strict lists).
"""

from __future__ import annotations

import datetime
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

from . import __version__
from .cases import Case, matches_pattern
from .compare import compare
from .protocol import PROTOCOL_VERSION, response_kind
from .targets import Target

KIT_NAME = "moss-conformance"
KIT_VERSION = __version__
OUTCOMES = ("pass", "fail", "error", "skip", "xfail", "xpass")
BAD_OUTCOMES = ("fail", "error", "xpass")


@dataclass
class CaseResult:
    name: str
    outcome: str
    level: str
    features: list[str]
    rules: list[str]
    step: Optional[int] = None
    op: Optional[str] = None
    message: str = ""
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"type": "case", **asdict(self)}


@dataclass
class RunSummary:
    implementation: dict[str, Any]
    results: list[CaseResult] = field(default_factory=list)
    stale_entries: list[str] = field(default_factory=list)
    seconds: float = 0.0
    restarts: int = 0

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.outcome for r in self.results)

    @property
    def ok(self) -> bool:
        counts = self.counts
        return not any(counts[o] for o in BAD_OUTCOMES) and not self.stale_entries

    def by_name(self) -> dict[str, CaseResult]:
        return {r.name: r for r in self.results}

    def to_json(self) -> dict[str, Any]:
        counts = self.counts
        return {
            "type": "summary",
            "implementation": self.implementation,
            "total": len(self.results),
            **{o: counts[o] for o in OUTCOMES},
            "stale_failure_list_entries": self.stale_entries,
            "driver_restarts": self.restarts,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        counts = self.counts
        impl = self.implementation
        who = f"{impl.get('name', '?')} {impl.get('version', '')}".strip()
        if impl.get("detail"):
            who += f" ({impl['detail']})"
        parts = [
            f"{counts['pass']} passed",
            f"{counts['fail']} failed",
            f"{counts['error']} errors",
            f"{counts['skip']} skipped",
        ]
        if counts["xfail"] or counts["xpass"] or self.stale_entries:
            parts += [f"{counts['xfail']} expected failures", f"{counts['xpass']} unexpected passes"]
        if self.stale_entries:
            parts.append(f"{len(self.stale_entries)} stale failure-list entries")
        if self.restarts:
            parts.append(f"{self.restarts} driver restarts")
        verdict = "OK" if self.ok else "FAILED"
        return f"{KIT_NAME}: {who}: {', '.join(parts)} ({len(self.results)} cases in {self.seconds:.2f}s) {verdict}"


def read_failure_list(path: str | Path) -> list[str]:
    """Entries of a failure-list file: one case name or glob per line; ``#`` starts a comment."""
    entries = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(entry)
    return entries


def expectation_for(step: dict[str, Any], implementation: str) -> dict[str, Any]:
    """The expectation a step holds for ``implementation`` (KIT-12).

    A step may carry ``observed``: what a named implementation was seen to do where it departs
    from the reference's rule (``{"moss": {"version": "1.21.0", "expect": {...}}}``). That
    implementation is checked against its own observation, so a change in its behaviour shows;
    every other target is checked against ``expect``.
    """
    observed = step.get("observed", {}).get(implementation)
    return observed["expect"] if observed is not None else step["expect"]  # type: ignore[no-any-return]


def run_case(
    target: Target, case: Case, supported: set[str], error_kinds: bool, implementation: str = ""
) -> CaseResult:
    """Run one case (the caller has already called ``hello``)."""
    started = time.perf_counter()
    out = CaseResult(case.name, "pass", case.level, list(case.features), list(case.rules))

    def done(outcome: str, message: str = "", step: Optional[int] = None, op: Optional[str] = None) -> CaseResult:
        out.outcome, out.message, out.step, out.op = outcome, message, step, op
        out.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        return out

    missing = [f for f in case.features if f not in supported]
    if missing:
        return done("skip", f"target does not support feature(s) {', '.join(missing)}")
    begun = target.start_case(case.name, case.features)
    kind = response_kind(begun)
    if kind == "skip":
        return done("skip", str(begun["skip"].get("reason", "")))
    if kind != "result":
        target.end_case()
        return done("error", f"start_case: {json.dumps(begun)[:1000]}")
    try:
        for i, step in enumerate(case.steps):
            op = step["op"]
            response = target.step(op, step.get("args", {}))
            kind = response_kind(response)
            if kind == "skip":
                return done("skip", f"step {i} ({op}): {response['skip'].get('reason', '')}", i, op)
            if kind == "failure":
                return done("error", f"step {i} ({op}): {response['failure'].get('message', '')}", i, op)
            problems = compare(op, expectation_for(step, implementation), response, error_kinds=error_kinds)
            if problems:
                note = f" [{step['note']}]" if step.get("note") else ""
                return done("fail", f"step {i}{note}: " + "; ".join(problems), i, op)
        return done("pass")
    finally:
        target.end_case()


def run_cases(
    target: Target,
    cases: Sequence[Case],
    *,
    failure_list: Sequence[str] = (),
    universe: Optional[Iterable[str]] = None,
    report: Optional[IO[str]] = None,
    on_result: Optional[Callable[[CaseResult], None]] = None,
    target_label: str = "",
) -> RunSummary:
    """Run ``cases``; apply ``failure_list`` (entries are checked against ``universe``, the names of
    every loaded case, so entries for deselected cases are not stale); write the report."""
    started = time.perf_counter()
    info = target.hello()
    summary = RunSummary(dict(info.get("implementation", {})))
    supported = set(info.get("features", []))
    error_kinds = bool(info.get("error_kinds", False))
    names = list(universe) if universe is not None else [c.name for c in cases]
    summary.stale_entries = [e for e in failure_list if not any(matches_pattern(n, e) for n in names)]

    def emit(record: dict[str, Any]) -> None:
        if report is not None:
            report.write(json.dumps(record, ensure_ascii=False) + "\n")
            report.flush()

    emit(
        {
            "type": "run",
            "kit": {"name": KIT_NAME, "version": KIT_VERSION},
            "protocol_version": info.get("protocol_version", PROTOCOL_VERSION),
            "implementation": summary.implementation,
            "features": sorted(supported),
            "error_kinds": error_kinds,
            "target": target_label,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cases": len(cases),
        }
    )
    for case in cases:
        res = run_case(target, case, supported, error_kinds, str(summary.implementation.get("name", "")))
        listed = any(matches_pattern(case.name, e) for e in failure_list)
        if listed and res.outcome in ("fail", "error"):
            res.outcome = "xfail"
        elif listed and res.outcome == "pass":
            res.outcome = "xpass"
            res.message = "listed in the failure list but passed: remove it from the list"
        summary.results.append(res)
        emit(res.to_json())
        if on_result is not None:
            on_result(res)
    summary.restarts = int(getattr(target, "restarts", 0))
    summary.seconds = time.perf_counter() - started
    emit(summary.to_json())
    return summary


def read_report(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """(run header, case records, summary) of a JSON-lines report."""
    header: dict[str, Any] = {}
    cases: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        kind = record.get("type")
        if kind == "run":
            header = record
        elif kind == "case":
            cases.append(record)
        elif kind == "summary":
            summary = record
    return header, cases, summary
