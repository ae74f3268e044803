"""The README's moss-ref serve walkthrough runs as written (SRV-2): an unmodified moss app, offline.

The commands and the app are read from the README section itself: the store path becomes a
temporary directory, the port a free one, the key the one ``projects add`` printed. The app runs
in the real SDK's interpreter, in its own process; then a moss_ref client reads what it pushed.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
from pathlib import Path

from gt_real import real_python, sdk_environment
from service_proc import start

from moss_ref import MossClient

README = Path(__file__).resolve().parents[2] / "README.md"
TITLE = "## A local Moss service for apps that use the real SDK: `moss-ref serve`"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    assert TITLE in text
    return text.split(TITLE, 1)[1].split("\n## ", 1)[0]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), re.DOTALL)


def test_the_readme_service_walkthrough_runs(tmp_path: Path) -> None:
    setup, run_app = blocks("sh")
    (app,) = blocks("python")
    commands = [line.split("#", 1)[0].strip() for line in setup.splitlines()]
    add = next(shlex.split(c) for c in commands if c.startswith("moss-ref projects add"))
    serve = next(shlex.split(c) for c in commands if c.startswith("moss-ref serve"))
    store = tmp_path / "moss-data"
    add = [str(store) if a == "./moss-data" else a for a in add]
    done = subprocess.run([sys.executable, "-m", "moss_ref.cli", *add[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    project = add[3]
    assert serve[1:] == ["serve", "--store", "./moss-data"]  # the README's serve line, as the test runs it
    with start(store) as service:
        env: dict[str, str] = {}
        for line in run_app.splitlines():
            if line.startswith("export "):
                for pair in shlex.split(line.replace("<the key printed above>", "KEY"))[1:]:
                    name, _, value = pair.partition("=")
                    env[name] = value.replace("7700", str(service.port)).replace("KEY", key)
        assert set(env) == {"MOSS_AUTH_URL", "MOSS_INDEX_URL", "MOSS_PROJECT_ID", "MOSS_PROJECT_KEY"}
        assert env["MOSS_PROJECT_ID"] == project
        (tmp_path / "app.py").write_text(app, encoding="utf-8")
        assert "python app.py" in run_app
        ran = subprocess.run(
            [real_python(), "app.py"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=sdk_environment(env, env["MOSS_PROJECT_ID"], env["MOSS_PROJECT_KEY"]),
        )
        assert ran.returncode == 0, ran.stderr
        promised = re.search(r"print\(.*\)\s+# (.+)", app)
        assert promised is not None and ran.stdout.strip().splitlines()[-1] == promised.group(1).strip()

        async def moss_ref_client() -> list[str]:
            async with MossClient(project, key, store=service.base) as client:
                return [d.id for d in await (await client.session("support")).get_docs()]

        assert asyncio.run(moss_ref_client()) == ["refund", "tomato"]
