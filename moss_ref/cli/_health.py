"""The health of an index directory's files, file by file (CLI-10).

Each file of the current version is checked the way a reader checks it — ``CURRENT`` parsed, the
manifest against the SHA-256 in ``CURRENT``, ``documents.jsonl``, ``vectors.f32`` and (format
version 2) ``keywords.u32`` against the sizes and SHA-256 in the manifest and parsed — and
reported ``ok`` or with what is wrong, so a damaged file is named instead of failing the whole
command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from ..stores.format import (
    DOCUMENTS,
    KEYWORDS,
    MANIFEST,
    POINTER,
    VECTORS,
    VERSIONS,
    FormatError,
    IndexDirectory,
    Manifest,
    read_documents,
    read_keywords,
    read_vectors,
)

__all__ = ["FileHealth", "check_files", "directory_size", "versions_on_disk"]


@dataclass(frozen=True)
class FileHealth:
    file: str  # path relative to the index directory
    ok: bool
    detail: str  # "ok", or what is wrong


def _check(results: list[FileHealth], file: str, problem: Optional[str]) -> bool:
    results.append(FileHealth(file, problem is None, problem or "ok"))
    return problem is None


def _problem(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing"
    return " ".join(str(exc).split()) or type(exc).__name__


def check_files(directory: IndexDirectory) -> list[FileHealth]:
    """``CURRENT``, then the current version's manifest, documents, vectors and terms (CLI-10)."""
    results: list[FileHealth] = []
    try:
        pointer = directory.read_pointer()
    except (FormatError, OSError) as exc:
        _check(results, POINTER, _problem(exc))
        return results
    if pointer is None:
        _check(results, POINTER, "missing: the index has no current version")
        return results
    _check(results, POINTER, None)
    folder = os.path.join(VERSIONS, pointer.version)
    manifest: Optional[Manifest] = None
    try:
        manifest = directory._manifest(pointer)
    except (FormatError, OSError) as exc:
        _check(results, os.path.join(folder, MANIFEST), _problem(exc))
        return results
    _check(results, os.path.join(folder, MANIFEST), None)
    base = os.path.join(directory.path, folder)
    try:
        read_documents(os.path.join(base, DOCUMENTS), manifest.documents, manifest.doc_count)
        _check(results, os.path.join(folder, DOCUMENTS), None)
    except (FormatError, OSError) as exc:
        _check(results, os.path.join(folder, DOCUMENTS), _problem(exc))
    try:
        read_vectors(os.path.join(base, VECTORS), manifest.vectors)
        _check(results, os.path.join(folder, VECTORS), None)
    except (FormatError, OSError) as exc:
        _check(results, os.path.join(folder, VECTORS), _problem(exc))
    if manifest.keywords is not None:
        try:
            read_keywords(os.path.join(base, KEYWORDS), manifest.keywords, manifest.doc_count, manifest.terms_version)
            _check(results, os.path.join(folder, KEYWORDS), None)
        except (FormatError, OSError) as exc:
            _check(results, os.path.join(folder, KEYWORDS), _problem(exc))
    return results


def directory_size(path: str) -> int:
    """Bytes of every file under ``path`` (0 when it is gone)."""
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def versions_on_disk(directory: IndexDirectory) -> list[tuple[str, int]]:
    """``(version, bytes)`` of every version kept on disk, oldest first."""
    return [(v, directory_size(os.path.join(directory.path, VERSIONS, v))) for v in directory._versions()]
