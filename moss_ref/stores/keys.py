"""Project keys are kept only as salted, slow hashes, compared in constant time (R-ST-2).

A successful verification is remembered for the life of the process as an HMAC of the key under
the stored hash (memory only, never written), so a client does not pay the slow hash on every
call; a wrong key always pays it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

_ITERATIONS = 100_000
_SCHEME = "pbkdf2-sha256"


def new_key() -> str:
    """A fresh project key: 256 random bits, URL-safe base64, never starting with ``-``.

    A key is typed on command lines (``moss-ref index --key KEY``), where argparse takes a value
    that starts with ``-`` for an option and refuses it: one plain key in 64 would fail so.
    """
    while True:
        key = secrets.token_urlsafe(32)
        if not key.startswith("-"):
            return key


def hash_key(project_key: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    """``pbkdf2-sha256$<iterations>$<salt hex>$<digest hex>``."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", project_key.encode("utf-8", "surrogatepass"), salt, iterations)
    return f"{_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


_verified: set[bytes] = set()


def _memo(project_key: str, stored: str) -> bytes:
    return hmac.new(stored.encode(), project_key.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def verify_key(project_key: str, stored: str) -> bool:
    """True when ``project_key`` hashes to ``stored``; malformed ``stored`` never verifies."""
    memo = _memo(project_key, stored)
    if memo in _verified:
        return True
    if _slow_verify(project_key, stored):
        _verified.add(memo)
        return True
    return False


def _slow_verify(project_key: str, stored: str) -> bool:
    try:
        scheme, iterations, salt_hex, digest_hex = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = bytes.fromhex(digest_hex)
        digest = hashlib.pbkdf2_hmac(
            "sha256", project_key.encode("utf-8", "surrogatepass"), bytes.fromhex(salt_hex), int(iterations)
        )
    except (ValueError, OverflowError):
        return False
    return hmac.compare_digest(digest, expected)
