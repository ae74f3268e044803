"""The moss_ref pytest plugin (PLUG-1..PLUG-4), run inside pytester sessions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.ground_truth.gt_real import real_python

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


def test_the_plugin_is_registered_and_not_imported_by_moss_ref() -> None:
    """PLUG-1: entry point group pytest11; ``import moss_ref`` loads neither the plugin nor pytest."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"moss_ref": "moss_ref.testing.pytest_plugin"}
    assert not any("pytest" in dependency for dependency in project["dependencies"])
    program = "import sys, moss_ref; print(sorted(m for m in sys.modules if 'pytest' in m or 'testing' in m))"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_moss_service_serves_moss_ref_clients_and_sets_the_sdk_variables(pytester: pytest.Pytester) -> None:
    """PLUG-2: one service for the session, reached by moss_ref's HTTP store; the variables point at it."""
    pytester.makepyfile(
        test_service=textwrap.dedent(
            """
            import asyncio, os
            from moss_ref import DocumentInfo, MossClient, QueryOptions

            def test_env(moss_service):
                assert os.environ["MOSS_AUTH_URL"] == moss_service.url + "/auth" == moss_service.env["MOSS_AUTH_URL"]
                assert os.environ["MOSS_INDEX_URL"] == moss_service.url + "/index"
                assert os.environ["MOSS_PROJECT_ID"] == moss_service.project_id
                assert os.environ["MOSS_PROJECT_KEY"] == moss_service.project_key
                assert moss_service.url.startswith("http://127.0.0.1:")

            def test_http_store(moss_service):
                async def go():
                    client = MossClient(moss_service.project_id, moss_service.project_key, store=moss_service.url)
                    docs = [DocumentInfo("a", "x", embedding=[1.0, 0.0]), DocumentInfo("b", "y", embedding=[0.0, 1.0])]
                    await client.create_index("kb", docs, "custom")
                    await client.load_index("kb")
                    hits = await client.query("kb", "", QueryOptions(embedding=[0.1, 0.9], top_k=1))
                    return [d.id for d in hits.docs]
                assert asyncio.run(go()) == ["b"]

            def test_same_service_for_the_session(moss_service):
                async def go():
                    client = MossClient(moss_service.project_id, moss_service.project_key, store=moss_service.url)
                    return [i.name for i in await client.list_indexes()]
                assert asyncio.run(go()) == ["kb"]  # made by the test before: one service per session
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_moss_service_serves_the_real_sdk(pytester: pytest.Pytester) -> None:
    """PLUG-2: an unmodified moss program, in the real SDK's interpreter, uses the fixture's service."""
    pytester.makepyfile(
        test_real=textwrap.dedent(
            f"""
            import os, subprocess, json
            REAL = {real_python()!r}
            PROGRAM = '''
            import asyncio, json, os
            from moss import DocumentInfo, MossClient, QueryOptions
            async def main():
                client = MossClient(os.environ["MOSS_PROJECT_ID"], os.environ["MOSS_PROJECT_KEY"])
                session = await client.session("support", "custom")
                await session.add_docs([
                    DocumentInfo("refund", "Refunds reach your card.", embedding=[0.9, 0.1, 0.0]),
                    DocumentInfo("tomato", "Prune tomato suckers.", embedding=[0.0, 0.2, 0.9]),
                ])
                await session.push_index()
                await client.load_index("support")
                hits = await client.query("support", "money", QueryOptions(embedding=[1.0, 0.0, 0.0], top_k=1))
                print(json.dumps([d.id for d in hits.docs]))
            asyncio.run(main())
            '''

            def test_real_sdk(moss_service, tmp_path):
                env = {{k: v for k, v in os.environ.items() if not k.startswith("MOSS_")}}
                env.update(moss_service.env, HOME=str(tmp_path))
                done = subprocess.run([REAL, "-c", PROGRAM.replace("\\n            ", "\\n")], env=env,
                                      capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, done.stderr
                assert json.loads(done.stdout.strip().splitlines()[-1]) == ["refund"]
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_moss_ref_client_is_a_client_on_a_fresh_store(pytester: pytest.Pytester) -> None:
    """PLUG-3."""
    pytester.makepyfile(
        test_client=textwrap.dedent(
            """
            import asyncio
            from moss_ref import DocumentInfo, MossClient
            from moss_ref.stores.directory import DirectoryStore

            def test_one(moss_ref_client):
                assert isinstance(moss_ref_client, MossClient) and isinstance(moss_ref_client.store, DirectoryStore)
                async def go():
                    await moss_ref_client.create_index("kb", [DocumentInfo("a", "x", embedding=[1.0])], "custom")
                    return [i.name for i in await moss_ref_client.list_indexes()]
                assert asyncio.run(go()) == ["kb"]

            def test_two_is_fresh(moss_ref_client):
                assert asyncio.run(moss_ref_client.list_indexes()) == []
            """
        )
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


MOSS_STYLE_TEST = textwrap.dedent(
    """
    import asyncio, os
    import moss
    from moss import (DocumentInfo, GetDocumentsOptions, InvalidArgumentError, MossClient, MossError,
                      MutationOptions, ParentGrouping, QueryOptions, SearchResult)

    def test_written_for_moss():
        async def go():
            client = MossClient(os.environ["MOSS_PROJECT_ID"], os.environ["MOSS_PROJECT_KEY"])
            session = await client.session("support")
            await session.add_docs([DocumentInfo("refund", "Refunds reach your card in five days."),
                                    DocumentInfo("tomato", "Prune tomato suckers weekly.")],
                                   MutationOptions(upsert=True))
            result = await session.query("refunds card", QueryOptions(top_k=1))
            assert isinstance(result, SearchResult) and result.docs[0].id == "refund"
            assert [d.id for d in await session.get_docs(GetDocumentsOptions(doc_ids=["tomato"]))] == ["tomato"]
            try:
                await session.query("x", QueryOptions(alpha=float("nan")))
            except InvalidArgumentError as exc:
                assert isinstance(exc, MossError)
            else:
                raise AssertionError("expected InvalidArgumentError")
            await session.push_index()
            return ParentGrouping
        asyncio.run(go())
        assert moss.__name__ == "moss_ref"
        assert os.environ["MOSS_REF_STORE"]
    """
)


def test_the_moss_ref_option_runs_a_moss_suite_unchanged(pytester: pytest.Pytester) -> None:
    """PLUG-4: ``--moss-ref`` makes ``import moss`` give moss_ref, with a temporary store."""
    pytester.makepyfile(test_moss_style=MOSS_STYLE_TEST)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MOSS_REF_STORE", "MOSS_PROJECT_ID", "MOSS_PROJECT_KEY"):
            patch.delenv(name, raising=False)
        patch.setenv("MOSS_REF_EMBEDDER", "hash-v1")
        pytester.runpytest_subprocess("-p", "no:cacheprovider", "--moss-ref").assert_outcomes(passed=1)
        # without the option the suite needs the real moss package, which this interpreter does not have
        pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(errors=1)
        store = pytester.path / "named-store"
        pytester.runpytest_subprocess("-p", "no:cacheprovider", "--moss-ref", "--moss-ref-store", str(store))
        assert (store / "moss_ref-store.json").exists()
