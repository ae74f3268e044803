"""The report: outcomes with the marks of ``equivalent.d/`` applied, totals, kill rates, and REPORT.md.

``mutation/equivalent.d/<module>.json`` (and ``mutation/equivalent.json`` if present) is written by people::

    {
      "equivalent":   [{"id": "...", "description": "...", "reason": "why no behaviour changes"}],
      "out_of_reach": [{"id": "...", "description": "...", "reason": "why no vector can see it",
                        "test": "tests/test_x.py::test_y"}]
    }

An entry applies to the mutant with that id *and* that description, or, when it also carries the
mutant's line-free ``key`` (``mutation list --keys``), to the mutant with that key: so an entry
follows its code when edits elsewhere move it to another line. An entry that matches no mutant of
the report (the code changed) is *stale* and listed at the top of the report.
A survivor marked ``equivalent`` becomes ``equivalent`` (left out of the kill rate); a survivor
marked ``out_of_reach`` becomes ``out_of_reach`` (still in the kill rate's denominator: the vectors
do not kill it, a pytest does). A killed mutant that is marked is flagged: the mark is wrong.

Kill rate = killed / (generated - equivalent), where killed counts ``killed_vectors`` and
``timeout`` (vectors only), plus ``killed_fuzz`` for the rate with the fuzzer.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .confirm import confirmation_problems as confirm_problems

HERE = Path(__file__).resolve().parent
EQUIVALENT = HERE / "equivalent.json"

LABELS = {
    "killed_vectors": "killed by vectors",
    "timeout": "timeout (killed by vectors)",
    "killed_fuzz": "killed by fuzz",
    "survived": "survived",
    "equivalent": "equivalent",
    "out_of_reach": "out of reach",
    "invalid": "invalid (tool bug)",
}


@dataclass
class Marks:
    equivalent: dict[str, dict[str, Any]] = field(default_factory=dict)
    out_of_reach: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = EQUIVALENT) -> Marks:
        """The marks of ``path`` and of every ``*.json`` in the folder beside it named like it with
        ``.d`` (``equivalent.d/``: one file per area, so marks for different modules never conflict)."""
        marks = cls()
        folder = path.with_suffix(".d")
        files = ([path] if path.exists() else []) + (sorted(folder.glob("*.json")) if folder.is_dir() else [])
        for file in files:
            data = json.loads(file.read_text(encoding="utf-8"))
            for kind in ("equivalent", "out_of_reach"):
                for entry in data.get(kind, []):
                    missing = {"id", "description", "reason"} - set(entry)
                    if kind == "out_of_reach":
                        missing |= {"test"} - set(entry)
                    if missing:
                        raise ValueError(f"{file}: a {kind} entry lacks {', '.join(sorted(missing))}: {entry}")
                    getattr(marks, kind)[entry["id"]] = entry
        return marks

    def entries(self) -> list[tuple[str, dict[str, Any]]]:
        return [("equivalent", e) for e in self.equivalent.values()] + [
            ("out_of_reach", e) for e in self.out_of_reach.values()
        ]


def _entry_for(kind_marks: dict[str, dict[str, Any]], by_key: dict[str, dict[str, Any]], m: dict[str, Any]) -> Any:
    """The entry marking mutant record ``m``: by id and description, else by line-free key."""
    entry = kind_marks.get(m["id"])
    if entry is not None and entry["description"] == m["description"]:
        return entry
    return by_key.get(m.get("key", ""))


def resolve(mutants: list[dict[str, Any]], marks: Marks) -> tuple[list[dict[str, Any]], list[str]]:
    """Each mutant record with its final ``outcome`` (and ``note``); plus the problems with the marks."""
    problems = []
    by_id = {m["id"]: m for m in mutants}
    keys = {m["key"] for m in mutants if "key" in m}
    by_key = {
        kind: {e["key"]: e for e in getattr(marks, kind).values() if "key" in e}
        for kind in ("equivalent", "out_of_reach")
    }
    for kind, entry in marks.entries():
        found = by_id.get(entry["id"])
        if (found is None or found["description"] != entry["description"]) and entry.get("key") not in keys:
            problems.append(f"stale {kind} entry {entry['id']} ({entry['description']}): no such mutant in this report")
    out = []
    for m in mutants:
        rec = dict(m)
        rec["raw_outcome"] = m["outcome"]
        note = ""
        for kind in ("equivalent", "out_of_reach"):
            entry = _entry_for(getattr(marks, kind), by_key[kind], m)
            if entry is None:
                continue
            if m["outcome"] == "survived":
                rec["outcome"] = kind
                note = entry["reason"] + (f" (covered by {entry['test']})" if kind == "out_of_reach" else "")
                if kind == "out_of_reach":
                    rec["test"] = entry["test"]
            elif kind == "out_of_reach" and m["outcome"] == "killed_fuzz":
                note = f"out of reach of vectors: {entry['reason']} (covered by {entry['test']})"
            else:
                problems.append(f"{m['id']} is marked {kind} but was {LABELS[m['outcome']]}: remove the entry")
        rec["note"] = note
        out.append(rec)
    return out, problems


def confirmed(records: list[dict[str, Any]], confirmations: Optional[dict[str, Any]]) -> int:
    """How many out-of-reach records the pytest of their mark was seen to fail on (``confirm``)."""
    seen = (confirmations or {}).get("mutants", {})
    return sum(1 for r in records if r["outcome"] == "out_of_reach" and seen.get(r["id"], {}).get("fails_on_mutant"))


def totals(records: list[dict[str, Any]], confirmations: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The counts, and the kill rates: by the vectors; with the fuzzer; and with the pytests that
    ``python -m mutation confirm`` saw fail on the out-of-reach mutants they cover."""
    counts = Counter(r["outcome"] for r in records)
    generated = len(records) - counts["invalid"]
    base = generated - counts["equivalent"]
    by_vectors = counts["killed_vectors"] + counts["timeout"]
    with_fuzz = by_vectors + counts["killed_fuzz"]
    by_tests = confirmed(records, confirmations)
    return {
        "generated": generated,
        "equivalent": counts["equivalent"],
        "killed_vectors": counts["killed_vectors"],
        "timeout": counts["timeout"],
        "killed_fuzz": counts["killed_fuzz"],
        "out_of_reach": counts["out_of_reach"],
        "survived": counts["survived"],
        "invalid": counts["invalid"],
        "kill_rate_vectors": round(by_vectors / base, 4) if base else 1.0,
        "kill_rate_with_fuzz": round(with_fuzz / base, 4) if base else 1.0,
        "out_of_reach_confirmed": by_tests,
        "kill_rate_with_pytests": round((with_fuzz + by_tests) / base, 4) if base else 1.0,
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: dict[str, Any], marks: Marks) -> str:
    records, problems = resolve(report["mutants"], marks)
    confirmations = report.get("confirmations")
    problems += confirm_problems(confirmations)
    t = totals(records, confirmations)
    lines = [
        "# Mutation testing of moss_ref's core",
        "",
        "Generated by `python -m mutation report` from `mutation/report.json`, written by:",
        "",
        "```sh",
        report["command"],
        "```",
        "",
        f"Run {report.get('created', '?')} in {report.get('seconds', 0):.0f} s; modules: "
        + ", ".join(f"`{m}`" for m in report["modules"])
        + f"; fuzz examples per vector survivor: {report.get('fuzz_examples', 0)}"
        + (
            f"; sample of {report['sample']} (seed {report['seed']}) out of {report['population']}"
            if report.get("sample")
            else ""
        )
        + ". Marks from `mutation/equivalent.d/`. See `mutation/README.md`.",
        "",
    ]
    if problems:
        lines += ["## Problems with the marks in `mutation/equivalent.d/`", ""] + [f"- {p}" for p in problems] + [""]
    lines += [
        "## Totals",
        "",
        "| generated | equivalent | killed by vectors | timeout (killed) | killed by fuzz | out of reach | survived |"
        " kill rate, vectors | kill rate, vectors + fuzz |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {t['generated']} | {t['equivalent']} | {t['killed_vectors']} | {t['timeout']} | {t['killed_fuzz']} | "
        f"{t['out_of_reach']} | {t['survived']} | {_pct(t['kill_rate_vectors'])} | {_pct(t['kill_rate_with_fuzz'])} |",
        "",
        "Kill rate = killed / (generated - equivalent); a timeout counts as killed.",
        "",
    ]
    if confirmations:
        lines += [
            f"Out of reach of a language-neutral vector: {t['out_of_reach']}; the pytest named by each mark "
            f"fails on {t['out_of_reach_confirmed']} of them "
            f"(`{report.get('confirm_command', 'python -m mutation confirm')}`, "
            "each test first seen passing on the unmutated core). Killed by vectors, fuzz or those pytests: "
            f"**{_pct(t['kill_rate_with_pytests'])}**.",
            "",
        ]
    else:
        lines += ["The out-of-reach marks' pytests were not run on their mutants (`python -m mutation confirm`).", ""]
    lines += [
        "## By module and operator",
        "",
        "Each cell: killed by vectors / killed with fuzz / not equivalent.",
        "",
    ]
    ops = sorted({r["operator"] for r in records})
    modules = list(dict.fromkeys(r["module"] for r in records))
    grid: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        if r["outcome"] in ("equivalent", "invalid"):
            continue
        for key in ((r["module"], r["operator"]), (r["module"], "all"), ("all", r["operator"]), ("all", "all")):
            cell = grid[key]
            cell[2] += 1
            if r["outcome"] in ("killed_vectors", "timeout"):
                cell[0] += 1
            if r["outcome"] in ("killed_vectors", "timeout", "killed_fuzz"):
                cell[1] += 1
    lines.append("| module | " + " | ".join(ops) + " | all |")
    lines.append("|---" * (len(ops) + 2) + "|")
    for mod in [*modules, "all"]:
        row = [f"`{mod}`" if mod != "all" else "**all**"]
        for op in [*ops, "all"]:
            k = grid.get((mod, op))
            row.append(f"{k[0]}/{k[1]}/{k[2]}" if k else "")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")

    survivors = [r for r in records if r["outcome"] == "survived"]
    lines += ["## Survivors", "", f"{len(survivors)} mutants survived the vectors and the fuzzer, by module, operator."]
    lines.append("")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in survivors:
        groups[(r["module"], r["operator"])].append(r)
    for (mod, op), rs in sorted(groups.items()):
        lines.append(f"### `{mod}` — {op} ({len(rs)})")
        lines.append("")
        for r in rs:
            lines.append(f"- `{r['id']}` {_cell(r['description'].split(': ', 1)[1])} — in `{_cell(r['context'])}`")
        lines.append("")
    reach = [r for r in records if r["outcome"] == "out_of_reach"]
    if reach:
        seen = (confirmations or {}).get("mutants", {})
        lines += ["## Out of reach of the vectors", "",
                  "Each with the pytest that covers it, and whether `python -m mutation confirm` saw it fail.", "",
                  "| id | description | pytest | fails on the mutant |", "|---|---|---|---|"]  # fmt: skip
        for r in reach:
            got = seen.get(r["id"])
            flag = (
                "not run"
                if got is None
                else "yes"
                if got["fails_on_mutant"]
                else f"**no**: {_cell(got['detail'][:80])}"
            )
            lines.append(f"| `{r['id']}` | {_cell(r['description'])} | `{r['test']}` | {flag} |")
        lines.append("")
    fuzz_only = [r for r in records if r["outcome"] == "killed_fuzz"]
    if fuzz_only:
        lines += ["## Killed by the fuzzer only (no vector kills them yet)", ""]
        for r in fuzz_only:
            lines.append(f"- `{r['id']}` {_cell(r['description'].split(': ', 1)[1])} — {_cell(r['detail'][:160])}")
        lines.append("")
    lines += [
        "## Every mutant",
        "",
        "| id | description | outcome | detail |",
        "|---|---|---|---|",
    ]
    for r in records:
        detail = r.get("note") or (", ".join(r.get("killed_by", [])[:3]) or r.get("detail", ""))
        lines.append(
            f"| `{r['id']}` | {_cell(r['description'])} | {LABELS[r['outcome']]} | {_cell(str(detail)[:160])} |"
        )
    lines.append("")
    return "\n".join(lines)
