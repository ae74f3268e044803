"""Stateful differential fuzzing: the reference and a target in lockstep (needs ``hypothesis``).

A ``RuleBasedStateMachine`` drives both through random sessions over a small world (five ids,
3-dim custom vectors with deliberate duplicates, a few words, two metadata fields): adds with
duplicates, bad input and every upsert mode, deletes of known and unknown ids, get_docs with ids,
filters and sort_by, filtered hybrid queries with min_score and candidate_depth, push, resume in a
fresh session (with matching, mismatching or no model id, with and without auto-load), close, and
steps on a closed session. Every step's two responses go through the same comparator as the fixed
vectors (:func:`~.compare.compare`, with the reference's response as the expectation, tie order
exact). On the first difference the machine fails; hypothesis shrinks the program, and the shrunk
program is returned as a vector in the fixed format, ready for ``vectors/regressions/``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from .cases import REGRESSIONS, pretty_json
from .compare import compare, expectation_from
from .protocol import QUERY_OPS, response_kind
from .python_values import has_tags
from .targets import InProcess, Target

INDEX = "kb"
IDS = ("a", "b", "c", "d", "e", "f")
#: Repeated vectors make exact ties common, the 1e-7 nudges near ties; [-1, 0, 0] gives negative
#: similarities.
VECTORS = (
    [1, 0, 0],
    [1, 0, 0],
    [0, 1, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 1, 0],
    [0.5, 0.5, 0],
    [-1, 0, 0],
    [0.2, 0.9, 0.1],
    [1, 1e-7, 0],
    [0.6, 0.8, 0],
    [0.8, 0.6, 0],
)
#: Texts share common words ("the", "cat", "dog"), so BM25's idf, term frequency and length
#: normalisation, and hence fusion, all matter; a few carry case and punctuation.
WORDS = (
    "the cat sat on the mat",
    "the dog sat",
    "a cat and a dog",
    "the the the cat",
    "dog",
    "Cat, DOG! mat?",
    "apple banana",
    "banana banana cherry",
    "cherry apple apple",
    "the apple",
    "",
    "date",
)
#: Some query words are metadata words ("red", "color", "p1"): metadata is part of the keyword document (QRY-17).
QUERY_TEXTS = (
    "the cat",
    "dog",
    "sat mat",
    "the",
    "apple banana",
    "",
    "  ",
    "zebra",
    "CAT!",
    "the dog sat on a mat",
    "red cat",
    "blue",
    "color",
    "p1 dog",
)
COLORS = ("red", "blue")
NUMBERS = ("1", "2", "10", "x", "-3", "2.5")
PARENTS = ("p1", "p2")
PLACES = ("40.7580,-73.9855", "40.6892,-74.0445", "48.8566,2.3522", "nowhere")
_ABSENT: Any = object()


def py_tuple(items: list[Any]) -> dict[str, Any]:
    """A ``{"$py": "tuple"}`` tag (KIT-10)."""
    return {"$py": "tuple", "value": list(items)}


def _field_filter(fld: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": fld, "condition": {op: value}}


#: Every operator, with values of every accepted type, at the equality boundaries of the data.
FILTERS = (
    _field_filter("color", "$eq", "red"),
    _field_filter("color", "$ne", "red"),
    _field_filter("color", "$nin", ["blue"]),
    _field_filter("color", "$in", ["red", "blue"]),
    _field_filter("n", "$gt", "1"),
    _field_filter("n", "$gte", 2),
    _field_filter("n", "$lt", 10),
    _field_filter("n", "$lte", 2),
    _field_filter("n", "$lte", "2.5"),
    _field_filter("n", "$gt", -3.0),
    _field_filter("n", "$in", [1, 10]),
    _field_filter("n", "$ne", "x"),
    _field_filter("n", "$eq", 2),
    _field_filter("loc", "$near", "40.7580,-73.9855,10000"),
    {"$and": [_field_filter("color", "$eq", "red"), _field_filter("n", "$gte", "2")]},
    {"$or": [_field_filter("color", "$eq", "blue"), _field_filter("n", "$nin", ["1"])]},
    {
        "$and": [
            {"$or": [_field_filter("n", "$lt", 2), _field_filter("color", "$eq", "blue")]},
            _field_filter("parent", "$eq", "p1"),
        ]
    },
    {"$or": []},
    _field_filter("color", "$eq", True),
    {"field": "color"},
)
GROUPINGS = ({"parent_field": "parent", "order_field": "order"}, {"parent_field": "color", "order_field": "n"})

ids_ = st.sampled_from(IDS)
_EXTRA_FIELDS = {
    "parent": st.sampled_from(PARENTS),
    "order": st.sampled_from(NUMBERS[:3]),
    "loc": st.sampled_from(PLACES),
}
#: Most documents carry the two filtered fields, so filters usually split a session in two.
metadata_ = st.one_of(
    st.none(),
    st.just({}),
    st.fixed_dictionaries(
        {}, optional={"color": st.sampled_from(COLORS), "n": st.sampled_from(NUMBERS), **_EXTRA_FIELDS}
    ),
    *[st.fixed_dictionaries({"color": st.sampled_from(COLORS), "n": st.sampled_from(NUMBERS)}, optional=_EXTRA_FIELDS)]
    * 3,
)
vector_ = st.sampled_from(VECTORS).map(list)
#: Bad input, drawn rarely so that most batches are valid and sessions grow.
BAD_EMBEDDINGS = ([1, 0], [], None, [0, 0, 0])


def _doc(doc_id: str, text: str, md: Any, emb: Any, payload: Any) -> dict[str, Any]:
    raw = {"id": doc_id, "text": text, "metadata": md, "embedding": emb, "payload": payload}
    return {k: v for k, v in raw.items() if v is not _ABSENT}


valid_doc_ = st.builds(
    _doc,
    ids_,
    st.sampled_from(WORDS),
    st.one_of(metadata_, st.just(_ABSENT)),
    vector_,
    st.sampled_from((_ABSENT, None, "p", "q")),
)
doc_ = st.builds(
    _doc,
    st.sampled_from(IDS * 4 + ("",)),
    st.sampled_from(WORDS),
    st.one_of(metadata_, st.just(_ABSENT)),
    st.sampled_from(tuple(VECTORS) * 4 + BAD_EMBEDDINGS).map(lambda v: None if v is None else list(v)),
    st.sampled_from((_ABSENT, None, "p", "q")),
)


@dataclass
class FuzzReport:
    """The outcome of a fuzzing run: a counterexample vector case, or None."""

    counterexample: Optional[dict[str, Any]] = None
    message: str = ""
    target: str = ""
    examples: int = 0
    problems: list[str] = field(default_factory=list)
    sessions: int = 0
    steps: int = 0

    def counts(self) -> str:
        """How much ran: the line CI prints (GT-4)."""
        return f"{self.sessions} sessions, {self.steps} steps"

    def case_name(self) -> str:
        assert self.counterexample is not None
        digest = hashlib.sha256(json.dumps(self.counterexample["steps"], sort_keys=True).encode()).hexdigest()[:10]
        return f"fuzz_{digest}"

    def vector_file(self) -> dict[str, Any]:
        """The counterexample as a one-case vector file for the regressions folder."""
        assert self.counterexample is not None
        ops = {s["op"] for s in self.counterexample["steps"]}
        features = ["documents"]
        for feature, needs in (
            ("query", {"query"}),
            ("get_docs", {"get_docs"}),
            ("persistence", {"push_index"}),
            ("session", {"close_session"}),
            ("explain", {"explain_query"}),
        ):
            if needs & ops:
                features.append(feature)
        if any(has_tags(s.get("args", {})) or "assign" in s.get("args", {}) for s in self.counterexample["steps"]):
            features.append("python_values")
        if any(
            isinstance(s.get("args"), dict) and s["args"].get("filter") is not None
            for s in self.counterexample["steps"]
        ):
            features.append("filters")
        opened = [s for s in self.counterexample["steps"] if s["op"] == "open_session"]
        if any(
            s["args"].get("model_id") not in (None, "custom")
            or s["expect"].get("result", {}).get("model_id", "custom") != "custom"
            for s in opened
        ):
            features += ["text_embedding", "hash_embedder"]  # the reference's built-in models embed with hash-v1
        first = self.problems[0] if self.problems else ""
        return {
            "group": f"{REGRESSIONS}.{self.case_name()}",
            "description": f"Shrunk differential-fuzzing counterexample ({self.target}): {first}"[:400],
            "level": "recommended",
            "features": features,
            "cases": [
                {
                    "name": "program",
                    "description": "Each expectation is the reference's response; the target differed at the last.",
                    "rules": [],
                    "steps": self.counterexample["steps"],
                }
            ],
        }

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.case_name()}.json"
        path.write_text(pretty_json(self.vector_file()) + "\n", encoding="utf-8")
        return path


class _Found(AssertionError):
    pass


class DifferentialMachine(RuleBasedStateMachine):
    """Drive ``reference`` and ``target`` in lockstep; subclasses set the two targets."""

    reference: Target
    target: Target
    error_kinds: bool = True
    record: dict[str, Any] = {}  # noqa: RUF012 - per-subclass, reset by fuzz()
    counts: dict[str, int] = {}  # noqa: RUF012 - per-subclass: sessions and steps run
    order: str = "exact"  # how query results are compared: "exact", or "ties_as_sets"
    can_resume: bool = True  # whether the target can resume a pushed index
    builtin_models: bool = True  # whether the target can open built-in-model sessions (it may not offline)
    empty_ids: bool = True  # whether an index holding the empty id can be pushed and resumed
    explain: bool = False  # whether both targets declare the explain feature (explain_query, KIT-9)
    python_values: bool = False  # whether both targets declare python_values ({"$py": ...} tags, KIT-10)

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, Any]] = []
        self.closed = False
        self.pushed = False
        type(self).counts["sessions"] = type(self).counts.get("sessions", 0) + 1
        for t in (self.reference, self.target):
            response = t.start_case("fuzz", ["documents"])
            if response_kind(response) != "result":
                raise RuntimeError(f"start_case failed: {response}")

    def teardown(self) -> None:
        for t in (self.reference, self.target):
            t.end_case()

    def do(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run one step on both targets and compare; return the reference's response."""
        want = self.reference.step(op, args)
        if response_kind(want) not in ("result", "error"):
            raise RuntimeError(f"the reference did not answer {op} {args}: {want}")
        got = self.target.step(op, args)
        type(self).counts["steps"] = type(self).counts.get("steps", 0) + 1
        expect = expectation_from(want, order=self.order)
        if op not in QUERY_OPS:
            expect.pop("order", None)
        step: dict[str, Any] = {"op": op}
        if args:
            step["args"] = args
        step["expect"] = expect
        self.steps.append(step)
        problems = compare(op, expect, got, error_kinds=self.error_kinds)
        if problems:
            type(self).record.update(steps=[dict(s) for s in self.steps], problems=problems)
            raise _Found(f"step {len(self.steps) - 1}: " + "; ".join(problems))
        return want

    @initialize(docs=st.lists(valid_doc_, min_size=0, max_size=5), fresh=st.booleans())
    def open_first(self, docs: list[dict[str, Any]], fresh: bool) -> None:
        """Open a custom session (auto-loading or not) and usually give it a few documents."""
        args: dict[str, Any] = {"index": INDEX, "model_id": "custom"}
        if fresh:
            args["auto_load_on_init"] = False
        self.do("open_session", args)
        if docs:
            self.do("add_docs", {"docs": docs})

    def _add(self, docs: list[dict[str, Any]], upsert: Any) -> None:
        if not self.empty_ids:
            docs = [{**d, "id": "f"} if d.get("id") == "" else d for d in docs]
        args: dict[str, Any] = {"docs": docs}
        if upsert is not _ABSENT:
            args["upsert"] = upsert
        self.do("add_docs", args)

    # add_docs is the rule most others need, so it appears under three names (hypothesis picks
    # uniformly among rules): sessions grow large enough for top_k cuts, ties and deletes to matter.
    @rule(docs=st.lists(doc_, min_size=1, max_size=4), upsert=st.sampled_from([_ABSENT, True, False, None]))
    def add_docs(self, docs: list[dict[str, Any]], upsert: Any) -> None:
        self._add(docs, upsert)

    @rule(docs=st.lists(valid_doc_, min_size=0, max_size=3), upsert=st.sampled_from([_ABSENT, False]))
    def add_more_docs(self, docs: list[dict[str, Any]], upsert: Any) -> None:
        self._add(docs, upsert)

    @rule(docs=st.lists(valid_doc_, min_size=1, max_size=3))
    def add_even_more_docs(self, docs: list[dict[str, Any]]) -> None:
        self._add(docs, _ABSENT)

    @rule(ids=st.lists(st.one_of(ids_, st.just("zz")), max_size=4))
    def delete_docs(self, ids: list[str]) -> None:
        self.do("delete_docs", {"ids": ids})

    @rule(
        doc_ids=st.one_of(st.just(_ABSENT), st.lists(st.one_of(ids_, st.just("zz")), max_size=4)),
        flt=st.one_of(st.just(_ABSENT), st.sampled_from(FILTERS)),
        sort_by=st.sampled_from([_ABSENT, _ABSENT, "n", "color", "order"]),
        ascending=st.sampled_from([_ABSENT, True, False]),
        group_by=st.sampled_from([_ABSENT, _ABSENT, _ABSENT, *GROUPINGS]),
    )
    def get_docs(self, doc_ids: Any, flt: Any, sort_by: Any, ascending: Any, group_by: Any) -> None:
        options = {"doc_ids": doc_ids, "filter": flt, "sort_by": sort_by, "ascending": ascending, "group_by": group_by}
        args = {k: v for k, v in options.items() if v is not _ABSENT}
        self.do("get_docs", args)

    @rule(flt=st.one_of(st.just(_ABSENT), st.sampled_from(FILTERS[:14])))
    def list_docs(self, flt: Any) -> None:
        """get_docs with no ids, sort or grouping: the default order (by id), optionally filtered."""
        self.do("get_docs", {} if flt is _ABSENT else {"filter": flt})

    def _query(
        self,
        text: str,
        embedding: Any,
        top_k: Any,
        alpha: Any,
        flt: Any,
        min_score: Any,
        depth: Any,
        group_by: Any = _ABSENT,
    ) -> None:
        args = {"query": text}
        for key, value in (
            ("embedding", embedding),
            ("top_k", top_k),
            ("alpha", alpha),
            ("filter", flt),
            ("min_score", min_score),
            ("candidate_depth", depth),
            ("group_by", group_by),
        ):
            if value is not _ABSENT:
                args[key] = value
        self.do("query", args)

    @rule(
        text=st.sampled_from(QUERY_TEXTS),
        embedding=st.one_of(st.sampled_from(VECTORS).map(list), st.sampled_from((_ABSENT, [0, 0, 0], [1, 0]))),
        top_k=st.sampled_from((_ABSENT, 0, 1, 2, 3, 5, 100)),
        alpha=st.sampled_from((_ABSENT, 0.0, 0.25, 0.5, 0.8, 1.0, 1.5, -0.5)),
        flt=st.one_of(st.just(_ABSENT), st.sampled_from(FILTERS)),
        min_score=st.sampled_from((_ABSENT, _ABSENT, 0.0, 0.5, 0.9)),
        depth=st.sampled_from((_ABSENT, _ABSENT, 1, 3, 50)),
        group_by=st.sampled_from((_ABSENT, _ABSENT, _ABSENT, *GROUPINGS)),
    )
    def query(
        self, text: str, embedding: Any, top_k: Any, alpha: Any, flt: Any, min_score: Any, depth: Any, group_by: Any
    ) -> None:
        self._query(text, embedding, top_k, alpha, flt, min_score, depth, group_by)

    @rule(
        text=st.sampled_from(QUERY_TEXTS[:5]),
        embedding=st.sampled_from(VECTORS).map(list),
        top_k=st.sampled_from((1, 2, 3)),
        alpha=st.sampled_from((_ABSENT, 0.0, 0.5, 1.0, 1.0)),
        flt=st.one_of(st.just(_ABSENT), st.sampled_from(FILTERS[:14]), st.sampled_from(FILTERS[:14])),
    )
    def ranked_query(self, text: str, embedding: Any, top_k: Any, alpha: Any, flt: Any) -> None:
        """A well-formed query with a small top_k: where cuts, ties, BM25 and filters interact."""
        self._query(text, embedding, top_k, alpha, flt, _ABSENT, _ABSENT)

    @precondition(lambda self: self.explain and not self.closed)
    @rule(
        text=st.sampled_from([t for t in QUERY_TEXTS if t.strip() and t != "the"]),  # texts with terms
        embedding=st.sampled_from(VECTORS).map(list),
        top_k=st.sampled_from((1, 2, 3, 5)),
        alpha=st.sampled_from((_ABSENT, 0.0, 0.0, 0.5, 1.0, 1.5)),
        flt=st.one_of(st.just(_ABSENT), st.sampled_from(FILTERS[:14])),
    )
    def explain_query(self, text: str, embedding: Any, top_k: Any, alpha: Any, flt: Any) -> None:
        """The numbers behind a ranking (KIT-9): df, idf, lengths, avgdl, fused parts."""
        args: dict[str, Any] = {"query": text, "embedding": embedding, "top_k": top_k}
        if alpha is not _ABSENT:
            args["alpha"] = alpha
        if flt is not _ABSENT:
            args["filter"] = flt
        want = self.do("explain_query", args)
        if "embedding length" in str(want.get("error", {}).get("message", "")):  # a built-in model: embed the text
            self.do("explain_query", {k: v for k, v in args.items() if k != "embedding"})

    @precondition(lambda self: self.python_values)
    @rule(
        docs=st.lists(
            st.tuples(ids_, st.sampled_from(WORDS), st.booleans(), st.booleans(), vector_, st.booleans()),
            min_size=1,
            max_size=4,
        ),
        metadata=st.sampled_from(({"color": "red", "n": "2"}, {"color": "blue"}, {"n": "10", "parent": "p1"})),
    )
    def add_python_docs(self, docs: list[tuple[Any, ...]], metadata: dict[str, str]) -> None:
        """Documents whose metadata keys and/or values are str subclasses, some with tuple embeddings (KIT-10)."""
        batch = []
        for doc_id, text, keys, values, emb, as_tuple in docs:
            tag = {"$py": "str_metadata", "value": metadata, "keys": keys, "values": values}
            batch.append({"id": doc_id, "text": text, "metadata": tag, "embedding": py_tuple(emb) if as_tuple else emb})
        self.do("add_docs", {"docs": batch})

    @precondition(lambda self: self.python_values)
    @rule(
        flt=st.one_of(
            st.just(_ABSENT),
            st.sampled_from(FILTERS[:14]).map(lambda f: {"$py": "shared", "value": f}),
            st.sampled_from(FILTERS[:14]).map(lambda f: {"$py": "deep_and", "value": f, "depth": 250}),
        ),
        assign=st.fixed_dictionaries(
            {},
            optional={
                "embedding": st.sampled_from(
                    (
                        py_tuple([1, 0, 0]),
                        [{"$py": "fraction", "value": "1/3"}, {"$py": "fraction", "value": "2/3"}, 0],
                        [True, False, False],
                        "abc",
                        [1, "x", 0],
                        [1e39, 0, 0],
                    )
                ),
                "top_k": st.sampled_from((-1, 0, 2, True, 2**64)),
                "alpha": st.sampled_from(("0.5", True, 0.25, {"$py": "fraction", "value": "1/2"})),
                "group_by": st.sampled_from(({"$py": "raw", "value": "parent"},)),
            },
        ),
    )
    def python_query(self, flt: Any, assign: dict[str, Any]) -> None:
        """A query whose options are set after construction, or whose filter is built in Python (KIT-10)."""
        args: dict[str, Any] = {"query": "the cat", "embedding": [1, 0, 0], "top_k": 3}
        if flt is not _ABSENT:
            args["filter"] = flt
        if assign:
            args["assign"] = assign
        self.do("query", args)

    @precondition(lambda self: self.python_values)
    @rule(
        ids=st.sampled_from(({"$py": "raw", "value": "ab"}, py_tuple(["a", "b"]), [{"$py": "str", "value": "a"}])),
        delete=st.booleans(),
    )
    def python_ids(self, ids: Any, delete: bool) -> None:
        """get_docs/delete_docs ids given as a string, a tuple or str subclasses (KIT-10)."""
        self.do("delete_docs", {"ids": ids}) if delete else self.do("get_docs", {"doc_ids": ids})

    @rule()
    def push(self) -> None:
        if response_kind(self.do("push_index", {})) == "result":
            self.pushed = True

    @precondition(lambda self: self.can_resume)
    @rule(model=st.sampled_from((None, None, "custom")))
    def resume(self, model: Optional[str]) -> None:
        """Open a fresh session on the index, loading what was pushed (its model adopted, or checked).

        With nothing pushed, no model id would mean the default built-in model: that path has a
        rule of its own (``fresh_default_model_session``), so here it stays custom.
        """
        self.do("open_session", {"index": INDEX, "model_id": model if model or self.pushed else "custom"})

    @precondition(lambda self: self.can_resume and self.builtin_models and self.pushed)
    @rule()
    def resume_with_another_model(self) -> None:
        """Resume the pushed custom index naming a built-in model: the mismatch is refused."""
        self.do("open_session", {"index": INDEX, "model_id": "moss-minilm"})

    @rule()
    def fresh_session(self) -> None:
        """Open a fresh custom session without loading (its push replaces the stored index)."""
        self.do("open_session", {"index": INDEX, "model_id": "custom", "auto_load_on_init": False})

    @precondition(lambda self: self.builtin_models)
    @rule()
    def fresh_default_model_session(self) -> None:
        """Open a fresh session with no model id: the default built-in model."""
        self.do("open_session", {"index": INDEX, "model_id": None, "auto_load_on_init": False})

    @rule(close=st.sampled_from((False,) * 7 + (True,)))
    def close_or_count(self, close: bool) -> None:
        """Count documents, or (rarely: every later step on the session is the closed error) close."""
        self.do("close_session" if close else "doc_count", {})


