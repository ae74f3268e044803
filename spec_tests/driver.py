"""The reference's own driver: any in-process target served over the JSON-lines protocol (DRV rules).

Run it as ``python -m moss_ref_conformance.driver`` (serves :class:`~.reference.ReferenceTarget`)
or ``python -m moss_ref_conformance.driver --target pkg.mod:factory --option key=value`` to serve
another Python target. It reads one request per line on stdin and writes one response per line on
stdout; anything the implementation prints goes to stderr, so stdout carries protocol lines only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import IO, Any

from .protocol import SUPPORTED_VERSIONS, failure, result
from .targets import Target, load_target, parse_options

DEFAULT_TARGET = "moss_ref_conformance.reference:ReferenceTarget"


def serve(target: Target, stdin: IO[str], stdout: IO[str]) -> int:
    """Answer requests until ``stop`` or end of input; returns the process exit status."""
    greeted = False

    def send(seq: Any, response: dict[str, Any]) -> None:
        try:
            line = json.dumps({"seq": seq, **response}, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            line = json.dumps({"seq": seq, **failure(f"response is not JSON: {exc}")})
        stdout.write(line + "\n")
        stdout.flush()

    for raw in stdin:
        if not raw.strip():
            continue
        try:
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                raise ValueError("a request must be a JSON object")
        except ValueError as exc:
            send(None, failure(f"bad request line: {exc}"))
            continue
        seq, cmd = msg.get("seq"), msg.get("cmd")
        try:
            if cmd == "hello":
                offered = msg.get("protocol_versions", [])
                common = sorted(set(offered) & set(SUPPORTED_VERSIONS))
                if not common:
                    send(
                        seq,
                        failure(
                            f"no common protocol version: runner offers {offered}, driver speaks "
                            f"{list(SUPPORTED_VERSIONS)}"
                        ),
                    )
                    continue
                info = dict(target.hello())
                info["protocol_version"] = common[-1]
                greeted = True
                send(seq, result(info))
            elif not greeted:
                send(seq, failure("the first request must be hello"))
            elif cmd == "start_case":
                send(seq, target.start_case(msg["case"], msg.get("features", [])))
            elif cmd == "step":
                send(seq, target.step(msg["op"], msg.get("args", {})))
            elif cmd == "end_case":
                target.end_case()
                send(seq, result({}))
            elif cmd == "stop":
                target.close()
                send(seq, result({}))
                return 0
            else:
                send(seq, failure(f"unknown cmd {cmd!r}"))
        except Exception:  # the driver's own bug: report it and keep serving
            send(seq, failure(f"{cmd} failed in the driver:\n{traceback.format_exc(limit=20)}"))
    target.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moss-conformance driver", description=__doc__)
    parser.add_argument("--target", default=DEFAULT_TARGET, help="module:factory of the target to serve")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="factory keyword")
    args = parser.parse_args(argv)
    # Keep the real stdout for protocol lines; send everything else the process prints to stderr.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", newline="\n")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), encoding="utf-8", newline="\n", closefd=False)
    target = load_target(args.target, parse_options(args.option))
    return serve(target, stdin, protocol_out)


if __name__ == "__main__":
    raise SystemExit(main())
