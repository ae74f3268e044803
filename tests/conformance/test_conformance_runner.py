"""The runner (KIT rules): selection, the strict failure list, the JSON-lines report and summary
line, dump and explain, and the results table of CONFORMANCE.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moss_ref_conformance.cases import dump, load_cases, select
from moss_ref_conformance.cli import main
from moss_ref_conformance.mutants import make
from moss_ref_conformance.reference import ReferenceTarget
from moss_ref_conformance.runner import read_report, run_cases
from moss_ref_conformance.table import BEGIN, END, render
from moss_ref_conformance.targets import InProcess

ROOT = Path(__file__).resolve().parents[2]
CASES = load_cases()
MUTANT = "moss_ref_conformance.mutants:make"


def run_cli(*args: str) -> tuple[int, list[str]]:
    out = subprocess.run(
        [sys.executable, "-m", "moss_ref_conformance.cli", *args], capture_output=True, text=True, timeout=120
    )
    return out.returncode, out.stdout.strip().splitlines()


def test_selection_by_pattern_feature_and_level() -> None:
    names = {c.name for c in select(CASES, tests=["filters.x1"])}
    assert names and all(n.startswith("filters.x1.") for n in names)
    assert {c.name for c in select(CASES, tests=["*.ne_city"])} == {"filters.x1.ne_city"}
    assert all("geo" in c.features for c in select(CASES, features=["geo"]))
    assert not any("text_embedding" in c.features for c in select(CASES, exclude_features=["text_embedding"]))
    assert {c.level for c in select(CASES, level="required")} == {"required"}
    assert {c.level for c in CASES} == {"required", "recommended"}


def test_failure_list_tolerates_listed_failures(tmp_path: Path) -> None:
    listed = tmp_path / "failures.txt"
    listed.write_text(
        "# known bugs of this SDK\nquery.hybrid.default_alpha_is_0_8\nquery.hybrid.alpha_*  # a glob\n"
        "query.hybrid.blank_query_ranks_by_vector  # alpha 0 inverted to 1 ranks the blank query\n"
        "query.hybrid.min_score_ignored_by_sessions  # alpha 1 inverted to 0: a blank query finds nothing\n"
    )
    code, out = run_cli(
        "run",
        "--target",
        MUTANT,
        "--option",
        "name=alpha_inverted",
        "--test",
        "query.hybrid",
        "--failure-list",
        str(listed),
    )
    assert code == 0, out
    assert "expected failures" in out[-1] and out[-1].endswith(" OK")


def test_failure_list_is_strict_about_passes_and_stale_entries(tmp_path: Path) -> None:
    listed = tmp_path / "failures.txt"
    listed.write_text("query.hybrid.default_alpha_is_0_8\n")
    code, out = run_cli("run", "--test", "query.hybrid", "--failure-list", str(listed))
    assert code == 1
    assert any(line.startswith("XPASS query.hybrid.default_alpha_is_0_8") for line in out)
    assert "1 unexpected passes" in out[-1] and out[-1].endswith("FAILED")

    listed.write_text("query.hybrid.no_such_case\nfilters.x1.ne_city\n")
    summary = run_cases(
        InProcess(make("ne_matches_missing_field")),
        select(CASES, tests=["filters.x1.ne_city"]),
        failure_list=listed.read_text().split(),
        universe=[c.name for c in CASES],
    )
    assert summary.stale_entries == ["query.hybrid.no_such_case"]
    assert [r.outcome for r in summary.results] == ["xfail"]
    assert not summary.ok
    # an entry for a case that exists but was not selected is not stale
    summary = run_cases(
        InProcess(ReferenceTarget()),
        select(CASES, tests=["documents.add.basic"]),
        failure_list=["filters.x1.ne_city"],
        universe=[c.name for c in CASES],
    )
    assert summary.ok and summary.stale_entries == []


def test_report_is_json_lines_and_the_summary_line_comes_last(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    code, out = run_cli(
        "run",
        "--target",
        MUTANT,
        "--option",
        "name=delete_counts_unknown",
        "--feature",
        "documents",
        "--report",
        str(report),
    )
    assert code == 1
    assert any(line.startswith("FAIL  documents.delete.unknown_ids_ignored: step 2") for line in out)
    assert out[-1].startswith("moss-conformance: mutant:delete_counts_unknown ") and out[-1].endswith("FAILED")
    header, records, summary = read_report(report)
    assert header["implementation"]["name"] == "mutant:delete_counts_unknown" and header["protocol_version"] == 1
    assert {r["outcome"] for r in records} == {"pass", "fail"}
    failed = next(r for r in records if r["name"] == "documents.delete.unknown_ids_ignored")
    assert failed["step"] == 2 and failed["op"] == "delete_docs" and "expected 1, got 3" in failed["message"]
    assert summary["fail"] == sum(r["outcome"] == "fail" for r in records) and summary["ok"] is False
    for line in report.read_text().splitlines():
        json.loads(line)


def test_dump_round_trips_and_runs(tmp_path: Path) -> None:
    flat = tmp_path / "all.json"
    assert main(["dump", "--output", str(flat)]) == 0
    data = json.loads(flat.read_text())
    assert data["format"] == "moss-conformance-vectors" and len(data["cases"]) == len(CASES)
    first = data["cases"][0]
    assert set(first) == {"name", "group", "file", "description", "level", "features", "rules", "steps"}
    assert data == json.loads(json.dumps(dump(CASES)))
    # setup steps are inlined: the flat cases run on their own
    assert run_cases(InProcess(ReferenceTarget()), load_cases([flat])).ok


def test_explain_prints_the_case_and_its_protocol_lines(capsys: Any) -> None:
    assert main(["explain", "filters.x1.ne_city"]) == 0
    out = capsys.readouterr().out
    assert "# filters.x1.ne_city" in out and '"cmd": "hello"' in out and '"op": "query"' in out
    assert '#   expect {"result": {"docs": [{"id": "2"}, {"id": "4"}, {"id": "5"}]}, "order": "set"}' in out
    assert main(["explain", "no.such.case"]) == 2


def test_unknown_target_is_a_usage_error() -> None:
    code, _ = run_cli("run", "--target", "no_such_module:factory")
    assert code == 2


REPORT_RUNS = [
    ["--option", "vector_backend=python"],
    ["--option", "vector_backend=numpy"],
    ["--driver", f"{sys.executable} -m moss_ref_conformance.driver --option vector_backend=python"],
    ["--driver", f"{sys.executable} -m moss_ref_conformance.driver --option vector_backend=numpy"],
]


@pytest.mark.slow
def test_results_table_in_conformance_rules_is_up_to_date(tmp_path: Path) -> None:
    """docs/rules/conformance.md carries the reference's results, generated from run reports with
    ``moss-conformance table --update``. Regenerate with the four runs of REPORT_RUNS."""
    reports = []
    for i, args in enumerate(REPORT_RUNS):
        path = tmp_path / f"r{i}.jsonl"
        code, out = run_cli("run", *args, "--report", str(path))
        assert code == 0, out
        reports.append(path)
    doc = (ROOT / "docs" / "rules" / "conformance.md").read_text(encoding="utf-8")
    block = doc.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == render(reports).strip(), (
        "run: moss-conformance table <the four reports> --update docs/rules/conformance.md"
    )


def test_kit_runs_with_third_party_imports_blocked(tmp_path: Path) -> None:
    """Runner, driver, comparator, lint and dump need only the standard library (and moss_ref)."""
    program = f"""
