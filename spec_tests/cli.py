"""``moss-conformance``: run the Moss conformance vectors against an implementation.

Commands::

    moss-conformance run      [--target MOD:FACTORY [--option K=V]... | --driver CMD | --real-moss] [selection]
                              [--failure-list FILE] [--report FILE]
    moss-conformance check    [--conformance CONFORMANCE.md]
    moss-conformance dump     [--output FILE]
    moss-conformance explain  NAME
    moss-conformance driver   [--target MOD:FACTORY] [--option K=V]...
    moss-conformance fuzz     [--target MOD:FACTORY | --driver CMD | --real-moss] [--examples N] [--out DIR]
    moss-conformance table    REPORT.jsonl... [--update FILE]

``run`` prints one line per failing case and a one-line summary last; it exits 0 when nothing
failed (expected failures aside), 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import cases as cases_mod
from .protocol import FEATURES, LEVELS, SUPPORTED_VERSIONS

DEFAULT_TARGET = "moss_ref_conformance.reference:ReferenceTarget"
REAL_MOSS_TARGET = "moss_ref_conformance.real_moss:RealMossTarget"


def _add_target_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--target", help=f"in-process Python target module:factory (default {DEFAULT_TARGET})")
    g.add_argument("--driver", help="command line of a driver speaking the JSON-lines protocol")
    g.add_argument(
        "--real-moss",
        action="store_true",
        help=f"the real moss SDK in this interpreter, offline through a loopback stand-in ({REAL_MOSS_TARGET})",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument for the --target factory (repeatable; JSON values are decoded)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each driver response")


def _add_selection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--vectors",
        action="append",
        type=Path,
        default=[],
        help="vector folder, file or dump to use instead of the shipped vectors (repeatable)",
    )
    p.add_argument(
        "--test",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run cases whose name equals PATTERN, starts with PATTERN., or matches it as a glob",
    )
    p.add_argument("--feature", action="append", default=[], choices=FEATURES, help="only cases with this feature")
    p.add_argument(
        "--exclude-feature", action="append", default=[], choices=FEATURES, help="skip cases with this feature"
    )
    p.add_argument("--level", choices=LEVELS, help="'required' runs only required cases")


def make_target(args: argparse.Namespace) -> tuple[Any, str]:
    from .targets import InProcess, load_target, parse_options

    if args.driver:
        from .remote import DriverTarget

        return DriverTarget(args.driver, timeout=args.timeout), f"driver: {args.driver}"
    spec = REAL_MOSS_TARGET if args.real_moss else args.target or DEFAULT_TARGET
    options = parse_options(args.option)
    label = spec + "".join(f" {k}={v}" for k, v in options.items())
    return InProcess(load_target(spec, options), label), label


def _selected(args: argparse.Namespace) -> tuple[list[cases_mod.Case], list[cases_mod.Case]]:
    loaded = cases_mod.load_cases(args.vectors or None)
    chosen = cases_mod.select(
        loaded, tests=args.test, features=args.feature, exclude_features=args.exclude_feature, level=args.level
    )
    return loaded, chosen


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import read_failure_list, run_cases

    loaded, chosen = _selected(args)
    if args.test and not chosen:
        print(f"no case matches {args.test}", file=sys.stderr)
        return 2
    failure_list = read_failure_list(args.failure_list) if args.failure_list else []
    target, label = make_target(args)
    report = open(args.report, "w", encoding="utf-8") if args.report else None

    def show(res: Any) -> None:
        if res.outcome in ("fail", "error", "xpass") or (args.verbose and res.outcome != "pass"):
            print(f"{res.outcome.upper():5} {res.name}: {res.message}")
        elif args.verbose:
            print(f"{res.outcome.upper():5} {res.name}")

    try:
        summary = run_cases(
            target,
            chosen,
            failure_list=failure_list,
            universe=[c.name for c in loaded],
            report=report,
            on_result=show,
            target_label=label,
        )
    finally:
        target.close()
        if report is not None:
            report.close()
    for entry in summary.stale_entries:
        print(f"STALE failure-list entry {entry!r} matches no case: remove it")
    print(summary.line())
    return 0 if summary.ok else 1


def cmd_check(args: argparse.Namespace) -> int:
    from .check import check

    result = check(args.vectors or cases_mod.VECTORS_DIR, conformance=args.conformance)
    for problem in result.problems:
        print(problem)
    print(result.line())
    return 0 if result.ok else 1


def cmd_dump(args: argparse.Namespace) -> int:
    _, chosen = _selected(args)
    text = json.dumps(cases_mod.dump(chosen), ensure_ascii=False, indent=1) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def explain_lines(case: cases_mod.Case) -> list[str]:
    """The exact protocol lines a runner sends for ``case`` (sequence numbers as in a fresh run)."""
    seq = 0
    lines = []

    def send(msg: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        lines.append(json.dumps({"seq": seq, **msg}, ensure_ascii=False, allow_nan=False))

    send({"cmd": "hello", "protocol_versions": list(SUPPORTED_VERSIONS)})
    send({"cmd": "start_case", "case": case.name, "features": list(case.features)})
    for step in case.steps:
        send({"cmd": "step", "op": step["op"], "args": step.get("args", {})})
    send({"cmd": "end_case"})
    return lines


def cmd_explain(args: argparse.Namespace) -> int:
    loaded = cases_mod.load_cases(args.vectors or None)
    found = [c for c in loaded if c.name == args.name] or [
        c for c in loaded if cases_mod.matches_pattern(c.name, args.name)
    ]
    if not found:
        print(f"no case named {args.name!r}", file=sys.stderr)
        return 2
    for case in found:
        print(f"# {case.name}  ({case.level}; features {', '.join(case.features)}; rules {', '.join(case.rules)})")
        print(f"# {case.description}")
        print(f"# file: vectors/{case.file}")
        print(cases_mod.pretty_json(case.to_json()))
        print("# protocol lines sent (each answered by one response line; expected outcome in '# expect'):")
        lines = explain_lines(case)
        print(lines[0])
        print(lines[1])
        for step, line in zip(case.steps, lines[2:]):
            print(line)
            print("#   expect " + json.dumps(step["expect"], ensure_ascii=False))
        print(lines[-1])
    return 0


def cmd_driver(args: argparse.Namespace) -> int:
    from .driver import main as driver_main

    argv = ["--target", args.target or DEFAULT_TARGET]
    for option in args.option:
        argv += ["--option", option]
    return driver_main(argv)


def cmd_fuzz(args: argparse.Namespace) -> int:
    try:
        from .fuzz import fuzz
    except ImportError as exc:
        print(f"fuzzing needs hypothesis: pip install hypothesis ({exc})", file=sys.stderr)
        return 2
    target, label = make_target(args)
    report = fuzz(
        lambda: target,
        max_examples=args.examples,
        steps=args.steps,
        derandomize=not args.random,
        label=label,
        order=args.tie_order,
    )
    if report.counterexample is None:
        print(f"moss-conformance fuzz: {label}: no difference from the reference in {report.counts()}")
        return 0
    print(report.message)
    print(f"moss-conformance fuzz: {label}: {report.counts()} ran before the difference")
    if args.out:
        path = report.write(Path(args.out))
        print(f"counterexample written to {path}")
    else:
        print(cases_mod.pretty_json(report.vector_file()))
    return 1


def cmd_table(args: argparse.Namespace) -> int:
    from .table import render, update_file

    text = render(args.reports)
    if args.update:
        changed = update_file(Path(args.update), text)
        print(f"{args.update}: {'updated' if changed else 'already up to date'}")
    else:
        print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moss-conformance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the vectors against a target")
    _add_target_args(p)
    _add_selection_args(p)
    p.add_argument("--failure-list", type=Path, help="file of case names/globs expected to fail (strict)")
    p.add_argument("--report", type=Path, help="write a JSON-lines report here")
    p.add_argument("-v", "--verbose", action="store_true", help="print every case")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="lint the vectors")
    p.add_argument("--vectors", type=Path, help="vector folder to lint (default: the shipped vectors)")
    p.add_argument("--conformance", type=Path, help="CONFORMANCE.md to read rule ids from")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("dump", help="export the vectors as one flat JSON document")
    _add_selection_args(p)
    p.add_argument("--output", "-o", type=Path)
    p.set_defaults(func=cmd_dump)

    p = sub.add_parser("explain", help="print a case and the protocol lines it sends")
    p.add_argument("name")
    p.add_argument("--vectors", action="append", type=Path, default=[])
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("driver", help="serve a Python target over the driver protocol (stdin/stdout)")
    p.add_argument("--target")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_driver)

    p = sub.add_parser("fuzz", help="differential stateful fuzzing against the reference (needs hypothesis)")
    _add_target_args(p)
    p.add_argument("--examples", type=int, default=100)
    p.add_argument("--steps", type=int, default=30, help="steps per example")
    p.add_argument("--random", action="store_true", help="explore randomly instead of the reproducible default")
    p.add_argument(
        "--tie-order",
        choices=("exact", "ties_as_sets"),
        default="exact",
        help="compare query results in exact order, or allow any order within equal scores (CMP-5)",
    )
    p.add_argument("--out", type=Path, help="folder for a counterexample vector (e.g. the regressions folder)")
    p.set_defaults(func=cmd_fuzz)

    p = sub.add_parser("table", help="markdown results table from JSON-lines reports")
    p.add_argument("reports", nargs="+", type=Path)
    p.add_argument("--update", type=Path, help="rewrite the table between the result markers of this file")
    p.set_defaults(func=cmd_table)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, ImportError, cases_mod.VectorError) as exc:
        print(f"moss-conformance: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head/tail: stop quietly
        sys.stdout = None  # type: ignore[assignment]
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
