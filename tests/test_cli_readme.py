"""The README's "Command line" section runs as written (CLI-13).

Each ``moss-ref`` line of the section's code block runs in a fresh directory holding the demo
data at the path the README names. ``serve`` runs until it has printed that it is listening, with
``--port 0`` added so the test never collides with a service already on port 7700.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def section_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_section_shows_index_explain_ls_and_serve() -> None:
    commands = section_commands()
    assert [c[:2] for c in commands] == [
        ["moss-ref", "index"],
        ["moss-ref", "query"],
        ["moss-ref", "ls"],
        ["moss-ref", "serve"],
    ]
    assert "--explain" in commands[1]


def test_the_readme_commands_run_as_written(tmp_path: Path) -> None:
    (tmp_path / "moss_ref" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "moss_ref" / "data" / "demo.jsonl", tmp_path / "moss_ref" / "data" / "demo.jsonl")
    env = {**os.environ, "MOSS_REF_EMBEDDER": "hash-v1", "PYTHONPATH": str(ROOT)}
    env.pop("MOSS_REF_STORE", None)
    outputs = []
    for command in section_commands():
        argv = [sys.executable, "-m", "moss_ref.cli", *command[1:]]
        if command[1] == "serve":
            argv += ["--port", "0"]
            process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
            try:
                assert process.stdout is not None
                assert "listening on http://127.0.0.1:" in process.stdout.readline()
            finally:
                process.terminate()
                process.wait(timeout=30)
            continue
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout)
    indexed, explained, listed = outputs
    assert indexed.startswith("demo: 5 added")
    assert "refund-policy" in explained and "fused:" in explained and "'card': tf 1" in explained
    assert listed.splitlines()[1].split()[:3] == ["demo", "5", "moss-minilm"]