def fuzz(
    target_factory: Callable[[], Target],
    reference_factory: Optional[Callable[[], Target]] = None,
    *,
    max_examples: int = 100,
    steps: int = 30,
    derandomize: bool = True,
    label: str = "",
    order: str = "exact",
) -> FuzzReport:
    """Fuzz ``target_factory()`` against the reference; the report holds the shrunk counterexample.

    Both targets are made once and reset (``start_case``) for every example; both are closed at
    the end. ``derandomize`` (default) makes the run reproducible: the same examples every time.
    """
    if reference_factory is None:
        from .reference import ReferenceTarget

        reference_factory = ReferenceTarget
    reference = InProcess(reference_factory())
    target_obj = target_factory()
    target = target_obj if isinstance(target_obj, InProcess) else InProcess(target_obj)
    inner = target.target if isinstance(target, InProcess) else target_obj
    counts: dict[str, int] = {}
    info = target.hello()
    report = FuzzReport(
        target=label or str(info.get("implementation", {}).get("name", "target")), examples=max_examples
    )

    machine = type(
        "Differential",
        (DifferentialMachine,),
        {
            "reference": reference,
            "target": target,
            "error_kinds": bool(info.get("error_kinds")),
            "record": {},
            "counts": counts,
            "order": order,
            "can_resume": bool(getattr(inner, "can_resume", True)),
            "builtin_models": bool(getattr(inner, "builtin_models", True)),
            "empty_ids": bool(getattr(inner, "empty_ids", True)),
            "explain": "explain" in info.get("features", ()) and "explain" in reference.hello().get("features", ()),
            "python_values": "python_values" in info.get("features", ())
            and "python_values" in reference.hello().get("features", ()),
        },
    )
    options: dict[str, Any] = {
        "max_examples": max_examples,
        "stateful_step_count": steps,
        "deadline": None,
        "database": None,
        "derandomize": derandomize,
        "suppress_health_check": list(HealthCheck),
        "report_multiple_bugs": False,
        "print_blob": False,
        # no explain phase: it replays the counterexample many times and the vector says it all
        "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    }
    test_settings = settings(**options)
    try:
        run_state_machine_as_test(machine, settings=test_settings)
    except _Found as exc:
        record = machine.record
        report.counterexample = {"steps": record["steps"]}
        report.problems = list(record["problems"])
        report.message = f"moss-conformance fuzz: {report.target} differs from the reference: {exc}"
    finally:
        reference.close()
        target.close()
        report.sessions, report.steps = counts.get("sessions", 0), counts.get("steps", 0)
    return report
