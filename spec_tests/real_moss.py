"""The real ``moss`` SDK as a kit target, offline: :class:`RealMossTarget` (``--real-moss``).

It starts the loopback stand-in (:mod:`.standin`) in a child process, points the SDK's service URLs
at it (``MOSS_AUTH_URL``, ``MOSS_INDEX_URL``), gives the SDK a private home directory for its device
id and caches, and runs the protocol's operations through the SDK's async public API
(:class:`~.reference.MossApiTarget` with ``module="moss"``). Every case starts on an empty
stand-in. The SDK must be installed in the running interpreter (``pip install moss==1.21.0``);
moss_ref never imports it, only this kit target does.

The stand-in cannot yet serve a resume or a ``load_index`` (their answers are the service's, see
docs/wire-protocol.md), so cases that need them fail against the real SDK and are listed in the
committed expected-failure list with that reason.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Optional

from .reference import PROJECT_ID, PROJECT_KEY, WRONG_KEY, MossApiTarget
from .standin import SpawnedStandin, spawn

#: The SDK version the committed expected-failure list was observed with.
OBSERVED_VERSION = "1.21.0"


class RealMossTarget(MossApiTarget):
    """Run the vectors against the real SDK through a stand-in it starts itself.

    ``base_url``: use an already running service (``http://127.0.0.1:PORT``, e.g. ``moss-ref serve``)
    instead of starting a stand-in; ``project_id``/``project_key`` are then its credentials.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        project_id: str = PROJECT_ID,
        project_key: str = PROJECT_KEY,
        **kwargs: Any,
    ) -> None:
        self._home = tempfile.TemporaryDirectory(prefix="moss-sdk-home-")
        self._standin: Optional[SpawnedStandin] = None
        if base_url is None:
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

    @property
    def can_resume(self) -> bool:
        """The stand-in cannot serve a resume; a service named by ``base_url`` can."""
        return self._standin is None

    def hello(self) -> dict[str, Any]:
        out = super().hello()
        out["implementation"]["detail"] = "async public API, offline through the loopback stand-in"
        out["features"] = [f for f in out["features"] if f != "strict"]  # the SDK has no strict mode
        return out

    def start_case(self, name: str, features: Any) -> dict[str, Any]:
        self.end_case()
        if self._standin is not None:
            self._standin.reset()
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
        self._home.cleanup()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.close_environment()
