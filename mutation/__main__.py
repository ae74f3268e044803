"""``python -m mutation``: mutation testing of moss_ref's core against the conformance kit.

Commands (run from the repository root, with the test extra installed)::

    python -m mutation run     [--modules M ...] [--operators OP ...] [--sample N --seed S]
                               [--fuzz-examples N] [--workers 2] [--out mutation/report.json]
    python -m mutation confirm [--report mutation/report.json]   # out-of-reach marks' pytests
    python -m mutation report  [--report mutation/report.json] [--out mutation/REPORT.md]
    python -m mutation list    [--modules M ...] [--operators OP ...]
    python -m mutation show    ID...
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Optional

from .confirm import confirm, confirmation_problems
from .operators import DEFAULT_MODULES, OPERATORS, Mutant, generate, iter_sources
from .report import EQUIVALENT, Marks, render, resolve, totals
from .runner import PACKAGE, canary, run_all

HERE = Path(__file__).resolve().parent
REPORT_JSON = HERE / "report.json"
REPORT_MD = HERE / "REPORT.md"


def sample(mutants: Sequence[Mutant], n: Optional[int], seed: int) -> list[Mutant]:
    """``n`` mutants chosen by a seeded hash of their line-free key, in generation order.

    Hashing the key (module, scope, operator, change) rather than drawing from the list keeps the
    choice in untouched functions the same when code elsewhere moves.
    """
    if n is None or n >= len(mutants):
        return list(mutants)
    ranked = sorted(mutants, key=lambda m: hashlib.sha256(f"{seed}|{m.key}".encode()).hexdigest())
    chosen = {m.id for m in ranked[:n]}
    return [m for m in mutants if m.id in chosen]


def _select(args: argparse.Namespace) -> list[Mutant]:
    mutants = generate(PACKAGE, args.modules or DEFAULT_MODULES, args.operators or None)
    if getattr(args, "ids", None):
        wanted = set(args.ids)
        mutants = [m for m in mutants if m.id in wanted]
        missing = wanted - {m.id for m in mutants}
        if missing:
            raise SystemExit(f"no such mutant: {', '.join(sorted(missing))}")
    return mutants


def run(
    mutants: Sequence[Mutant],
    *,
    fuzz_examples: int = 0,
    workers: int = 2,
    command: str = "",
    population: int = 0,
    sample_size: Optional[int] = None,
    seed: int = 0,
    modules: Sequence[str] = DEFAULT_MODULES,
    progress: bool = False,
    check_setup: bool = True,
) -> dict[str, object]:
    """Judge ``mutants`` and return the report document (what ``report.json`` holds)."""
    if check_setup:
        problems = canary(fuzz=fuzz_examples > 0)
        if problems:
            raise RuntimeError("the mutation set-up is unsound: " + "; ".join(problems))
    started = time.monotonic()
    done = [0]

    def show(m: Mutant, res: object) -> None:
        done[0] += 1
        if progress:
            outcome = getattr(res, "outcome", "?")
            print(f"[{done[0]}/{len(mutants)}] {outcome:14} {m.description}", flush=True)

    results = run_all(list(iter_sources(PACKAGE, mutants)), fuzz_examples=fuzz_examples, workers=workers,
                      on_result=show)  # fmt: skip
    records = []
    for m, res in zip(mutants, results):
        rec = {k: v for k, v in asdict(m).items() if k not in ("start", "end", "replacement", "occurrence")}
        rec = {"id": m.id, "description": m.description, "key": m.key, **rec}
        rec.update(outcome=res.outcome, detail=res.detail, killed_by=res.killed_by, seconds=round(res.seconds, 2))
        records.append(rec)
    return {
        "tool": "mutation (moss_ref, issue 11)",
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.monotonic() - started, 1),
        "modules": list(modules),
        "operators": sorted({m.operator for m in mutants}),
        "population": population or len(mutants),
        "sample": sample_size,
        "seed": seed,
        "fuzz_examples": fuzz_examples,
        "mutants": records,
    }


def cmd_run(args: argparse.Namespace) -> int:
    population = _select(args)
    chosen = sample(population, args.sample, args.seed)
    command = "python -m mutation " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    if args.rejudge is not None:
        return _rejudge(args, chosen, command)
    print(f"mutation: {len(chosen)} of {len(population)} mutants, fuzz examples {args.fuzz_examples}, "
          f"{args.workers} workers", flush=True)  # fmt: skip
    report = run(
        chosen,
        fuzz_examples=args.fuzz_examples,
        workers=args.workers,
        command=command,
        population=len(population),
        sample_size=args.sample,
        seed=args.seed,
        modules=args.modules or DEFAULT_MODULES,
        progress=not args.quiet,
    )
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    records, problems = resolve(report["mutants"], Marks.load(args.equivalent))  # type: ignore[arg-type]
    for p in problems:
        print("mark:", p)
    t = totals(records)
    print(f"mutation: wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in t.items()))
    return 0


def _rejudge(args: argparse.Namespace, population: Sequence[Mutant], command: str) -> int:
    """``run --rejudge REPORT``: run the vectors as they are now on every mutant that REPORT has as
    surviving them (``survived`` or ``killed_fuzz``); a mutant they now kill takes that verdict,
    every other keeps its verdict from REPORT (the fuzzer's included). Writes the merged report to
    ``--out``; its command lists both runs. For adding vectors without a full re-run."""
    old = json.loads(args.rejudge.read_text(encoding="utf-8"))
    again = {r["id"] for r in old["mutants"] if r["outcome"] in ("survived", "killed_fuzz")}
    chosen = [m for m in population if m.id in again]
    print(f"mutation: judging again {len(chosen)} survivors of {args.rejudge}", flush=True)
    fresh = run(chosen, fuzz_examples=0, workers=args.workers, progress=not args.quiet)
    by_id = {r["id"]: r for r in fresh["mutants"] if r["outcome"] in ("killed_vectors", "timeout")}  # type: ignore[union-attr]
    old["mutants"] = [by_id.get(r["id"], r) for r in old["mutants"]]
    old["command"] = f"{old['command']}\n{command}"
    old["seconds"] = round(float(old.get("seconds", 0)) + float(fresh["seconds"]), 1)  # type: ignore[arg-type]
    old["created"] = fresh["created"]
    args.out.write_text(json.dumps(old, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    records, problems = resolve(old["mutants"], Marks.load(args.equivalent))
    for p in problems:
        print("mark:", p)
    print(f"mutation: wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in totals(records).items()))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    report = json.loads(args.report.read_text(encoding="utf-8"))
    text = render(report, Marks.load(args.equivalent))
    args.out.write_text(text, encoding="utf-8")
    records, problems = resolve(report["mutants"], Marks.load(args.equivalent))
    for p in problems:
        print("mark:", p)
    print(
        f"mutation: wrote {args.out}: "
        + ", ".join(f"{k} {v}" for k, v in totals(records, report.get("confirmations")).items())
    )
    return 0


def cmd_confirm(args: argparse.Namespace) -> int:
    report = json.loads(args.report.read_text(encoding="utf-8"))
    records, _ = resolve(report["mutants"], Marks.load(args.equivalent))
    started = time.monotonic()
    report["confirmations"] = confirm(records, workers=args.workers)
    report["confirm_command"] = "python -m mutation " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    report["confirm_seconds"] = round(time.monotonic() - started, 1)
    args.report.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    problems = confirmation_problems(report["confirmations"])
    for p in problems:
        print(f"mutation: {p}", file=sys.stderr)
    t = totals(records, report["confirmations"])
    print(f"mutation: {t['out_of_reach_confirmed']} of {t['out_of_reach']} out-of-reach mutants fail their pytest "
          f"({report['confirm_seconds']:.0f} s); kill rate with those pytests {t['kill_rate_with_pytests']}; "
          f"wrote {args.report}")  # fmt: skip
    return 1 if problems else 0


def cmd_list(args: argparse.Namespace) -> int:
    for m in _select(args):
        print(f"{m.id}\t{m.description}" + (f"\t{m.key}" if args.keys else ""))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    by_id = {m.id: m for m in generate(PACKAGE, DEFAULT_MODULES if not args.modules else args.modules)}
    for mid in args.ids:
        m = by_id.get(mid)
        if m is None:
            print(f"no such mutant: {mid}", file=sys.stderr)
            return 2
        source = (PACKAGE / m.module).read_text(encoding="utf-8")
        diff = difflib.unified_diff(source.splitlines(True), m.apply(source).splitlines(True),
                                    f"moss_ref/{m.module}", f"moss_ref/{m.module} ({m.id})", n=2)  # fmt: skip
        print(f"# {m.id}: {m.description}")
        sys.stdout.writelines(diff)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--modules", nargs="+", metavar="FILE", help=f"files of moss_ref/ (default: {' '.join(DEFAULT_MODULES)})"
        )
        p.add_argument(
            "--operators", nargs="+", choices=OPERATORS, metavar="OP", help=f"operators ({', '.join(OPERATORS)})"
        )

    p = sub.add_parser("run", help="judge the mutants and write report.json")
    selection(p)
    p.add_argument("--ids", nargs="+", metavar="ID", help="only these mutant ids")
    p.add_argument("--sample", type=int, help="judge a seeded sample of N mutants")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fuzz-examples", type=int, default=200, help="fuzzer examples per vector survivor (0: no fuzz)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=REPORT_JSON)
    p.add_argument("--equivalent", type=Path, default=EQUIVALENT)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--rejudge", type=Path, metavar="REPORT",
                   help="judge again only the mutants REPORT has surviving the vectors; merge into --out")  # fmt: skip
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="render report.json as markdown")
    p.add_argument("--report", type=Path, default=REPORT_JSON)
    p.add_argument("--out", type=Path, default=REPORT_MD)
    p.add_argument("--equivalent", type=Path, default=EQUIVALENT)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("confirm", help="run each out-of-reach mark's pytest on its mutant; record it in the report")
    p.add_argument("--report", type=Path, default=REPORT_JSON)
    p.add_argument("--equivalent", type=Path, default=EQUIVALENT)
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=cmd_confirm)

    p = sub.add_parser("list", help="list the mutants (id, description)")
    selection(p)
    p.add_argument("--keys", action="store_true", help="also print line-free keys (for equivalent.d/)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="print the diff of mutants")
    p.add_argument("ids", nargs="+")
    p.add_argument("--modules", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_show)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = None if argv is None else list(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
