"""Shared test configuration.

Hypothesis profiles: ``ci`` (derandomized, bounded; chosen automatically when ``CI`` is set) and
``dev`` (deeper, random). Select one with ``HYPOTHESIS_PROFILE=dev``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

# The fp32 MiniLM graph (minilm-onnx-fp32) is built into a cache directory: keep the tests' copy out of
# the user's cache, one directory per test run (inherited by subprocesses), unless one is named.
if not os.environ.get("MOSS_REF_CACHE_DIR"):
    _cache = tempfile.mkdtemp(prefix="moss-ref-test-cache-")
    atexit.register(shutil.rmtree, _cache, True)
    os.environ["MOSS_REF_CACHE_DIR"] = _cache

#: Every behavioural session test runs against every vector backend x keyword backend combination
#: (tinydb's conftest pattern; KW-5): ``vector_backend`` depends on ``keyword_backend``, which
#: names the keyword backend in ``MOSS_REF_KEYWORD_BACKEND`` for the clients the test creates.
VECTOR_BACKENDS = ["python", "numpy"]
KEYWORD_BACKENDS = ["python", "numpy"]


@pytest.fixture(params=KEYWORD_BACKENDS)
def keyword_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MOSS_REF_KEYWORD_BACKEND", str(request.param))
    return str(request.param)


@pytest.fixture(params=VECTOR_BACKENDS)
def vector_backend(request: pytest.FixtureRequest, keyword_backend: str) -> str:
    return str(request.param)


#: Every behavioural test that involves text runs with every embedder serving ``moss-minilm``
#: (R-M-2): the stdlib hash embedder and every real all-MiniLM-L6-v2 path.
EMBEDDERS = ["hash-v1", "minilm-onnx-fp32", "minilm-onnx", "minilm-numpy"]


@pytest.fixture(params=EMBEDDERS)
def embedder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the wire protocol's route log (SRV-17) --------------------------------------------------------
#
# Every moss-ref serve process a test starts (directly, or through the conformance kit's
# --real-moss target) appends "METHOD TEMPLATE STATUS" to this file; the last test of the session
# (tests/test_wire_protocol_doc.py) checks every template against docs/wire-protocol.md.

ROUTE_LOG_ENV = "MOSS_REF_ROUTE_LOG"
LAST_TEST = "test_every_request_the_services_answered_during_the_suite_is_documented"


_CREATED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get(ROUTE_LOG_ENV):
        import tempfile

        fd, path = tempfile.mkstemp(prefix="moss-ref-routes-", suffix=".log")
        os.close(fd)
        os.environ[ROUTE_LOG_ENV] = path
        _CREATED.append(path)


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _CREATED:
        if os.path.exists(path):
            os.unlink(path)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The route-log check runs after everything else."""
    last = [item for item in items if item.name == LAST_TEST]
    items[:] = [item for item in items if item.name != LAST_TEST] + last
