"""The ``moss-ref`` command line: ``projects add`` / ``list`` and ``serve`` (SRV-1..SRV-4)."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from service_proc import Http, add_project, start

from moss_ref.cli import COMMANDS, Command, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss_ref.cli", *args], capture_output=True, text=True, timeout=60)


def test_projects_add_prints_a_generated_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    """SRV-3: the key is printed on stdout, alone, once; an existing project keeps its key."""
    store = tmp_path / "store"
    first = cli("projects", "add", "shop", "--store", str(store))
    assert first.returncode == 0 and len(first.stdout.splitlines()) == 1
    key = first.stdout.strip()
    assert len(key) >= 43 and "shown only now" in first.stderr and key not in first.stderr
    again = cli("projects", "add", "shop", "--store", str(store))
    assert again.returncode == 1 and again.stdout == "" and "already exists" in again.stderr
    assert cli("projects", "add", "other", "--store", str(store)).stdout.strip() != key  # random per project
    assert cli("projects", "list", "--store", str(store)).stdout.splitlines() == ["other", "shop"]
    stored = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    assert key.encode() not in stored and b"pbkdf2-sha256$100000$" in stored


def test_generated_keys_never_start_with_a_dash_so_key_options_parse() -> None:
    """SRV-3: a key is typed as ``--key KEY``, which argparse refuses when KEY starts with ``-``;
    ``new_key`` draws again then (one plain draw in 64 would), and keeps 256 random bits."""
    from unittest import mock

    from moss_ref.stores import keys

    draws = iter(["-starts-with-a-dash", "-again", "plain" + "A" * 38])
    with mock.patch.object(keys.secrets, "token_urlsafe", lambda n: next(draws)):
        assert keys.new_key() == "plain" + "A" * 38
    fresh = {keys.new_key() for _ in range(2000)}
    assert len(fresh) == 2000 and all(len(k) == 43 and not k.startswith("-") for k in fresh)


def test_serve_binds_loopback_and_admits_only_provisioned_projects(tmp_path: Path) -> None:
    """SRV-1, SRV-2, SRV-4: 127.0.0.1 by default; without --allow-first-use only added projects get tokens."""
    store = tmp_path / "store"
    key = add_project(store, "shop")
    with start(store) as service:
        assert service.banner[0] == f"moss-ref serve: listening on http://127.0.0.1:{service.port}"
        assert f"  export MOSS_INDEX_URL=http://127.0.0.1:{service.port}/index" in service.banner
        http = Http(service.port)
        assert http.post("/auth", {"projectId": "shop", "projectKey": key})[0] == 200
        assert http.post("/auth", {"projectId": "stranger", "projectKey": "anything"})[0] == 401
        assert http.post("/auth", {"projectId": "shop", "projectKey": key + "x"})[0] == 401
        outside = _non_loopback_address()
        if outside is not None:
            with pytest.raises(OSError):
                socket.create_connection((outside, service.port), timeout=2).close()
        assert key not in service.log()
    assert service.process.returncode == 0  # SIGTERM stops it cleanly


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_serve_with_first_use_and_a_warning_off_loopback(tmp_path: Path) -> None:
    with start(tmp_path / "store", "--host", "0.0.0.0", allow_first_use=True) as service:
        http = Http(service.port)
        assert http.post("/auth", {"projectId": "new", "projectKey": "k"})[0] == 200
        assert http.post("/auth", {"projectId": "new", "projectKey": "other"})[0] == 401
        assert "not a loopback address" in service.log()
    refused = cli("serve", "--store", "http://127.0.0.1:1")
    assert refused.returncode == 2 and "not a URL" in refused.stderr


def test_the_command_registry_is_easy_to_extend(capsys: pytest.CaptureFixture[str]) -> None:
    """Later subcommands (index, query, ls, ...) are one Command each in moss_ref/cli/."""
    assert [c.name for c in COMMANDS] == ["index", "query", "ls", "inspect", "export", "import", "serve", "projects"]

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("word")

    def run(args: argparse.Namespace) -> int:
        print(json.dumps({"echo": args.word}))
        return 3

    parser = build_parser((*COMMANDS, Command("echo", "say a word", add, run)))
    args = parser.parse_args(["echo", "hi"])
    assert args.run(args) == 3 and json.loads(capsys.readouterr().out) == {"echo": "hi"}
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "serve" in capsys.readouterr().out


def test_the_console_script_is_declared() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["moss-ref"] == "moss_ref.cli:main"


def test_sigint_stops_the_service(tmp_path: Path) -> None:
    service = start(tmp_path / "store", allow_first_use=True)
    service.process.send_signal(signal.SIGINT)
    assert service.process.wait(timeout=10) == 0
