"""``moss-ref ls`` and ``moss-ref inspect NAME``: what a store holds, and the health of its files.

Rules (docs/rules/cli.md):

* CLI-9: ``ls`` lists the project's indexes by name: documents, model, embedder fingerprint
  (``backend:version/dimension/weights-sha256-prefix``), current version, versions kept on disk
  and size on disk (directory stores; ``-`` through a service); an index whose files cannot be
  read is listed as damaged, the others still listed;
* CLI-10: ``inspect`` shows one index in detail — ids, timestamps, dimension, the full
  fingerprint, every version on disk with its size — and checks each file of the current
  version (:mod:`._health`); a damaged file is named with what is wrong, and the exit status is
  then 1. Through a service the index is read whole instead, and a failure is reported as one
  line.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Optional

from .._protocols import EmbedderFingerprint
from ..stores.base import IndexSummary, Store
from ..stores.directory import DirectoryStore
from ..stores.format import POINTER, FormatError, IndexDirectory
from ._command import Command
from ._common import CliError, add_target_arguments, open_client
from ._health import check_files, directory_size, versions_on_disk

__all__ = ["INSPECT", "LS", "fingerprint_text", "human_size"]

LS_EPILOG = """\
examples:
  moss-ref ls
  moss-ref ls --store ./moss-data --json
"""
INSPECT_EPILOG = """\
examples:
  moss-ref inspect support            # details, versions on disk, and a check of every file
  moss-ref inspect support --json
"""


def fingerprint_text(fp: Optional[EmbedderFingerprint], dimension: Optional[int]) -> str:
    if fp is None:
        return f"custom/{dimension}" if dimension else "custom"
    sha = f"/{fp.weights_sha256[:12]}" if fp.weights_sha256 else ""
    return f"{fp.backend}:{fp.version}/{fp.dimension}{sha}"


def human_size(size: Optional[int]) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _row(summary: IndexSummary, directory: Optional[IndexDirectory]) -> dict[str, Any]:
    return {
        "name": summary.name,
        "doc_count": summary.doc_count,
        "model_id": summary.model_id,
        "embedder": fingerprint_text(summary.embedder, summary.dimension),
        "version": summary.version,
        "versions_on_disk": None if directory is None else len(versions_on_disk(directory)),
        "bytes": None if directory is None else directory_size(directory.path),
        "damaged": None,
    }


def _rows(store: Store, project: str) -> list[dict[str, Any]]:
    if not isinstance(store, DirectoryStore):
        return [_row(s, None) for s in store.list_indexes(project)]
    rows = []
    for directory in store.index_directories(project):
        try:
            summary = directory.read_summary()
        except (FormatError, OSError) as exc:
            rows.append(
                {
                    "name": os.path.basename(directory.path),
                    "doc_count": None,
                    "model_id": None,
                    "embedder": None,
                    "version": None,
                    "versions_on_disk": len(versions_on_disk(directory)),
                    "bytes": directory_size(directory.path),
                    "damaged": " ".join(str(exc).split()),
                }
            )
            continue
        if summary is not None:
            rows.append(_row(summary, directory))
    return sorted(rows, key=lambda r: str(r["name"]))


def _ls(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        rows = _rows(client._authenticated_store(), client.project_id)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print("no indexes")
        return 0
    header = ("NAME", "DOCS", "MODEL", "EMBEDDER", "VERSION", "KEPT", "SIZE")
    table = [header] + [
        (
            str(r["name"]),
            "-" if r["doc_count"] is None else str(r["doc_count"]),
            r["model_id"] or "-",
            r["embedder"] or f"DAMAGED: {r['damaged']}",
            r["version"] or "-",
            "-" if r["versions_on_disk"] is None else str(r["versions_on_disk"]),
            human_size(r["bytes"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0


def _inspect(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        store = client._authenticated_store()
        if isinstance(store, DirectoryStore):
            report = _inspect_directory(store.index_directory(client.project_id, args.name))
        else:
            report = _inspect_remote(store, client.project_id, args.name)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for key, value in report.items():
            if key == "files":
                print("files:")
                for f in value:
                    print(f"  {f['file']}: {f['detail'] if not f['ok'] else 'ok'}")
            elif key == "versions":
                print("versions on disk:")
                for v in value:
                    print(f"  {v['version']}  {human_size(v['bytes'])}{'  (current)' if v['current'] else ''}")
            else:
                print(f"{key}: {human_size(value) if key == 'bytes' else value}")
    damaged = [f for f in report.get("files", []) if not f["ok"]]
    if damaged:
        first = damaged[0]
        raise CliError(f"index {args.name!r} is damaged: {first['file']}: {first['detail']}")
    return 0


def _summary_fields(summary: IndexSummary) -> dict[str, Any]:
    fp = summary.embedder
    return {
        "name": summary.name,
        "index_id": summary.index_id,
        "doc_count": summary.doc_count,
        "model_id": summary.model_id,
        "dimension": summary.dimension,
        "embedder": fingerprint_text(fp, summary.dimension),
        "embedder_weights_sha256": "" if fp is None else fp.weights_sha256,
        "version": summary.version,
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
    }


def _inspect_directory(directory: IndexDirectory) -> dict[str, Any]:
    if not os.path.isdir(directory.path):
        raise CliError(f"no index named {directory.name!r} in this store")
    report: dict[str, Any] = {}
    try:
        summary = directory.read_summary()
    except (FormatError, OSError):
        summary = None  # the file check below names what is wrong
    if summary is not None:
        report.update(_summary_fields(summary))
    elif not os.path.lexists(os.path.join(directory.path, POINTER)):
        raise CliError(f"no index named {directory.name!r} in this store")
    current = summary.version if summary is not None else ""
    report["directory"] = directory.path
    report["bytes"] = directory_size(directory.path)
    report["versions"] = [
        {"version": v, "bytes": size, "current": v == current} for v, size in versions_on_disk(directory)
    ]
    report["files"] = [{"file": f.file, "ok": f.ok, "detail": f.detail} for f in check_files(directory)]
    return report


def _inspect_remote(store: Store, project: str, name: str) -> dict[str, Any]:
    summary = store.read_summary(project, name)
    if summary is None:
        raise CliError(f"no index named {name!r} in this store")
    report = _summary_fields(summary)
    report["store"] = repr(store)
    stored = store.read_index(project, name)  # a damaged index fails here with one line (CLI-2)
    report["files"] = [{"file": "(read through the service)", "ok": stored is not None, "detail": "ok"}]
    return report


def _add_ls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON array of indexes")
    add_target_arguments(parser, embedder=False)


def _add_inspect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the index to inspect")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    add_target_arguments(parser, embedder=False)


LS = Command("ls", "list indexes: documents, model, embedder, version, size on disk", _add_ls, _ls, epilog=LS_EPILOG)
INSPECT = Command(
    "inspect", "one index in detail, and the health of its files", _add_inspect, _inspect, epilog=INSPECT_EPILOG
)
