"""``moss-conformance check``: lint the vectors.

Checks, each reported with the file (and JSON Pointer) it concerns:

1. every file is JSON and valid against ``schema/vectors.schema.json``;
2. full case names are unique;
3. every feature tag is in the closed list, and a case's first feature names its folder
   (``vectors/<feature>/``; the ``regressions`` folder holds cases of any feature);
4. every cited rule id exists in CONFORMANCE.md (lines starting ``**PREFIX-N**``; until that file
   exists, in ``docs/rules/*.md``), and every case outside ``regressions`` cites at least one;
5. every rule is cited by at least one case, unless ``schema/rule-coverage.json`` exempts it with a reason;
   an exemption that matches no rule, or exempts a rule a case cites, is itself an error;
6. every feature has a success case (no step expects an error) and an error case;
7. steps use only sessions opened earlier in the case, and query ``order`` modes only on queries.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ._jsonschema import Validator
from .cases import (
    PACKAGE_DIR,
    REGRESSIONS,
    SCHEMA_DIR,
    VECTORS_DIR,
    Case,
    VectorError,
    flatten,
    read_file,
    vector_files,
)
from .protocol import FEATURES
from .python_values import has_tags

#: A rule starts a line as ``**PREFIX-N**`` (``**MINI-1 Title.**`` is read as MINI-1 too).
RULE_LINE = re.compile(r"^\*\*([A-Z][A-Z0-9]*-[0-9]+)\b", re.MULTILINE)
COVERAGE_FILE = SCHEMA_DIR / "rule-coverage.json"


def find_repo_root(start: Optional[Path] = None) -> Optional[Path]:
    """The nearest directory above ``start`` (default: this package, then the CWD) with docs/rules."""
    for base in ([start] if start else []) + [PACKAGE_DIR, Path.cwd()]:
        for parent in [base, *base.parents]:
            if (parent / "CONFORMANCE.md").is_file() or (parent / "docs" / "rules").is_dir():
                return parent
    return None


def rule_sources(conformance: Optional[Path] = None) -> list[Path]:
    """CONFORMANCE.md if it exists, else every ``docs/rules/*.md``."""
    if conformance is not None:
        return [conformance]
    root = find_repo_root()
    if root is None:
        return []
    if (root / "CONFORMANCE.md").is_file():
        return [root / "CONFORMANCE.md"]
    return sorted((root / "docs" / "rules").glob("*.md"))


def read_rule_ids(sources: Sequence[Path]) -> dict[str, str]:
    """Rule id -> the file that defines it (lines starting ``**PREFIX-N**``)."""
    rules: dict[str, str] = {}
    for path in sources:
        for rule in RULE_LINE.findall(path.read_text(encoding="utf-8")):
            rules.setdefault(rule, path.name)
    return rules


def load_schema() -> dict[str, Any]:
    with (SCHEMA_DIR / "vectors.schema.json").open(encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


@dataclass
class CheckResult:
    problems: list[str] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    files: int = 0
    rules: dict[str, str] = field(default_factory=dict)
    cited: set[str] = field(default_factory=set)
    exempt: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        exempted = {r for r in self.rules if _exempt_reason(r, self.exempt)}
        verdict = "OK" if self.ok else f"{len(self.problems)} problems"
        return (
            f"moss-conformance check: {len(self.cases)} cases in {self.files} files, "
            f"{len({f for c in self.cases for f in c.features})}/{len(FEATURES)} features, "
            f"{len(self.cited & set(self.rules))}/{len(self.rules)} rules cited ({len(exempted)} exempt): {verdict}"
        )


def _exempt_reason(rule: str, exempt: dict[str, str]) -> Optional[str]:
    for pattern, reason in exempt.items():
        if fnmatch.fnmatchcase(rule, pattern):
            return reason
    return None


def _step_problems(case: Case) -> list[str]:
    problems = []
    opened: set[str] = set()
    for i, step in enumerate(case.steps):
        op, args = step.get("op"), step.get("args", {})
        handle = args.get("session", "s") if isinstance(args, dict) else "s"
        if op == "open_session":
            opened.add(handle)
        elif op in ("load_index", "client_query", "unload_index"):
            pass
        elif handle not in opened:
            problems.append(f"{case.name}: step {i} ({op}) uses session {handle!r} before any open_session opens it")
    return problems


def check(
    vectors: Path = VECTORS_DIR,
    *,
    conformance: Optional[Path] = None,
    coverage: Path = COVERAGE_FILE,
    require_full_coverage: bool = True,
) -> CheckResult:
    out = CheckResult()
    validator = Validator(load_schema())
    for path in vector_files(vectors):
        rel = path.relative_to(vectors).as_posix()
        out.files += 1
        try:
            data = read_file(path)
        except VectorError as exc:
            out.problems.append(str(exc))
            continue
        errors = validator.errors(data)
        if errors:
            out.problems += [f"{rel}: schema: {e}" for e in errors[:20]]
            continue
        try:
            out.cases += flatten(data, rel)
        except VectorError as exc:
            out.problems.append(str(exc))

    seen: dict[str, str] = {}
    for case in out.cases:
        if case.name in seen:
            out.problems.append(f"{case.file}: duplicate case name {case.name} (also in {seen[case.name]})")
        seen.setdefault(case.name, case.file)
        unknown = [f for f in case.features if f not in FEATURES]
        if unknown:
            out.problems.append(f"{case.file}: {case.name}: unknown feature(s) {unknown}")
        if "/" not in case.file:
            out.problems.append(f"{case.file}: vector files live in a folder named after their feature")
        elif case.folder != REGRESSIONS and case.features and case.features[0] != case.folder:
            out.problems.append(
                f"{case.file}: {case.name}: first feature {case.features[0]!r} does not match folder {case.folder!r}"
            )
        elif case.folder not in FEATURES and case.folder != REGRESSIONS:
            out.problems.append(f"{case.file}: folder {case.folder!r} is neither a feature nor {REGRESSIONS!r}")
        if case.folder != REGRESSIONS and not case.rules:
            out.problems.append(f"{case.file}: {case.name}: cites no rule")
        out.problems += [f"{case.file}: {p}" for p in _step_problems(case)]
        tagged = any(has_tags(s.get("args", {})) or "assign" in s.get("args", {}) for s in case.steps)
        if tagged and "python_values" not in case.features:
            out.problems.append(
                f"{case.file}: {case.name}: holds {{'$py': ...}} values or assign but lacks python_values"
            )
        out.cited |= set(case.rules)

    sources = rule_sources(conformance)
    out.rules = read_rule_ids(sources)
    if not out.rules:
        out.problems.append("no rule ids found (looked for CONFORMANCE.md, then docs/rules/*.md)")
    else:
        for case in out.cases:
            for rule in case.rules:
                if rule not in out.rules:
                    out.problems.append(f"{case.file}: {case.name}: cites unknown rule {rule}")
    try:
        out.exempt = json.loads(coverage.read_text(encoding="utf-8")).get("exempt", {}) if coverage.is_file() else {}
    except (OSError, json.JSONDecodeError) as exc:
        out.problems.append(f"{coverage.name}: {exc}")
    if out.rules:
        for pattern, reason in out.exempt.items():
            matched = [r for r in out.rules if fnmatch.fnmatchcase(r, pattern)]
            if not matched:
                out.problems.append(f"{coverage.name}: exemption {pattern!r} matches no rule")
            if not str(reason).strip():
                out.problems.append(f"{coverage.name}: exemption {pattern!r} gives no reason")
            if not any(c in pattern for c in "*?[") and pattern in out.cited:
                out.problems.append(f"{coverage.name}: {pattern} is exempt but cited by a case: drop the exemption")
        if require_full_coverage:
            uncited = sorted(r for r in out.rules if r not in out.cited and not _exempt_reason(r, out.exempt))
            for rule in uncited:
                out.problems.append(
                    f"rule {rule} ({out.rules[rule]}) is cited by no case and not exempt in {coverage.name}"
                )

    success: dict[str, int] = defaultdict(int)
    failing: dict[str, int] = defaultdict(int)
    for case in out.cases:
        has_error = any("error" in s.get("expect", {}) for s in case.steps)
        for feature in case.features:
            (failing if has_error else success)[feature] += 1
    for feature in FEATURES:
        if not success[feature]:
            out.problems.append(f"feature {feature!r} has no success case (every step succeeds)")
        if not failing[feature]:
            out.problems.append(f"feature {feature!r} has no error case (a step expects an error)")
    return out
