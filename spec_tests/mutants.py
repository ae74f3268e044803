"""Deliberately broken targets: the reference with exactly one behaviour altered each.

They prove the kit finds real bugs: ``tests/conformance`` runs the fixed vectors and the fuzzer
against every mutant and requires both to catch it. Each mutant is a thin subclass of
:class:`~.reference.ReferenceTarget` that changes one operation's arguments or results; none edits
the core. (``ne_matches_missing_field`` swaps ``Filter.matches``, the filters module's public
evaluation entry point, for the duration of one step.)

Use one as a target: ``moss-conformance run --target moss_ref_conformance.mutants:make --option name=alpha_inverted``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .protocol import decode_float, response_kind
from .python_values import decode as decode_python_values
from .python_values import has_tags
from .reference import DEFAULT_SESSION, ReferenceTarget, decode_filter


class Mutant(ReferenceTarget):
    """Base: a reference target with one behaviour changed (``name``, ``bug``)."""

    name = "mutant"
    bug = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each mutant's ``step`` sees Python values decoded (KIT-10), as the reference's does."""
        super().__init_subclass__(**kwargs)
        inner = cls.__dict__.get("step")
        if inner is not None:

            def step(self: Mutant, op: str, args: dict[str, Any]) -> dict[str, Any]:
                if has_tags(args):
                    args = decode_python_values(args)
                return inner(self, op, args)  # type: ignore[no-any-return]

            cls.step = step  # type: ignore[method-assign]

    def hello(self) -> dict[str, Any]:
        out = super().hello()
        out["implementation"]["name"] = f"mutant:{self.name}"
        out["implementation"]["detail"] = self.bug
        return out


class NeMatchesMissingField(Mutant):
    name = "ne_matches_missing_field"
    bug = "$ne and $nin match documents that lack the field"

    @contextlib.contextmanager
    def _patched(self, raw: Any) -> Iterator[None]:
        from moss_ref import _filters

        original = _filters.Filter.matches

        def evaluate(node: Any, metadata: Any) -> bool:
            if isinstance(node, dict) and "$and" in node:
                return all(evaluate(child, metadata) for child in node["$and"])
            if isinstance(node, dict) and "$or" in node:
                return any(evaluate(child, metadata) for child in node["$or"])
            condition = node.get("condition", {}) if isinstance(node, dict) else {}
            field = node.get("field") if isinstance(node, dict) else None
            if isinstance(condition, dict) and set(condition) & {"$ne", "$nin"} and field not in (metadata or {}):
                return True
            return bool(original(_filters.compile_filter(node), metadata))

        def matches(flt: Any, metadata: Any) -> bool:
            return evaluate(raw, metadata)

        _filters.Filter.matches = matches  # type: ignore[method-assign]
        try:
            yield
        finally:
            _filters.Filter.matches = original  # type: ignore[method-assign]

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("filter") is None:
            return super().step(op, args)
        with self._patched(decode_filter(args["filter"])):
            return super().step(op, args)


class _RemembersInsertion(Mutant):
    """Base of the mutants that order by insertion: tracks when each live id was first added."""

    def start_case(self, name: str, features: Any) -> dict[str, Any]:
        self._order: dict[str, int] = {}
        return super().start_case(name, features)

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = super().step(op, args)
        if op == "add_docs" and response_kind(out) == "result":
            for doc in args["docs"]:
                self._order.setdefault(doc["id"], len(self._order))
        if op == "delete_docs" and response_kind(out) == "result":
            for doc_id in args["ids"]:
                self._order.pop(doc_id, None)
        return out

    def inserted(self, doc: dict[str, Any]) -> int:
        return self._order.get(doc["id"], 1 << 30)


class TiesById(Mutant):
    name = "ties_by_id"
    bug = "equal vector scores are ordered by id instead of by position (first insertion)"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = super().step(op, args)
        vector_only = decode_float(args.get("alpha")) == 1 or not str(args.get("query", "x")).strip()
        if op in ("query", "client_query") and response_kind(out) == "result" and vector_only:
            docs = out["result"]["docs"]
            i = 0
            while i < len(docs):
                j = i
                while j + 1 < len(docs) and docs[j + 1]["score"] == docs[i]["score"]:
                    j += 1
                if docs[i]["score"] > 0:
                    docs[i : j + 1] = sorted(docs[i : j + 1], key=lambda d: d["id"])
                i = j + 1
        return out


class UpsertFalseOverwrites(Mutant):
    name = "upsert_false_overwrites"
    bug = "add_docs with upsert=False overwrites existing ids"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "add_docs" and args.get("upsert") is False:
            args = {**args, "upsert": True}
        return super().step(op, args)


class AlphaInverted(Mutant):
    name = "alpha_inverted"
    bug = "alpha weights the keyword list instead of the vector list"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op in ("query", "client_query"):
            alpha = args.get("alpha", 0.8)
            if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and 0 <= alpha <= 1:
                args = {**args, "alpha": 1.0 - alpha}
        return super().step(op, args)


