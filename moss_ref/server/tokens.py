"""Bearer tokens and presigned-URL capabilities: random, expiring, bound to what they grant.

A token is ``secrets.token_urlsafe(32)`` (256 random bits) bound to one project; a capability (the
secret part of a presigned download or upload URL) is the same kind of string bound to one
version of one index, or to one pending upload. Only the SHA-256 of each string is kept, in
memory: a restart forgets every token (the SDK then authenticates again: a 401 makes it fetch a
new token and retry once) and every pending upload.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Optional, TypeVar

__all__ = ["Grants", "new_secret"]

T = TypeVar("T")


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class Grants(Generic[T]):
    """secret → value, each for ``ttl`` seconds; at most ``limit`` live grants (oldest dropped)."""

    def __init__(self, ttl: float, limit: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.limit = limit
        self._clock = clock
        self._items: OrderedDict[bytes, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, value: T, ttl: Optional[float] = None) -> str:
        """A new secret granting ``value``."""
        secret = new_secret()
        now = self._clock()
        with self._lock:
            self._purge(now)
            self._items[_digest(secret)] = (now + (self.ttl if ttl is None else ttl), value)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return secret

    def get(self, secret: str) -> Optional[T]:
        """What ``secret`` grants, or None when it is unknown or expired."""
        key = _digest(secret)
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            expires, value = found
            if self._clock() >= expires:
                del self._items[key]
                return None
            return value

    def revoke(self, secret: str) -> None:
        with self._lock:
            self._items.pop(_digest(secret), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _purge(self, now: float) -> None:
        """Drop expired grants from the old end (kept in issue order; the limit bounds the rest)."""
        while self._items:
            expires, _ = next(iter(self._items.values()))
            if expires > now:
                break
            self._items.popitem(last=False)
