"""The core imports nothing outside the standard library (brief: dependencies)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_core_runs_with_third_party_imports_blocked() -> None:
    """Run a whole session in a child interpreter whose import system refuses non-stdlib modules."""
    program = textwrap.dedent(
        """
        import sys, asyncio
        BEFORE = set(sys.modules)  # what the interpreter and site loaded before our code ran
        STD = set(sys.stdlib_module_names) | {"moss_ref"}
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] not in STD:
                    raise ImportError(f"third-party import blocked: {name}")
                return None
        sys.meta_path.insert(0, Block())
        try:
            import numpy  # installed in the test environment: the blocker must refuse it
        except ImportError:
            pass
        else:
            raise SystemExit("the import blocker let numpy through")
        from moss_ref import MossClient, DocumentInfo, QueryOptions
        from moss_ref.stores.memory import MemoryStore
        async def main():
            c = MossClient("p", "k", store=MemoryStore(), embedder="auto", vector_backend="auto")
            s = await c.session("kb")
            await s.add_docs([DocumentInfo("a", "refund policy", {"t": "billing"}), DocumentInfo("b", "tomatoes")])
            r = await s.query("refund", QueryOptions(top_k=1, filter={"field": "t", "condition": {"$eq": "billing"}}))
            assert [d.id for d in r.docs] == ["a"], r
            await s.push_index()
        asyncio.run(main())
        # the service and its HTTP store are standard library only too (SRV-1)
        from moss_ref.server import MossService, ServiceConfig, make_server, serve_in_thread
        from moss_ref.stores.directory import DirectoryStore
        import tempfile
        server = make_server(MossService(DirectoryStore(tempfile.mkdtemp()), ServiceConfig(allow_first_use=True,
                                                                                            embedder="auto")))
        stop = serve_in_thread(server)
        async def over_http():
            c = MossClient("p", "k", store=f"http://127.0.0.1:{server.port}", embedder="auto", vector_backend="auto")
            await c.create_index("t", [DocumentInfo("a", "refund policy"), DocumentInfo("b", "tomatoes")])
            await c.load_index("t")
            assert [d.id for d in (await c.query("t", "refund", QueryOptions(top_k=1))).docs] == ["a"]
        asyncio.run(over_http())
        stop()
        loaded = sorted(m for m in set(sys.modules) - BEFORE if m.split(".")[0] not in STD)
        print("NONSTD", loaded)
        """
    )
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", program], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "NONSTD []" in out.stdout