class DeleteCountsUnknown(Mutant):
    name = "delete_counts_unknown"
    bug = "delete_docs counts every listed id, unknown and repeated ones included"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = super().step(op, args)
        if op == "delete_docs" and response_kind(out) == "result":
            out["result"]["deleted"] = len(args["ids"])
        return out


class PushNotAtomic(Mutant):
    name = "push_not_atomic"
    bug = "push drops the stored index before writing the new one, so a failed push loses it"

    def op_push_index(self, args: dict[str, Any]) -> Any:
        inner = super().op_push_index(args)
        session = self.session(args)

        def call() -> dict[str, Any]:
            self.store.delete_index(self.project_id, session.name)
            return inner()  # type: ignore[no-any-return]

        return call


class ResumeAdoptsMismatch(Mutant):
    name = "resume_adopts_mismatch"
    bug = "resuming with a different explicit model_id adopts the stored model instead of raising"

    def open(self, client: Any, index: str, model_id: Any, auto_load: bool) -> Any:
        try:
            return super().open(client, index, model_id, auto_load)
        except ValueError as exc:
            if "model_id" in str(exc) and type(exc) is ValueError:
                return super().open(client, index, None, auto_load)
            raise


class SessionAppliesMinScore(Mutant):
    name = "session_applies_min_score"
    bug = "SessionIndex.query drops results below min_score (the real session ignores it)"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = super().step(op, args)
        threshold = decode_float(args.get("min_score"))
        if op == "query" and isinstance(threshold, float) and response_kind(out) == "result":
            out["result"]["docs"] = [d for d in out["result"]["docs"] if d["score"] >= threshold]
        return out


class FilterAfterTopK(Mutant):
    name = "filter_after_top_k"
    bug = "filters are applied to the top_k results instead of before ranking"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = super().step(op, args)
        if op == "query" and args.get("filter") is not None and response_kind(out) == "result":
            from moss_ref._filters import compile_filter

            flt = compile_filter(decode_filter(args["filter"]))  # {"$float": "NaN"} and the like decoded
            plain = super().step(op, {k: v for k, v in args.items() if k != "filter"})
            if response_kind(plain) == "result":
                out["result"]["docs"] = [d for d in plain["result"]["docs"] if flt.matches(d["metadata"])]
        return out


class GetDocsInsertionOrder(_RemembersInsertion):
    name = "get_docs_insertion_order"
    bug = "get_docs without ids or sort_by returns documents in insertion order"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = super().step(op, args)
        if (
            op == "get_docs"
            and response_kind(out) == "result"
            and args.get("doc_ids") is None
            and args.get("sort_by") is None
            and args.get("group_by") is None
        ):
            out["result"]["docs"].sort(key=self.inserted)
        return out


class ClosedSessionUsable(Mutant):
    name = "closed_session_usable"
    bug = "close_session does nothing: a closed session keeps working"

    def op_close_session(self, args: dict[str, Any]) -> Any:
        self.session(args)
        return lambda: {}


class DuplicateBatchFirstWins(Mutant):
    name = "duplicate_batch_first_wins"
    bug = "duplicate ids within one add_docs batch keep the first copy"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "add_docs" and isinstance(args.get("docs"), list):
            seen: dict[str, Any] = {}
            for doc in args["docs"]:
                seen.setdefault(doc.get("id"), doc)
            if len(seen) != len(args["docs"]):
                out = super().step(op, {**args, "docs": list(seen.values())})
                if response_kind(out) == "result":
                    out["result"]["updated"] += len(args["docs"]) - len(seen)
                return out
        return super().step(op, args)


class ExplainLengthWithoutMetadata(Mutant):
    name = "explain_length_without_metadata"
    bug = "explain_query reports a document's length as its text's terms only, without its metadata's"

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = super().step(op, args)
        if op == "explain_query" and response_kind(out) == "result":
            from moss_ref._bm25 import term_ids

            records = self.session(args).core.corpus.records
            for hit in out["result"]["hits"]:
                for term in hit["terms"]:
                    term["doc_length"] = len(term_ids(records[hit["id"]].text))
        return out


MUTANTS: dict[str, type[Mutant]] = {
    cls.name: cls
    for cls in (
        NeMatchesMissingField,
        TiesById,
        UpsertFalseOverwrites,
        AlphaInverted,
        DeleteCountsUnknown,
        PushNotAtomic,
        ResumeAdoptsMismatch,
        SessionAppliesMinScore,
        FilterAfterTopK,
        GetDocsInsertionOrder,
        ClosedSessionUsable,
        DuplicateBatchFirstWins,
        ExplainLengthWithoutMetadata,
    )
}


def make(name: str, **options: Any) -> Mutant:
    """Factory for ``--target moss_ref_conformance.mutants:make --option name=<mutant>``."""
    try:
        cls = MUTANTS[name]
    except KeyError:
        raise ValueError(f"unknown mutant {name!r}; known: {', '.join(MUTANTS)}") from None
    return cls(**options)


__all__ = ["MUTANTS", "Mutant", "make", "DEFAULT_SESSION"]
