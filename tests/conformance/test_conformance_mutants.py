"""The kit finds real bugs (KIT-4): every deliberately broken target is caught, by name, both by
the fixed vectors and by the differential fuzzer, and every shrunk counterexample is a valid
regression vector that the reference passes and the mutant fails (KIT-5)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from moss_ref_conformance.cases import load_cases
from moss_ref_conformance.check import check
from moss_ref_conformance.fuzz import fuzz
from moss_ref_conformance.mutants import MUTANTS, make
from moss_ref_conformance.reference import ReferenceTarget
from moss_ref_conformance.remote import DriverTarget
from moss_ref_conformance.runner import run_cases
from moss_ref_conformance.targets import InProcess

CASES = load_cases()

#: For each mutant, vectors written for exactly that bug: each must fail against the mutant.
CAUGHT_BY = {
    "ne_matches_missing_field": [
        "filters.x1.ne_city",
        "filters.x1.nin_city",
        "filters.comparison.missing_field_never_matches",
    ],
    "ties_by_id": ["query.ties.equal_vectors_by_position", "query.ties.tie_at_the_cut"],
    "upsert_false_overwrites": ["documents.upsert.upsert_false_skips_existing"],
    "alpha_inverted": ["query.hybrid.default_alpha_is_0_8", "query.hybrid.alpha_weights_vector_side"],
    "delete_counts_unknown": ["documents.delete.unknown_ids_ignored", "documents.delete.repeated_id_counts_once"],
    "push_not_atomic": ["persistence.push_resume.failed_push_keeps_previous_version"],
    "resume_adopts_mismatch": ["persistence.push_resume.resume_model_mismatch_raises"],
    "session_applies_min_score": ["query.hybrid.min_score_ignored_by_sessions"],
    "filter_after_top_k": ["filters.x1.filter_before_top_k", "query.ranking.top_k_after_filter"],
    "get_docs_insertion_order": ["get_docs.order.default_order_is_id_code_point"],
    "closed_session_usable": ["session.closed.add_docs_refused", "session.closed.query_refused"],
    "duplicate_batch_first_wins": ["documents.upsert.duplicates_in_batch_last_wins"],
    "explain_length_without_metadata": ["explain.explain.hybrid_terms_df_idf_and_lengths"],
}


def test_every_mutant_has_named_vectors() -> None:
    assert set(CAUGHT_BY) == set(MUTANTS)
    names = {c.name for c in CASES}
    assert {n for ns in CAUGHT_BY.values() for n in ns} <= names


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_vectors_catch_mutant(name: str) -> None:
    summary = run_cases(InProcess(make(name, vector_backend="python")), CASES)
    assert not summary.ok
    failed = {r.name for r in summary.results if r.outcome == "fail"}
    assert set(CAUGHT_BY[name]) <= failed, f"{name}: {sorted(set(CAUGHT_BY[name]) - failed)} did not fail"
    assert not [r for r in summary.results if r.outcome == "error"], "a mutant must fail cleanly, not crash"


def _mutant_driver(name: str) -> list[str]:
    """The command that serves mutant ``name`` through the reference driver."""
    return [sys.executable, "-m", "moss_ref_conformance.driver", "--target", "moss_ref_conformance.mutants:make",
            "--option", f"name={name}"]  # fmt: skip


@pytest.mark.slow
def test_vectors_catch_a_mutant_served_by_the_driver() -> None:
    """The same verdict through the driver protocol (any in-process target can be served)."""
    cmd = _mutant_driver("alpha_inverted")
    target = DriverTarget(cmd, timeout=60)
    try:
        summary = run_cases(target, CASES)
    finally:
        target.close()
    failed = {r.name for r in summary.results if r.outcome == "fail"}
    assert set(CAUGHT_BY["alpha_inverted"]) <= failed


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_fuzzer_catches_mutant(name: str, tmp_path: Path) -> None:
    report = fuzz(
        lambda: make(name, vector_backend="python"), lambda: ReferenceTarget(vector_backend="python"), max_examples=300
    )
    assert report.counterexample is not None, f"the fuzzer did not catch {name}"
    assert len(report.counterexample["steps"]) <= 12, "the counterexample should be shrunk"
    # The shrunk program is a regression vector: lint-clean, passed by the reference, failed by the mutant.
    folder = tmp_path / "vectors" / "regressions"
    path = report.write(folder)
    linted = check(tmp_path / "vectors", require_full_coverage=False)
    assert not [p for p in linted.problems if p.startswith("regressions/")], linted.problems
    cases = load_cases([path])
    assert run_cases(InProcess(ReferenceTarget(vector_backend="numpy")), cases).ok
    assert not run_cases(InProcess(make(name, vector_backend="python")), cases).ok


def test_fuzzer_finds_no_difference_between_backends() -> None:
    report = fuzz(
        lambda: ReferenceTarget(vector_backend="numpy"),
        lambda: ReferenceTarget(vector_backend="python"),
        max_examples=60,
    )
    assert report.counterexample is None, report.message


@pytest.mark.slow
def test_fuzzer_drives_a_target_through_the_driver() -> None:
    """Differential fuzzing works over the protocol too: here a mutant served by a driver process."""
    cmd = _mutant_driver("delete_counts_unknown")
    report = fuzz(lambda: DriverTarget(cmd, timeout=60), max_examples=40)
    assert report.counterexample is not None
    assert report.counterexample["steps"][-1]["op"] == "delete_docs"
