"""The real ``moss`` SDK as a kit target, offline: :class:`RealMossTarget` (``--real-moss``).

It starts a local Moss service in a child process, points the SDK's service URLs at it
(``MOSS_AUTH_URL``, ``MOSS_INDEX_URL``), gives the SDK a private home directory for its device id
and caches, and runs the protocol's operations through the SDK's async public API
(:class:`~.reference.MossApiTarget` with ``module="moss"``). Every case starts on an empty service.
The SDK must be installed in the running interpreter (``pip install moss==1.21.0``); moss_ref never
imports it, only this kit target does.

Which service (``service`` option): ``moss-ref serve`` (``python -m moss_ref.server``, when moss_ref
is installed beside the kit; the default, and what the committed expected-failure list assumes),
which answers everything the SDK sends, resume and ``load_index`` included; or the kit's own
loopback stand-in (:mod:`.standin`, standard library only, for kits installed without moss_ref),
which answers authentication, telemetry and push only, so cases that resume or load fail there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from typing import Any, Optional, Union

from .protocol import skip
from .python_values import has_tags
from .reference import PROJECT_ID, PROJECT_KEY, WRONG_KEY, MossApiTarget
from .standin import SpawnedStandin, spawn

#: The SDK version the committed expected-failure list was observed with.
OBSERVED_VERSION = "1.21.0"


class SpawnedService:
    """``moss-ref serve`` in a child process, on a free loopback port, over a temporary store.

    Started in test mode (``POST /_moss_ref/reset`` empties it) with first use allowed; the
    project's key is registered right away, so any other key is refused.
    """

    def __init__(self, project_id: str, project_key: str) -> None:
        self._store = tempfile.TemporaryDirectory(prefix="moss-ref-serve-")
        argv = [sys.executable, "-m", "moss_ref.server", "--port", "0", "--store", self._store.name]
        argv += ["--allow-first-use", "--test-mode", "--quiet", "--embedder", "hash-v1"]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on http://" not in line:
            self.stop()
            raise RuntimeError(f"moss-ref serve did not start: it printed {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self._post("/auth", {"projectId": project_id, "projectKey": project_key})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def reset(self) -> None:
        self._post("/_moss_ref/reset", {})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._store.cleanup()


def service_available() -> bool:
    """True when moss_ref (with its service) is importable beside the kit."""
    return importlib.util.find_spec("moss_ref") is not None and importlib.util.find_spec("moss_ref.server") is not None


class RealMossTarget(MossApiTarget):
    """Run the vectors against the real SDK through a service it starts itself.

    ``service``: ``"auto"`` (default) starts ``moss-ref serve`` when moss_ref is installed, else the
    kit's stand-in; ``True`` insists on ``moss-ref serve``; ``False`` uses the stand-in.
    ``base_url``: use an already running service (``http://127.0.0.1:PORT``) instead of starting
    one; ``project_id``/``project_key`` are then its credentials (cases are not reset).
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        project_id: str = PROJECT_ID,
        project_key: str = PROJECT_KEY,
        service: Union[bool, str] = "auto",
        **kwargs: Any,
    ) -> None:
        self._home = tempfile.TemporaryDirectory(prefix="moss-sdk-home-")
        self._standin: Optional[SpawnedStandin] = None
        self._service: Optional[SpawnedService] = None
        if service not in (True, False, "auto"):
            raise ValueError(f"service must be true, false or 'auto'; got {service!r}")
        if base_url is None:
            if service is True or (service == "auto" and service_available()):
                self._service = SpawnedService(project_id, project_key)
                base_url = self._service.base
            else:
                self._standin = spawn({project_id: project_key})
                base_url = self._standin.base
        self._saved_env = {k: os.environ.get(k) for k in ("MOSS_AUTH_URL", "MOSS_INDEX_URL", "HOME")}
        os.environ["MOSS_AUTH_URL"] = f"{base_url.rstrip('/')}/auth"
        os.environ["MOSS_INDEX_URL"] = f"{base_url.rstrip('/')}/index"
        os.environ["HOME"] = self._home.name  # the SDK keeps its device id and caches under ~/.moss
        self._credentials = {"default": project_key, "wrong_key": WRONG_KEY}
        self._project = project_id
        try:
            super().__init__(module="moss", **kwargs)
        except ImportError:
            self.close_environment()
            raise ImportError(
                "the real SDK is not installed in this interpreter: pip install moss==" + OBSERVED_VERSION
            ) from None

    #: Built-in models need a model download, which cannot happen offline (MODEL_UNAVAILABLE).
    builtin_models = False
    #: moss 1.21 pushes an index holding the empty id, but its decoder refuses that index when it
    #: resumes it from moss-ref serve (DESERIALIZATION); what the cloud does is unknown.
    empty_ids = False

    @property
    def can_resume(self) -> bool:
        """The stand-in cannot serve a resume; moss-ref serve (or a service named by ``base_url``) can."""
        return self._standin is None

    def hello(self) -> dict[str, Any]:
        out = super().hello()
        through = "the kit's loopback stand-in" if self._standin is not None else "moss-ref serve"
        out["implementation"]["detail"] = f"async public API, offline through {through}"
        # The SDK has no strict mode, its built-in models are not hash-v1 (KIT-8), and it has no
        # query explanation (KIT-9).
        out["features"] = [f for f in out["features"] if f not in ("strict", "hash_embedder", "explain")]
        return out

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if has_tags(args, "cycle"):
            # moss 1.21 recurses without end on a filter that contains itself: its process is
            # killed, the runner with it (KIT-10). Skip the step rather than lose the run.
            return skip("moss 1.21 does not survive a self-containing filter (its process is killed)")
        return super().step(op, args)

    def start_case(self, name: str, features: Any) -> dict[str, Any]:
        self.end_case()
        if self._standin is not None:
            self._standin.reset()
        if self._service is not None:
            self._service.reset()
        return {"result": {}}

    def client(self, credentials: str = "default") -> Any:
        found = self._clients.get(credentials)
        if found is None:
            key = self._credentials.get(credentials)
            if key is None:
                from .reference import BadRequest

                raise BadRequest(f"unknown credentials {credentials!r}")
            found = self._clients[credentials] = self._api.MossClient(self._project, key)
        return found

    def close_environment(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._standin is not None:
            self._standin.stop()
            self._standin = None
        if self._service is not None:
            self._service.stop()
            self._service = None
        self._home.cleanup()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.close_environment()
