"""Progress of a long command on standard error (CLI-4).

On a terminal: one bar redrawn in place, ``[#####.....] 1200/5000  340/s  ETA 11s``; otherwise
(a pipe, a CI log) a plain line at most every ``interval`` seconds and at the end,
``moss-ref index: 1200/5000 records (24%), 340/s, ETA 11s``. Nothing goes to standard output.
"""

from __future__ import annotations

import time
from typing import Optional, TextIO

__all__ = ["Progress", "eta_text"]

WIDTH = 30


def eta_text(seconds: Optional[float]) -> str:
    """``11s``, ``3m05s``, ``1h02m``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class Progress:
    """Counts ``done`` of ``total`` things; :meth:`update` redraws when it is time."""

    def __init__(self, label: str, total: int, stream: TextIO, *, interval: float = 2.0) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.interval = interval
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.done = 0
        self.started = time.monotonic()
        self._last = -float("inf")
        self._shown = -1  # the count of the last plain line

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = left / rate if rate > 0 else (0.0 if left <= 0 else None)
        share = self.done / self.total if self.total else 1.0
        if self.tty:
            filled = int(WIDTH * share)
            bar = "#" * filled + "." * (WIDTH - filled)
            return f"[{bar}] {self.done}/{self.total}  {rate:.0f}/s  ETA {eta_text(eta)}"
        return f"{self.label}: {self.done}/{self.total} records ({share:.0%}), {rate:.0f}/s, ETA {eta_text(eta)}"

    def update(self, done: int, *, final: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if self.tty:
            if final or now - self._last >= 0.1:
                self.stream.write("\r" + self.line() + ("\n" if final else ""))
                self.stream.flush()
                self._last = now
        elif (final and self._shown != done) or now - self._last >= self.interval:
            self._shown = done
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last = now