import sys
BEFORE = set(sys.modules)  # what the interpreter and site loaded before the kit
STD = set(sys.stdlib_module_names) | {{"moss_ref", "moss_ref_conformance"}}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in STD:
            raise ImportError(f"third-party import blocked: {{name}}")
sys.meta_path.insert(0, Block())
from moss_ref_conformance.cli import main
assert main(["check"]) == 0
assert main(["dump", "-o", {str(tmp_path / "flat.json")!r}]) == 0
assert main(["run", "--option", "vector_backend=python"]) == 0
print("NONSTD", sorted(m for m in set(sys.modules) - BEFORE if m.split(".")[0] not in STD))
"""
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "NONSTD []" in out.stdout


def test_observed_expectation_is_used_for_its_implementation() -> None:
    """GT-3: a step's ``observed`` entry is the expectation for the implementation it names only."""
    from moss_ref_conformance.cases import flatten

    data = {
        "group": "t.observed",
        "description": "d",
        "level": "recommended",
        "features": ["session"],
        "cases": [
            {
                "name": "c",
                "description": "d",
                "rules": ["GT-3"],
                "steps": [
                    {
                        "op": "open_session",
                        "args": {"index": "kb", "model_id": "custom"},
                        "expect": {"result": {"doc_count": 0}},
                        "observed": {"elsewhere": {"version": "1", "expect": {"result": {"doc_count": 7}}}},
                    }
                ],
            }
        ],
    }
    cases = flatten(data, "session/t.json")

    class Named(ReferenceTarget):
        def __init__(self, name: str) -> None:
            super().__init__(vector_backend="python")
            self._name_for_hello = name

        def hello(self) -> dict[str, Any]:
            out = super().hello()
            out["implementation"]["name"] = self._name_for_hello
            return out

    as_reference = run_cases(InProcess(Named("moss_ref")), cases)
    as_observed = run_cases(InProcess(Named("elsewhere")), cases)
    assert [r.outcome for r in as_reference.results] == ["pass"]
    assert [r.outcome for r in as_observed.results] == ["fail"]
    assert "expected 7, got 0" in as_observed.results[0].message
