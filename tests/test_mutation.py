"""The mutation tool (issue 11, ``mutation/``): its operators, its set-up, and the kill-rate floor.

The operator tests run on small snippets. ``test_sample_kill_rate_holds`` judges a fixed sample of
the core's mutants against the vectors (no fuzz) and fails when the kill rate falls below the
figure committed in ``mutation/threshold.json``; the full run is ``python -m mutation run``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mutation.__main__ import run, sample
from mutation.confirm import confirm, confirmation_problems, run_pytest
from mutation.operators import DEFAULT_MODULES, OPERATORS, generate, generate_source, iter_sources
from mutation.report import Marks, render, resolve, totals
from mutation.runner import PACKAGE, Workspace, canary

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = json.loads((ROOT / "mutation" / "threshold.json").read_text(encoding="utf-8"))


def mutated(src: str, operator: str) -> list[str]:
    """Every mutated source ``operator`` makes of ``src``, in order."""
    return [m.apply(src) for m in generate_source("snippet.py", src) if m.operator == operator]


def test_comparison_operators() -> None:
    src = "def f(a, b):\n    return a < b\n"
    assert mutated(src, "cmp_boundary") == ["def f(a, b):\n    return (a <= b)\n"]
    assert mutated(src, "cmp_negate") == ["def f(a, b):\n    return (a >= b)\n"]
    chain = "ok = 0 <= x < n\n"
    assert mutated(chain, "cmp_boundary") == ["ok = (0 < x < n)\n", "ok = (0 <= x <= n)\n"]
    assert mutated("y = a is not None\n", "cmp_negate") == ["y = (a is None)\n"]
    assert mutated("y = k in d\n", "cmp_negate") == ["y = (k not in d)\n"]
    assert mutated("t = operator.gt\n", "cmp_function") == ["t = (operator.ge)\n"]


def test_boolean_operators() -> None:
    assert mutated("y = a and b\n", "bool_op") == ["y = (a or b)\n"]
    assert mutated("y = not a\n", "not_removal") == ["y = (a)\n"]
    assert mutated("y = True\n", "bool_const") == ["y = False\n"]
    assert mutated("if ready:\n    go()\n", "cond_negate") == ["if (not ready):\n    go()\n"]
    assert mutated("if a < b:\n    go()\n", "cond_negate") == []  # comparisons are cmp_negate's


def test_constant_changes() -> None:
    assert mutated("K1 = 1.2\n", "num_const") == ["K1 = 2.2\n", "K1 = 0.2\n", "K1 = 2.4\n", "K1 = 0.0\n"]
    assert mutated("n = 1\n", "num_const") == ["n = 2\n", "n = 0\n"]  # 1*2 == 1+1 and 0 appear once
    assert mutated("n = 0\n", "num_const") == ["n = 1\n", "n = (-1)\n"]
    assert mutated('ok = key == "$and"\n', "str_const") == ["ok = key == '$and#'\n"]
    assert mutated('t = "\\n".join(xs)\n', "str_const") == ["t = '\\n#'.join(xs)\n"]
    assert mutated('label = "free text"\n', "str_const") == []  # other strings are never changed


def test_arithmetic_and_off_by_one() -> None:
    assert mutated("y = a + b\n", "arith") == ["y = (a - b)\n"]
    assert mutated("total += w\n", "arith") == ["total -= w\n"]
    assert mutated('s = "w|" + t\n', "arith") == []  # string concatenation is left alone
    assert mutated("y = -a\n", "arith") == ["y = (a)\n"]
    assert mutated("y = xs[:k]\n", "off_by_one") == ["y = xs[:(k + 1)]\n", "y = xs[:(k - 1)]\n"]
    assert mutated("for i in range(n):\n    f(i)\n", "off_by_one") == [
        "for i in range((n + 1)):\n    f(i)\n",
        "for i in range((n - 1)):\n    f(i)\n",
    ]
    assert mutated("y = xs[i]\n", "off_by_one") == ["y = xs[(i + 1)]\n", "y = xs[(i - 1)]\n"]
    assert mutated("y = xs[:3]\n", "off_by_one") == []  # constants are num_const's


def test_dropped_statements_and_cache_invalidation() -> None:
    src = "def put(self, r):\n    self.records[r.id] = r\n    self._changed()\n    self.cache.clear()\n    log(r)\n"
    assert [m.before for m in generate_source("s.py", src) if m.operator == "drop_stmt"] == [
        "self.records[r.id] = r",
        "log(r)",
    ]
    assert mutated(src, "drop_invalidation") == [
        "def put(self, r):\n    self.records[r.id] = r\n    pass\n    self.cache.clear()\n    log(r)\n",
        "def put(self, r):\n    self.records[r.id] = r\n    self._changed()\n    pass\n    log(r)\n",
    ]
    assert mutated("for x in xs:\n    if x:\n        continue\n    f(x)\n", "drop_stmt") == [
        "for x in xs:\n    if x:\n        pass\n    f(x)\n",
        "for x in xs:\n    if x:\n        continue\n    pass\n",
    ]


def test_sort_keys() -> None:
    src = "order = sorted(ids, key=lambda d: (-score[d], d))\n"
    assert mutated(src, "sort_key") == [
        "order = sorted(ids, key=lambda d: ((score[d], d)))\n",
        "order = sorted(ids, key=lambda d: ((d, -score[d])))\n",
        "order = sorted(ids, key=lambda d: ((-score[d],)))\n",
        "order = (sorted(ids, key=lambda d: (-score[d], d), reverse=True))\n",
    ]
    assert mutated("xs.sort(key=len)\n", "sort_key") == ["(xs.sort())\n", "(xs.sort(key=len, reverse=True))\n"]
    key_fn = "def _rank_key(item):\n    return (-item[1], item[0])\n"
    assert mutated(key_fn, "sort_key") == [
        "def _rank_key(item):\n    return ((item[1], item[0]))\n",
        "def _rank_key(item):\n    return ((item[0], -item[1]))\n",
        "def _rank_key(item):\n    return ((-item[1],))\n",
    ]
    assert mutated(key_fn, "arith") == []  # the un-negation is sort_key's, made once


def test_what_is_never_mutated() -> None:
    src = (
        '"""Doc 1."""\n'
        "import math\n"
        "__all__ = ['f']\n"
        "def f(x: int = 3) -> bool:\n"
        '    """Doc 2."""\n'
        "    assert x > 0\n"
        "    if TYPE_CHECKING:\n"
        "        g(1)\n"
        "    if x is None:\n"
        '        raise ValueError(f"bad {x + 1}")\n'
        "    return False\n"
    )
    found = {(m.line, m.operator) for m in generate_source("s.py", src)}
    assert found == {(4, "num_const"), (9, "cmp_negate"), (11, "bool_const")}


def test_ids_are_stable_unique_and_every_mutant_compiles() -> None:
    first = generate(PACKAGE)
    second = generate(PACKAGE)
    assert [m.id for m in first] == [m.id for m in second]
    assert [m.description for m in first] == [m.description for m in second]
    assert len({m.id for m in first}) == len(first)
    assert {m.module for m in first} == set(DEFAULT_MODULES)
    assert {m.operator for m in first} == set(OPERATORS)
    for m, text in iter_sources(PACKAGE, first):
        compile(text, m.module, "exec")


def test_edits_work_on_lines_with_non_ascii_text() -> None:
    src = 'x = f("é→") < 2\n'
    assert mutated(src, "cmp_boundary") == ["x = (f('é→') <= 2)\n"]


def test_report_applies_marks_flags_stale_ones_and_computes_rates(tmp_path: Path) -> None:
    def rec(mid: str, outcome: str) -> dict[str, object]:
        return {"id": mid, "description": f"m.py:1: {mid}", "module": "m.py", "operator": "num_const",
                "context": "x", "outcome": outcome, "detail": "", "killed_by": []}  # fmt: skip

    mutants = [rec("a", "killed_vectors"), rec("b", "killed_fuzz"), rec("c", "survived"), rec("d", "survived"),
               rec("e", "timeout"), rec("f", "survived")]  # fmt: skip
    path = tmp_path / "equivalent.json"
    path.write_text(json.dumps({
        "equivalent": [{"id": "c", "description": "m.py:1: c", "reason": "cache size only"},
                       {"id": "gone", "description": "m.py:9: gone", "reason": "moved"}],
        "out_of_reach": [{"id": "d", "description": "m.py:1: d", "reason": "thread safety",
                          "test": "tests/test_x.py::test_y"}],
    }))  # fmt: skip
    records, problems = resolve(mutants, Marks.load(path))
    assert [r["outcome"] for r in records] == [
        "killed_vectors", "killed_fuzz", "equivalent", "out_of_reach", "timeout", "survived"
    ]  # fmt: skip
    assert len(problems) == 1 and "stale" in problems[0] and "gone" in problems[0]
    t = totals(records)
    assert (t["generated"], t["equivalent"], t["survived"]) == (6, 1, 1)
    assert t["kill_rate_vectors"] == round(2 / 5, 4)  # a timeout is a kill
    assert t["kill_rate_with_fuzz"] == round(3 / 5, 4)
    text = render({"command": "python -m mutation run", "modules": ["m.py"], "mutants": mutants}, Marks.load(path))
    assert "stale equivalent entry gone" in text and "python -m mutation run" in text
    assert "were not run on their mutants" in text
    node = "tests/test_x.py::test_y"
    seen = {"canary": {"test": node, "failed": True}, "tests": {node: {"passes_clean": True, "detail": ""}},
            "mutants": {"d": {"test": node, "fails_on_mutant": True, "detail": "1 failed"}}}  # fmt: skip
    t = totals(records, seen)
    assert (t["out_of_reach_confirmed"], t["kill_rate_with_pytests"]) == (1, round(4 / 5, 4))
    report = {"command": "c", "modules": ["m.py"], "mutants": mutants, "confirmations": seen}
    assert "| `tests/test_x.py::test_y` | yes |" in render(report, Marks.load(path))
    seen["mutants"]["d"]["fails_on_mutant"] = False
    text = render(report, Marks.load(path))
    assert totals(records, seen)["out_of_reach_confirmed"] == 0
    assert "d is marked out of reach, covered by tests/test_x.py::test_y, but it passes on it" in text


def test_confirm_runs_each_marks_pytest_on_its_mutant() -> None:
    """``python -m mutation confirm``: the named test must pass on the clean core and fail on the mutant."""
    mutant = next(
        m for m in generate(PACKAGE, ["_keyword_rule.py"]) if m.description.endswith("4294967295 -> 4294967294")
    )
    layout = "tests/test_store_terms.py::test_a_push_stores_the_terms_in_the_documented_layout"
    other = "tests/test_bm25_tokenizer.py::test_folding_and_transliteration"
    records = [{"id": mutant.id, "description": mutant.description, "key": mutant.key, "module": mutant.module,
                "outcome": "out_of_reach", "test": t} for t in (layout, other)]  # fmt: skip
    records[1]["id"] = records[1]["id"] + "-again"  # the same mutant under a second mark, naming another test
    seen = confirm(records)
    assert seen["canary"]["failed"] and all(o["passes_clean"] for o in seen["tests"].values())
    assert seen["mutants"][mutant.id]["fails_on_mutant"] is True
    assert seen["mutants"][mutant.id + "-again"]["fails_on_mutant"] is False
    assert [p for p in confirmation_problems(seen) if "-again" in p]
    with Workspace() as ws:  # no copy in the workspace: the session imports the installed core instead
        shutil.rmtree(ws.pkg / "moss_ref")
        got = run_pytest(ws, layout)
    assert got.passed and not got.copy_imported


def test_every_out_of_reach_mark_names_a_test_that_exists() -> None:
    """A renamed test would leave a mark pointing at nothing (``confirm`` finds it too, but slowly)."""
    tests = sorted({e["test"] for e in Marks.load().out_of_reach.values()})
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *tests],
                          cwd=PACKAGE.parent, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:]
    collected = {ln.split("[")[0] for ln in proc.stdout.splitlines() if "::" in ln}
    assert {t.split("[")[0] for t in tests} <= collected


def test_committed_marks_are_well_formed() -> None:
    marks = Marks.load()
    for _, entry in marks.entries():
        assert entry["reason"].strip()
    for entry in marks.out_of_reach.values():
        assert "::test_" in entry["test"]


def test_the_mutated_copy_is_what_runs() -> None:
    """A copy whose ``moss_ref/__init__.py`` raises fails the vectors and the fuzzer; a clean copy passes."""
    assert canary(fuzz=True) == []


def test_sample_kill_rate_holds() -> None:
    """A fixed sample, vectors only: the kill rate must not fall below the committed floor."""
    population = generate(PACKAGE)
    chosen = sample(population, THRESHOLD["sample"], THRESHOLD["seed"])
    assert len(chosen) == THRESHOLD["sample"]
    report = run(chosen, fuzz_examples=0, workers=2, check_setup=False)
    records, _ = resolve(report["mutants"], Marks.load())  # type: ignore[arg-type]
    assert not [r for r in records if r["outcome"] == "invalid"]
    rate = totals(records)["kill_rate_vectors"]
    survivors = [r["description"] for r in records if r["outcome"] == "survived"]
    assert rate >= THRESHOLD["kill_rate_vectors"], f"kill rate {rate} < {THRESHOLD['kill_rate_vectors']}: {survivors}"


@pytest.mark.parametrize("module", DEFAULT_MODULES)
def test_every_rule_module_has_mutants(module: str) -> None:
    assert generate(PACKAGE, [module])
