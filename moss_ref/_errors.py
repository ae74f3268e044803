"""Exception tree of moss_ref, shaped like the real ``moss`` package (R-E-1, E-1..E-6).

::

    RuntimeError
     └── MossError                 code in E-2, fixed public str per kind, .detail = specifics
          └── InvalidArgumentError (also a ValueError; code is always "INVALID_ARGUMENT")
               └── InvalidArgumentTypeError (also a TypeError: where the real SDK raises TypeError)

Plain ``ValueError``/``TypeError``/``RuntimeError``/``TimeoutError`` are raised exactly where the
real SDK raises them (model mismatch on resume, missing custom embeddings, closed client, ...).

Messages are specific: where moss puts a fixed public text in ``str()`` and the specifics in
``detail``, moss_ref does the same; every other error names what was wrong and what is accepted.
"""

from __future__ import annotations

from typing import Final

INVALID_ARGUMENT: Final = "INVALID_ARGUMENT"
NOT_FOUND: Final = "NOT_FOUND"
UNAUTHORIZED: Final = "UNAUTHORIZED"
NETWORK: Final = "NETWORK"
DESERIALIZATION: Final = "DESERIALIZATION"
MODEL_UNAVAILABLE: Final = "MODEL_UNAVAILABLE"
INTERNAL: Final = "INTERNAL"

ERROR_CODES: Final = frozenset(
    {INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, NETWORK, DESERIALIZATION, MODEL_UNAVAILABLE, INTERNAL}
)


class MossError(RuntimeError):
    """A Moss failure. ``code`` is one of :data:`ERROR_CODES` (or None when built directly)."""

    def __init__(self, message: str = "", code: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


class InvalidArgumentError(MossError, ValueError):
    """An argument was rejected. Always ``code == "INVALID_ARGUMENT"``; also a ``ValueError``."""

    def __init__(self, message: str = "", detail: str | None = None) -> None:
        super().__init__(message, INVALID_ARGUMENT, detail)


class NotADocumentError(InvalidArgumentError, AttributeError):
    """An ``add_docs`` item that is not a document.

    moss 1.21 fails on such an item with a bare ``AttributeError`` (``'str' object has no
    attribute 'id'``); moss_ref names the position and what is accepted, with a class that is
    both, so code written for either catches it.
    """


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument of the wrong type, where moss 1.21's binding raises a plain ``TypeError``.

    (A filter of the wrong shape, ``delete_docs("a")``, ``get_docs("junk")``, a ``doc_ids`` item
    that is not a ``str``...: FLT-24, DOC-15.) It is an InvalidArgumentError (code
    ``INVALID_ARGUMENT``) and a ``TypeError``, so both ``except InvalidArgumentError`` and
    ``except TypeError`` written for ``moss`` catch it.
    """


def invalid_type(message: str) -> InvalidArgumentTypeError:
    """An InvalidArgumentTypeError whose str and detail both carry the specific message."""
    return InvalidArgumentTypeError(message, detail=message)


def invalid(message: str) -> InvalidArgumentError:
    """An InvalidArgumentError whose str and detail both carry the specific message."""
    return InvalidArgumentError(message, detail=message)


def query_invalid(message: str) -> InvalidArgumentError:
    """A query-path InvalidArgumentError (E-4: fixed str, detail prefixed ``Query error: ``).

    The specific text is kept in ``str()`` as well, so the error is readable without ``detail``.
    """
    return InvalidArgumentError(f"The query has an invalid argument. {message}", detail=f"Query error: {message}")


def request_invalid(message: str) -> InvalidArgumentError:
    """A manage-path InvalidArgumentError (E-4: detail prefixed ``Invalid argument: ``)."""
    return InvalidArgumentError(
        f"The request has an invalid argument. {message}", detail=f"Invalid argument: {message}"
    )


def not_found(message: str, detail: str | None = None) -> MossError:
    return MossError(message, NOT_FOUND, detail)


def unauthorized(detail: str) -> MossError:
    return MossError("The project credentials were rejected.", UNAUTHORIZED, detail)


def deserialization(detail: str, public: str = "The index data could not be decoded.") -> MossError:
    return MossError(f"{public} {detail}", DESERIALIZATION, detail)


def model_unavailable(detail: str) -> MossError:
    return MossError(f"The embedding model is unavailable. {detail}", MODEL_UNAVAILABLE, detail)


def internal(detail: str) -> MossError:
    return MossError(f"An internal error occurred. {detail}", INTERNAL, detail)
