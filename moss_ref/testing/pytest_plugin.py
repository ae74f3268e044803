"""The moss_ref pytest plugin (entry point group ``pytest11``, name ``moss_ref``).

Rules (docs/rules/cli.md):

* PLUG-1: installed with moss_ref, loaded by pytest through the ``pytest11`` entry point; never
  imported by ``import moss_ref``; pytest stays out of the core's dependencies;
* PLUG-2: ``moss_service`` (session scope) runs ``python -m moss_ref.server`` on a free loopback
  port with a temporary store and one provisioned project, sets ``MOSS_AUTH_URL``,
  ``MOSS_INDEX_URL``, ``MOSS_PROJECT_ID`` and ``MOSS_PROJECT_KEY`` for the session (restored
  afterwards), and yields a :class:`MossService` (``url``, ``project_id``, ``project_key``,
  ``env``, ``store``); the real ``moss`` SDK and moss_ref clients (``store=service.url``) both
  use it; the service stops when the session ends;
* PLUG-3: ``moss_ref_client`` (function scope) is a ``MossClient`` on a fresh directory store,
  closed after the test;
* PLUG-4: ``pytest --moss-ref`` runs a suite written for ``moss`` against moss_ref unchanged:
  before any test module is imported, ``sys.modules["moss"]`` becomes ``moss_ref`` (so ``import
  moss`` and ``from moss import MossClient, DocumentInfo, QueryOptions, MossError, ...`` give
  moss_ref's), ``MOSS_REF_STORE`` points at a temporary directory unless set (``--moss-ref-store
  DIR`` names one), and ``MOSS_PROJECT_ID``/``MOSS_PROJECT_KEY`` get test values unless set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

import moss_ref
from moss_ref import MossClient
from moss_ref.stores.directory import DirectoryStore
from moss_ref.stores.keys import new_key

__all__ = ["MossService", "install_moss_alias", "start_service"]

TEST_PROJECT = "moss-ref-test"


@dataclass(frozen=True)
class MossService:
    """A running ``moss-ref serve`` (PLUG-2)."""

    url: str
    project_id: str
    project_key: str
    store: Path
    env: dict[str, str] = field(default_factory=dict)
    process: Any = None

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth"

    @property
    def index_url(self) -> str:
        return f"{self.url}/index"


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


def start_service(store: Path, project_id: str = TEST_PROJECT, *args: str) -> MossService:
    """Provision ``project_id`` in ``store`` and start the service on a free loopback port."""
    key = new_key()
    DirectoryStore(store).register_project(project_id, key)
    log = open(store.parent / f"{store.name}-serve.log", "w", encoding="utf-8")
    argv = [sys.executable, "-m", "moss_ref.server", "--port", "0", "--store", str(store), "--quiet", *args]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    assert process.stdout is not None
    first = process.stdout.readline()
    if "listening on http://" not in first:
        process.kill()
        process.wait()
        raise RuntimeError(f"moss-ref serve did not start: {first!r}")
    threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
    url = first.strip().rsplit(" ", 1)[-1]
    env = {
        "MOSS_AUTH_URL": f"{url}/auth",
        "MOSS_INDEX_URL": f"{url}/index",
        "MOSS_PROJECT_ID": project_id,
        "MOSS_PROJECT_KEY": key,
    }
    return MossService(url, project_id, key, store, env, process)


def _stop(service: MossService) -> None:
    process = service.process
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def moss_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MossService]:
    """PLUG-2: the local Moss service for the whole session, with the real SDK's variables set."""
    service = start_service(tmp_path_factory.mktemp("moss-ref-service") / "store")
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in service.env.items():
                patch.setenv(name, value)
            yield service
    finally:
        _stop(service)


@pytest.fixture
def moss_ref_client(tmp_path: Path) -> Iterator[MossClient]:
    """PLUG-3: a ``MossClient`` on a fresh directory store, closed after the test."""
    client = MossClient(TEST_PROJECT, "moss-ref-test-key", store=str(tmp_path / "moss-ref-store"))
    try:
        yield client
    finally:
        client.close_sync()


def install_moss_alias() -> None:
    """PLUG-4: ``import moss`` gives moss_ref from now on."""
    sys.modules["moss"] = moss_ref


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("moss_ref", "moss_ref (the Moss reference implementation)")
    group.addoption(
        "--moss-ref",
        action="store_true",
        default=False,
        help="run tests written for the moss SDK against moss_ref: 'import moss' gives moss_ref",
    )
    group.addoption(
        "--moss-ref-store",
        metavar="DIR",
        default=None,
        help="with --moss-ref: the store directory (default: a temporary directory, removed afterwards)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--moss-ref"):
        return
    install_moss_alias()
    store = config.getoption("--moss-ref-store")
    if store is None and not os.environ.get("MOSS_REF_STORE"):
        store = tempfile.mkdtemp(prefix="moss-ref-pytest-")
        config.add_cleanup(lambda: shutil.rmtree(store, ignore_errors=True))
    if store is not None:
        os.environ["MOSS_REF_STORE"] = str(store)
    os.environ.setdefault("MOSS_PROJECT_ID", TEST_PROJECT)
    os.environ.setdefault("MOSS_PROJECT_KEY", "moss-ref-test-key")
