"""Misbehaving targets for the driver tests: each misbehaves in exactly one case, then recovers.

Served by the reference driver (``--target conformance_targets:Flaky``) with this folder on
``PYTHONPATH``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from moss_ref_conformance.reference import ReferenceTarget


class Flaky(ReferenceTarget):
    """``crash_on`` / ``hang_on`` / ``chatter_on``: a case name whose first step exits the process,
    sleeps for an hour, or prints junk to stdout and stderr before answering."""

    def __init__(self, crash_on: str = "", hang_on: str = "", chatter_on: str = "", **options: Any) -> None:
        super().__init__(**options)
        self.crash_on, self.hang_on, self.chatter_on = crash_on, hang_on, chatter_on
        self.case = ""

    def start_case(self, name: str, features: Sequence[str]) -> dict[str, Any]:
        self.case = name
        return super().start_case(name, features)

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if self.case == self.crash_on:
            os._exit(3)
        if self.case == self.hang_on:
            time.sleep(3600)
        if self.case == self.chatter_on:
            print("this line is not protocol", flush=True)
            print("neither is this", file=sys.stderr, flush=True)
        return super().step(op, args)
