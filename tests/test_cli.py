"""The ``moss-ref`` index-level subcommands (CLI-1..CLI-12 in docs/rules/cli.md)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moss_ref.cli import COMMANDS, build_parser, main
from moss_ref.cli._inputs import CsvColumns, read_inputs
from moss_ref.cli._progress import Progress, eta_text
from moss_ref.cli.index import index_items
from moss_ref.stores.directory import DirectoryStore

DOCS = [
    {"id": "refund", "text": "Refunds reach your card in five days.", "metadata": {"topic": "billing"}},
    {"id": "tomato", "text": "Prune tomato suckers weekly.", "metadata": {"topic": "garden"}},
    {
        "id": "invoice",
        "text": "Download a copy of your invoice from the billing page.",
        "metadata": {"topic": "billing"},
    },
]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    store = tmp_path / "store"
    monkeypatch.setenv("MOSS_REF_STORE", str(store))
    monkeypatch.setenv("MOSS_REF_EMBEDDER", "hash-v1")
    monkeypatch.setenv("MOSS_REF_VECTOR_BACKEND", "python")
    for name in ("MOSS_PROJECT_ID", "MOSS_PROJECT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write_jsonl(path: Path, docs: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def stored_ids(tmp_path: Path, name: str) -> list[str]:
    index = DirectoryStore(tmp_path / "store").read_index("default", name)
    return [] if index is None else [r.id for r in index.records]


# -- CLI-2: help and errors -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_subcommand_help_shows_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "example" in out and f"moss-ref {command}" in out.split("example", 1)[1]


def test_usage_errors_are_one_line_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["index"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and "NAME" in err


def test_failures_are_one_line_with_status_1_and_no_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "query", "nothing-here", "text")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("moss-ref query: ") and "nothing-here" in err
    status, _, err = run(capsys, "index", "kb", "missing.jsonl")
    assert status == 2 and err.strip() == "moss-ref index: missing.jsonl: no such file or folder"
    status, _, err = run(capsys, "query", "kb", "x", "--filter", "{not json")
    assert status == 2 and "--filter is not valid JSON" in err


def test_the_console_script_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "moss_ref.cli", "inspect", "nothing"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "moss-ref inspect: no index named 'nothing' in this store"


# -- CLI-3: inputs ------------------------------------------------------------------------------------


def test_index_reads_json_lines_json_arrays_csv_and_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "a.jsonl", DOCS[:1])
    (tmp_path / "b.json").write_text(json.dumps(DOCS[1:2], indent=2), encoding="utf-8")
    (tmp_path / "c.csv").write_text('qid,answer,topic\ninvoice,"Download, then print.",billing\n', encoding="utf-8")
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "one.md").write_text("# Title\n\nFirst paragraph.\n\nSecond paragraph.", encoding="utf-8")
    (notes / "sub" / "two.txt").write_text("x" * 30, encoding="utf-8")
    (notes / "skip.bin").write_text("ignored", encoding="utf-8")
    status, out, err = run(
        capsys,
        "index", "kb", "a.jsonl", "b.json", "c.csv", "notes",
        "--id-column", "qid", "--text-column", "answer", "--metadata-columns", "topic", "--chunk-size", "20",
    )  # fmt: skip
    assert status == 0, err
    assert stored_ids(tmp_path, "kb") == [
        "refund", "tomato", "invoice", "one.md#0", "one.md#1", "one.md#2", "sub/two.txt#0", "sub/two.txt#1",
    ]  # fmt: skip
    index = DirectoryStore(tmp_path / "store").read_index("default", "kb")
    assert index is not None
    by_id = {r.id: r for r in index.records}
    assert by_id["invoice"].metadata == {"topic": "billing"} and by_id["invoice"].text == "Download, then print."
    assert by_id["one.md#1"].metadata == {"parentId": "one.md"} and by_id["one.md#1"].text == "First paragraph."
    assert "8 added" in out


def test_no_chunking_keeps_one_document_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("alpha\n\nbeta", encoding="utf-8")
    assert run(capsys, "index", "kb", "notes", "--no-chunking")[0] == 0
    assert stored_ids(tmp_path, "kb") == ["a.txt"]


# -- CLI-5, CLI-6: batches, bad records, resuming -------------------------------------------------------


def test_a_bad_record_is_named_by_file_and_line_and_its_batch_is_not_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.dumps({"id": f"d{i}", "text": f"document {i}"}) for i in range(7)]
    lines[4] = '{"id": "d4"}'  # line 5: no text
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, _, err = run(capsys, "index", "kb", "d.jsonl", "--batch-size", "3")
    assert status == 1
    assert err.strip().splitlines()[-1] == 'moss-ref index: d.jsonl:5: missing field "text"'
    assert stored_ids(tmp_path, "kb") == ["d0", "d1", "d2"]  # the batch d3..d5 holds the bad line: none of it
    lines[4] = json.dumps({"id": "d4", "text": "document 4"})
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, out, err = run(capsys, "index", "kb", "d.jsonl", "--batch-size", "3")
    assert status == 0, err
    assert "4 added, 0 updated, 3 unchanged" in out
    assert stored_ids(tmp_path, "kb") == [f"d{i}" for i in range(7)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[\n  {"id": "a", "text": "x"},\n  {"id": 1.5, "text": "y"}\n]', 'b.json:3: "id" must be a string or an'),
        ('[\n  {"id": "a", "text": "x"}\n  {"id": "b"}\n]', "b.json:3: expected ',' or ']'"),
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": 3}\n', 'b.json:2: "text" must be a string'),
        ('{"id": "a", "text": "x", "metadata": [1]}\n', "b.json:1: metadata must be a dict"),
        ('{"id": "a", "text": "x"\n', "b.json:1: EOF while parsing an object"),
    ],
)
def test_bad_json_records_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "b.json").write_text(content, encoding="utf-8")
    status, _, err = run(capsys, "index", "kb", "b.json")
    assert status == 1 and err.startswith(f"moss-ref index: {message}"), err
    assert stored_ids(tmp_path, "kb") == []


def test_bad_csv_rows_and_custom_vectors_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.csv").write_text('id,text,vec\na,x,"[1, 0]"\nb,y,"[1, 0, 0]"\n', encoding="utf-8")
    status, _, err = run(capsys, "index", "kb", "c.csv", "--embedding-column", "vec")
    assert status == 1 and err.strip() == "moss-ref index: c.csv:3: the embedding of 'b' has 3 values; the index has 2"
    status, _, err = run(capsys, "index", "kb", "c.csv", "--id-column", "key")
    assert status == 2 and "c.csv:1: no column 'key'" in err


def test_changed_records_are_updated_and_unchanged_ones_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(tmp_path / "d.jsonl", DOCS)
    assert run(capsys, "index", "kb", "d.jsonl")[0] == 0
    version = DirectoryStore(tmp_path / "store").read_summary("default", "kb")
    assert run(capsys, "index", "kb", "d.jsonl")[1].startswith("kb: 0 added, 0 updated, 3 unchanged")
    assert DirectoryStore(tmp_path / "store").read_summary("default", "kb") == version  # nothing written
    changed = [dict(DOCS[0], metadata={"topic": "money"}), *DOCS[1:]]
    write_jsonl(tmp_path / "d.jsonl", changed)
    assert run(capsys, "index", "kb", "d.jsonl")[1].startswith("kb: 0 added, 1 updated, 2 unchanged")


def test_custom_embeddings_choose_the_custom_model_and_resume_by_vector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [{"id": "a", "text": "x", "embedding": [0.1, 0.2]}, {"id": "b", "text": "y", "embedding": [0.3, 0.4]}]
    write_jsonl(tmp_path / "v.jsonl", docs)
    status, out, _ = run(capsys, "index", "vecs", "v.jsonl")
    assert status == 0 and "model custom" in out
    assert "2 unchanged" in run(capsys, "index", "vecs", "v.jsonl")[1]  # float32-rounded vectors compare equal
    docs[1]["embedding"] = [0.3, 0.5]
    write_jsonl(tmp_path / "v.jsonl", docs)
    assert "1 updated, 1 unchanged" in run(capsys, "index", "vecs", "v.jsonl")[1]
    status, _, err = run(capsys, "index", "vecs", "v.jsonl", "--model", "moss-minilm")
    assert status == 1 and "uses model 'custom'" in err


def test_an_interrupted_run_keeps_whole_batches_and_the_rerun_finishes(tmp_path: Path) -> None:
    """KeyboardInterrupt in the middle of the third batch: two batches stored whole, the re-run adds the rest."""
    from moss_ref import MossClient

    docs = [{"id": f"d{i}", "text": f"text {i}"} for i in range(10)]
    write_jsonl(tmp_path / "d.jsonl", docs)
    items = list(read_inputs([str(tmp_path / "d.jsonl")], CsvColumns(), None))
    client = MossClient("default", "moss-ref-local", store=str(tmp_path / "store"))
    original = client.add_docs
    calls = 0

    async def interrupted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    client.add_docs = interrupted  # type: ignore[method-assign]
    progress = Progress("t", len(items), io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        index_items(client, "kb", items, model=None, batch_size=3, progress=progress)
    assert stored_ids(tmp_path, "kb") == ["d0", "d1", "d2", "d3", "d4", "d5"]
    client.add_docs = original  # type: ignore[method-assign]
    report = index_items(client, "kb", items, model=None, batch_size=3, progress=progress)
    assert (report.added, report.unchanged) == (4, 6)
    assert stored_ids(tmp_path, "kb") == [f"d{i}" for i in range(10)]


# -- CLI-4: progress ------------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise() -> None:
    tty = _Tty()
    bar = Progress("moss-ref index", 10, tty)
    bar.update(5)
    bar.update(10, final=True)
    text = tty.getvalue()
    assert text.startswith("\r[") and "5/10" in text and "/s" in text and "ETA" in text and text.endswith("\n")
    assert "#" * 30 in text.rsplit("\r", 1)[1]
    plain = io.StringIO()
    lines = Progress("moss-ref index", 10, plain, interval=3600)
    for done in range(1, 11):
        lines.update(done)
    lines.update(10, final=True)
    shown = plain.getvalue().splitlines()
    assert shown[0].startswith("moss-ref index: 1/10 records (10%)") and "ETA" in shown[0]
    assert shown[-1].startswith("moss-ref index: 10/10 records (100%)") and len(shown) == 2
    assert "\r" not in plain.getvalue()
    assert [eta_text(x) for x in (None, 4.4, 185, 3720)] == ["?", "4s", "3m05s", "1h02m"]


def test_index_writes_progress_to_stderr_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "d.jsonl", DOCS)
    _, out, err = run(capsys, "index", "kb", "d.jsonl")
    assert "records" in err and "3/3" in err and "records" not in out
    _, _, err = run(capsys, "index", "kb2", "d.jsonl", "--quiet")
    assert err == ""


# -- CLI-8: query ---------------------------------------------------------------------------------------


def test_query_prints_a_table_json_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "d.jsonl", DOCS)
    run(capsys, "index", "kb", "d.jsonl")
    status, out, _ = run(capsys, "query", "kb", "card refunds", "--top-k", "2")
    assert status == 0
    rows = out.splitlines()
    assert rows[0].split() == ["#", "score", "id", "text"] and rows[1].split()[2] == "refund" and len(rows) == 3
    status, out, _ = run(capsys, "query", "kb", "card refunds", "--json", "--alpha", "0.5")
    result = json.loads(out)
    assert sorted(result) == ["docs", "index_name", "model_id", "query", "time_taken_ms"]
    assert result["docs"][0]["id"] == "refund" and result["index_name"] == "kb"
    garden = '{"field": "topic", "condition": {"$eq": "garden"}}'
    filtered = json.loads(run(capsys, "query", "kb", "card", "--json", "--filter", garden)[1])
    assert [d["id"] for d in filtered["docs"]] == ["tomato"]
    status, out, _ = run(capsys, "query", "kb", "card refunds", "--explain", "--top-k", "2")
    assert "hybrid ranking, alpha 0.8" in out and "'card': tf 1" in out and "fused:   0.8/(30+1) + 0.2/(30+1)" in out
    assert "above #2 by fused score" in out
    explained = json.loads(run(capsys, "query", "kb", "card refunds", "--explain", "--json")[1])
    assert [h["id"] for h in explained["explain"]["hits"]] == [d["id"] for d in explained["docs"]]


def test_query_a_custom_index_with_an_embedding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = [{"id": "a", "text": "x", "embedding": [1, 0]}, {"id": "b", "text": "y", "embedding": [0, 1]}]
    write_jsonl(tmp_path / "v.jsonl", docs)
    run(capsys, "index", "vecs", "v.jsonl")
    out = run(capsys, "query", "vecs", "", "--embedding", "[0.1, 0.9]", "--json")[1]
    assert [d["id"] for d in json.loads(out)["docs"]] == ["b", "a"]


# -- CLI-9, CLI-10: ls and inspect ------------------------------------------------------------------------


def test_ls_lists_counts_models_fingerprints_versions_and_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "ls")[1].strip() == "no indexes"
    write_jsonl(tmp_path / "d.jsonl", DOCS)
    run(capsys, "index", "kb", "d.jsonl")
    out = run(capsys, "ls")[1]
    header, row = out.splitlines()
    assert header.split() == ["NAME", "DOCS", "MODEL", "EMBEDDER", "VERSION", "KEPT", "SIZE"]
    assert row.split()[:4] == ["kb", "3", "moss-minilm", "hash-v1:1/384"] and row.endswith("KiB")
    [entry] = json.loads(run(capsys, "ls", "--json")[1])
    assert entry["doc_count"] == 3 and entry["bytes"] > 3 * 384 * 4 and entry["versions_on_disk"] == 1


def test_inspect_names_a_damaged_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "d.jsonl", DOCS)
    run(capsys, "index", "kb", "d.jsonl")
    status, out, err = run(capsys, "inspect", "kb")
    assert status == 0 and err == "" and "vectors.f32: ok" in out and "embedder: hash-v1:1/384" in out
    report = json.loads(run(capsys, "inspect", "kb", "--json")[1])
    assert [f["ok"] for f in report["files"]] == [True, True, True, True, True]
    assert report["files"][4]["file"].endswith("keywords.u32")
    vectors = Path(report["directory"]) / report["files"][3]["file"]
    data = bytearray(vectors.read_bytes())
    data[5] ^= 0xFF
    vectors.write_bytes(bytes(data))
    status, out, err = run(capsys, "inspect", "kb")
    assert status == 1 and "Traceback" not in out + err
    assert "vectors.f32: vectors.f32 does not match its SHA-256 in the manifest" in out
    assert err.startswith("moss-ref inspect: index 'kb' is damaged: versions/") and "vectors.f32" in err
    status, out, _ = run(capsys, "ls")
    assert status == 0 and "kb" in out  # the summary (manifest) is intact: ls still lists it
    (Path(report["directory"]) / "CURRENT").write_text("{", encoding="utf-8")
    status, out, _ = run(capsys, "ls")
    assert status == 0 and "DAMAGED" in out
    status, out, err = run(capsys, "inspect", "kb")
    assert status == 1 and "CURRENT:" in out and "is damaged: CURRENT" in err


# -- CLI-11, CLI-12: export and import --------------------------------------------------------------------


def test_export_import_round_trips_exactly_with_custom_embeddings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = [
        {"id": "b", "text": "x", "metadata": {"k": "v"}, "payload": '{"n": 1}', "embedding": [0.1, 0.2, 0.30000001]},
        {"id": "a", "text": "ü y", "embedding": [-1e-30, 3.4e38, 0]},
    ]
    write_jsonl(tmp_path / "v.jsonl", docs)
    run(capsys, "index", "vecs", "v.jsonl")
    first = run(capsys, "export", "vecs")[1]
    assert json.loads(first.splitlines()[0]) == {
        "moss_ref_export": 1, "name": "vecs", "model_id": "custom", "dimension": 3, "doc_count": 2,
    }  # fmt: skip
    assert [json.loads(line)["id"] for line in first.splitlines()[1:]] == ["b", "a"]  # index order
    (tmp_path / "e.jsonl").write_text(first, encoding="utf-8")
    monkeypatch.setenv("MOSS_REF_STORE", str(tmp_path / "other"))
    assert run(capsys, "import", "e.jsonl")[0] == 0
    assert run(capsys, "export", "vecs")[1] == first
    status, _, err = run(capsys, "import", "e.jsonl")
    assert status == 1 and "already exists" in err
    assert run(capsys, "import", "e.jsonl", "--replace")[0] == 0
    assert run(capsys, "import", "e.jsonl", "--name", "copy")[0] == 0
    copy = run(capsys, "export", "copy", "-o", str(tmp_path / "c.jsonl"))
    assert copy[0] == 0 and (tmp_path / "c.jsonl").read_text().splitlines()[1:] == first.splitlines()[1:]


def test_import_reports_a_bad_line_and_stores_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "e.jsonl").write_text(
        '{"moss_ref_export": 1, "name": "kb", "model_id": "moss-minilm", "dimension": 384, "doc_count": 2}\n'
        '{"id": "a", "text": "x"}\n{"id": "b"}\n',
        encoding="utf-8",
    )
    status, _, err = run(capsys, "import", "e.jsonl")
    assert status == 1 and err.strip() == 'moss-ref import: e.jsonl:3: missing field "text"'
    assert stored_ids(tmp_path, "kb") == []
    (tmp_path / "x.jsonl").write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    status, _, err = run(capsys, "import", "x.jsonl")
    assert status == 1 and "x.jsonl:1: not a moss-ref export" in err


# -- CLI-1: where the indexes are ----------------------------------------------------------------------------


def test_store_service_project_and_key_choose_the_indexes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "d.jsonl", DOCS)
    assert run(capsys, "index", "kb", "d.jsonl", "--store", str(tmp_path / "elsewhere"), "--project", "p2")[0] == 0
    assert DirectoryStore(tmp_path / "elsewhere").read_summary("p2", "kb") is not None
    status, _, err = run(capsys, "ls", "--store", str(tmp_path / "elsewhere"), "--project", "p2", "--key", "wrong")
    assert status == 1 and "credentials were rejected" in err
    status, _, err = run(capsys, "ls", "--store", "x", "--service", "http://127.0.0.1:1")
    assert status == 2 and "not both" in err
    assert build_parser().parse_args(["ls", "--service", "http://h:1"]).service == "http://h:1"


def test_index_and_query_through_a_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.service_proc import add_project, start

    key = add_project(tmp_path / "svc", "app")
    with start(tmp_path / "svc") as service:
        write_jsonl(tmp_path / "d.jsonl", DOCS)
        target = ["--service", service.base, "--project", "app", "--key", key]
        assert run(capsys, "index", "kb", "d.jsonl", *target)[0] == 0
        out = run(capsys, "query", "kb", "card refunds", "--json", *target)[1]
        assert json.loads(out)["docs"][0]["id"] == "refund"
        status, out, _ = run(capsys, "ls", *target)
        assert status == 0 and out.splitlines()[1].split()[:3] == ["kb", "3", "moss-minilm"]
        status, out, _ = run(capsys, "inspect", "kb", *target)
        assert status == 0 and "(read through the service): ok" in out
        assert run(capsys, "export", "kb", *target)[1].count("\n") == 4


def test_read_inputs_yields_every_record_bad_ones_as_errors(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "text": "x"}\n\n{"id": "b"}\n{"id": "c", "text": "z"}\n')
    items = list(read_inputs([os.fspath(tmp_path / "d.jsonl")], CsvColumns(), None))
    assert [(i.where.rsplit(":", 1)[1], i.doc is not None) for i in items] == [("1", True), ("3", False), ("4", True)]
