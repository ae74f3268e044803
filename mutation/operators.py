"""The mutation operators: every single-point change of a module, found on its AST (stdlib ``ast``).

A :class:`Mutant` is one edit of the module's source text: the source segment of one AST node
(``lineno``/``col_offset`` to ``end_lineno``/``end_col_offset``) replaced by new text, usually
``ast.unparse`` of a changed copy of that node. Splicing the text (rather than unparsing the whole
module) keeps every other line, comment and line number as it was, so a traceback from a mutant
points at the real source.

Operators (``OPERATORS``):

* ``cmp_boundary``   ``<`` <-> ``<=``, ``>`` <-> ``>=`` (one comparison of a chain at a time)
* ``cmp_negate``     ``<`` -> ``>=``, ``<=`` -> ``>``, ``==`` <-> ``!=``, ``is`` <-> ``is not``, ``in`` <-> ``not in``
* ``cmp_function``   ``operator.gt`` <-> ``operator.ge``, ``operator.lt`` <-> ``operator.le``
* ``bool_op``        ``and`` <-> ``or``
* ``not_removal``    ``not x`` -> ``x``
* ``cond_negate``    the test of an ``if``/``while``/conditional expression/comprehension filter
  that is not already a comparison or a ``not`` -> ``not (test)``
* ``bool_const``     ``True`` <-> ``False``
* ``num_const``      a number ``n`` -> ``n + 1``, ``n - 1``, ``n * 2``, ``0`` (distinct values only)
* ``str_const``      a string compared with ``==``/``in``/..., or joined with (``"\\n".join``) -> ``s + "#"``
* ``arith``          ``+`` <-> ``-``, ``*`` <-> ``/``, ``//`` -> ``/``, ``%`` -> ``//``, ``**`` -> ``*``,
  ``<<`` <-> ``>>``, ``&`` <-> ``|`` (also in ``+=`` etc.); unary ``-x`` -> ``x``. Not on strings.
* ``off_by_one``     non-constant slice bounds, ``range()`` ends and index expressions -> ``+ 1`` / ``- 1``
* ``drop_stmt``      a call statement, an augmented assignment, an assignment to an attribute or an
  item, ``del``, ``continue`` or ``break`` -> ``pass``
* ``drop_invalidation``  the same for the calls that invalidate a cache or clear state
  (``self._changed()``, ``cache.clear()``, ...): the "removed cache invalidation" operator
* ``sort_key``       in ``sorted``/``.sort``/``min``/``max``/``heapq.nsmallest``/``nlargest`` and in
  functions named ``*_key``: a negated key component un-negated, two adjacent components
  swapped, the last (tie-breaking) component dropped, a non-tuple key dropped, ``reverse``
  flipped (added as ``reverse=True`` when absent)

Never mutated: docstrings, annotations, f-strings, ``raise`` and ``assert`` statements (error
messages are never compared by the kit, CMP-2), imports, ``__all__``/``__slots__``, and
``if TYPE_CHECKING:`` blocks.

A mutant's id is ``module:line:col:operator:index`` (``index`` numbers the variants of one
operator at one node, in a fixed order), so ids are stable as long as the source is.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

DEFAULT_MODULES: tuple[str, ...] = (
    "_filters.py",
    "_filter_values.py",
    "_geo.py",
    "_query.py",
    "_bm25.py",
    "_keyword_rule.py",
    "_ordering.py",
    "_grouping.py",
    "_corpus.py",
    "_session_core.py",
    "_hash_embedder.py",
    "_convert.py",
)

OPERATORS: tuple[str, ...] = (
    "cmp_boundary",
    "cmp_negate",
    "cmp_function",
    "bool_op",
    "not_removal",
    "cond_negate",
    "bool_const",
    "num_const",
    "str_const",
    "arith",
    "off_by_one",
    "drop_stmt",
    "drop_invalidation",
    "sort_key",
)

_BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_NEGATE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.LtE: ast.Gt,
    ast.Gt: ast.LtE,
    ast.GtE: ast.Lt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_CMP_FUNCTIONS = {"gt": "ge", "ge": "gt", "lt": "le", "le": "lt"}
_ARITH: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
}
_SORTERS = {"sorted", "sort", "min", "max", "nsmallest", "nlargest"}
_INDEX_NAMES = {"i", "j", "k", "n", "idx", "index", "pos", "rank", "start", "end", "stop"}
_INVALIDATION = re.compile(r"^(_?changed|_?invalidate\w*|clear|cache_clear|_?reset\w*)$")
_SKIP_ASSIGN = {"__all__", "__slots__"}


@dataclass(frozen=True)
class Mutant:
    """One single-point change of one module (see the module docstring)."""

    module: str  # file name inside moss_ref/, e.g. "_bm25.py"
    line: int
    col: int
    operator: str
    index: int
    before: str
    after: str
    scope: str  # enclosing class/function, "" at module level
    start: tuple[int, int]  # (line, byte column) of the replaced segment
    end: tuple[int, int]
    replacement: str
    context: str = field(default="", compare=False)  # the source line, stripped
    occurrence: int = field(default=0, compare=False)

    @property
    def id(self) -> str:
        return f"{self.module}:{self.line}:{self.col}:{self.operator}:{self.index}"

    @property
    def description(self) -> str:
        return f"{self.module}:{self.line}: {self.before} -> {self.after}"

    @property
    def key(self) -> str:
        """A key without line numbers, for sampling that survives edits elsewhere in the file."""
        return f"{self.module}|{self.scope}|{self.operator}|{self.before}|{self.after}|{self.occurrence}"

    def apply(self, source: str) -> str:
        """``source`` with this mutant's edit applied (``source`` must be the text it was found on)."""
        lines = source.splitlines(keepends=True)
        (l1, c1), (l2, c2) = self.start, self.end
        first = lines[l1 - 1].encode("utf-8")
        last = lines[l2 - 1].encode("utf-8")
        new = (first[:c1] + self.replacement.encode("utf-8") + last[c2:]).decode("utf-8")
        return "".join([*lines[: l1 - 1], new, *lines[l2:]])


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num(value: float) -> float:
    return float(f"{value:.12g}")


def _number_variants(value: int | float) -> list[int | float]:
    if isinstance(value, int):
        candidates: list[int | float] = [value + 1, value - 1, value * 2, 0]
    else:
        candidates = [_num(value + 1), _num(value - 1), _num(value * 2), 0.0]
    out: list[int | float] = []
    for c in candidates:
        if c != value and c not in out:
            out.append(c)
    return out


def _literal(value: object) -> str:
    text = repr(value)
    return f"({text})" if text.startswith("-") else text


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return ""


def _paren(node: ast.AST) -> str:
    return f"({ast.unparse(node)})"


class _Collector:
    def __init__(self, module: str, source: str) -> None:
        self.module = module
        self.source = source
        self.lines = source.splitlines()
        self.tree = ast.parse(source)
        self.out: list[Mutant] = []
        self.scope: list[str] = []
        self.claimed: set[int] = set()  # nodes whose change an earlier operator already made
        self._variants: dict[tuple[int, int, str], int] = {}
        self._occurrences: dict[tuple[str, str, str, str], int] = {}
        self._seen: set[tuple[tuple[int, int], tuple[int, int], str]] = set()

    # -- recording --------------------------------------------------------------------------------

    def add(self, operator: str, at: ast.AST, span: ast.AST, replacement: str, before: str, after: str) -> None:
        """Record replacing the source of ``span`` by ``replacement``; the id is taken from ``at``."""
        start = (span.lineno, span.col_offset)  # type: ignore[attr-defined]
        end = (span.end_lineno, span.end_col_offset)  # type: ignore[attr-defined]
        original = ast.get_source_segment(self.source, span) or ""
        if replacement.strip("()") == original.strip("()") or (start, end, replacement) in self._seen:
            return
        self._seen.add((start, end, replacement))
        line, col = at.lineno, at.col_offset  # type: ignore[attr-defined]
        slot = (line, col, operator)
        index = self._variants.get(slot, 0)
        self._variants[slot] = index + 1
        scope = ".".join(self.scope)
        before, after = _short(before), _short(after)
        occ_key = (scope, operator, before, after)
        occurrence = self._occurrences.get(occ_key, 0)
        self._occurrences[occ_key] = occurrence + 1
        context = _short(self.lines[line - 1].strip(), 100)
        mutant = Mutant(self.module, line, col, operator, index, before, after, scope, start, end,
                        replacement, context=context, occurrence=occurrence)  # fmt: skip
        self.out.append(mutant)

    def replace_expr(self, operator: str, node: ast.expr, new: ast.expr, at: Optional[ast.AST] = None) -> None:
        text = _paren(new)
        self.add(operator, at or node, node, text, ast.unparse(node), ast.unparse(new))

    # -- traversal --------------------------------------------------------------------------------

    def run(self) -> list[Mutant]:
        self.body(self.tree.body, docstring=True)
        return self.out

    def body(self, stmts: Sequence[ast.stmt], docstring: bool = False) -> None:
        for i, stmt in enumerate(stmts):
            if (
                i == 0
                and docstring
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                continue
            self.stmt(stmt)

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.Raise, ast.Assert, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Pass)):
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a bare string (attribute docstring)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                self.expr(default)
            self.scope.append(node.name)
            if node.name.endswith("_key"):
                self.key_function(node)
            self.body(node.body, docstring=True)
            self.scope.pop()
            return
        if isinstance(node, ast.ClassDef):
            self.scope.append(node.name)
            self.body(node.body, docstring=True)
            self.scope.pop()
            return
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in _SKIP_ASSIGN for t in node.targets):
            return
        self.drop(node)
        if isinstance(node, ast.AugAssign) and type(node.op) in _ARITH:
            new_op = _ARITH[type(node.op)]()
            new = ast.AugAssign(target=node.target, op=new_op, value=node.value)
            self.add("arith", node, node, ast.unparse(new), ast.unparse(node), ast.unparse(new))
        if isinstance(node, (ast.If, ast.While)):
            self.condition(node.test)
        # children: expressions (not annotations, not assignment targets), then nested bodies
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "type_comment", "targets", "target", "decorator_list"):
                continue
            if isinstance(value, ast.expr):
                self.expr(value)
            elif isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self.body(value)
                else:
                    for item in value:
                        if isinstance(item, ast.expr):
                            self.expr(item)
                        elif isinstance(item, ast.ExceptHandler):
                            self.body(item.body)
                        elif isinstance(item, ast.withitem):
                            self.expr(item.context_expr)

    def drop(self, node: ast.stmt) -> None:
        eligible = (
            (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call))
            or isinstance(node, (ast.AugAssign, ast.Delete, ast.Continue, ast.Break))
            or (
                isinstance(node, ast.Assign)
                and all(isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets)
            )
        )
        if not eligible:
            return
        operator = "drop_stmt"
        if isinstance(node, ast.Expr) and _INVALIDATION.match(_call_name(node.value)):
            operator = "drop_invalidation"
        self.add(operator, node, node, "pass", ast.unparse(node), "pass")

    def condition(self, test: ast.expr) -> None:
        if isinstance(test, ast.Compare) or (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
            return
        self.replace_expr("cond_negate", test, ast.UnaryOp(op=ast.Not(), operand=test))

    def key_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple):
                self.key_tuple(sub.value, sub.value)

    def key_tuple(self, tup: ast.Tuple, at: ast.AST) -> None:
        elts = tup.elts
        for i, elt in enumerate(elts):
            if isinstance(elt, ast.UnaryOp) and isinstance(elt.op, ast.USub):
                self.claimed.add(id(elt))
                new = ast.Tuple(elts=[*elts[:i], elt.operand, *elts[i + 1 :]], ctx=ast.Load())
                self.replace_expr("sort_key", tup, new, at)
        for i in range(len(elts) - 1):
            new = ast.Tuple(elts=[*elts[:i], elts[i + 1], elts[i], *elts[i + 2 :]], ctx=ast.Load())
            self.replace_expr("sort_key", tup, new, at)
        if len(elts) >= 2:
            self.replace_expr("sort_key", tup, ast.Tuple(elts=elts[:-1], ctx=ast.Load()), at)

    def sorter(self, node: ast.Call) -> None:
        keywords = {k.arg: k for k in node.keywords if k.arg}
        key = keywords.get("key")
        if key is not None:
            if isinstance(key.value, ast.Lambda) and isinstance(key.value.body, ast.Tuple):
                self.key_tuple(key.value.body, node)
            elif not (isinstance(key.value, ast.Lambda) and isinstance(key.value.body, ast.Subscript)):
                new = copy.copy(node)
                new.keywords = [k for k in node.keywords if k.arg != "key"]
                self.add("sort_key", node, node, _paren(new), f"{ast.unparse(key)} in {ast.unparse(node.func)}(...)",
                         "no key")  # fmt: skip
        if _call_name(node) in ("sort", "sorted"):
            reverse = keywords.get("reverse")
            if reverse is None:
                new = copy.copy(node)
                new.keywords = [*node.keywords, ast.keyword(arg="reverse", value=ast.Constant(True))]
                self.add("sort_key", node, node, _paren(new), ast.unparse(node), "reverse=True added")
            elif not isinstance(reverse.value, ast.Constant):
                self.replace_expr("sort_key", reverse.value, ast.UnaryOp(op=ast.Not(), operand=reverse.value))

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.JoinedStr):
            return
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                for operator, table in (("cmp_boundary", _BOUNDARY), ("cmp_negate", _NEGATE)):
                    if type(op) in table:
                        new = copy.copy(node)
                        new.ops = [*node.ops[:i], table[type(op)](), *node.ops[i + 1 :]]
                        self.replace_expr(operator, node, new)
            for operand in [node.left, *node.comparators]:
                if isinstance(operand, ast.Constant) and isinstance(operand.value, str):
                    self.string(operand)
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            self.replace_expr("bool_op", node, ast.BoolOp(op=other, values=node.values))
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self.replace_expr("not_removal", node, node.operand)
            elif (
                isinstance(node.op, ast.USub)
                and id(node) not in self.claimed
                and not isinstance(node.operand, ast.Constant)
            ):
                self.replace_expr("arith", node, node.operand)
        elif isinstance(node, ast.BinOp):
            if type(node.op) in _ARITH and not (_is_str(node.left) or _is_str(node.right)):
                new_op = _ARITH[type(node.op)]()
                self.replace_expr("arith", node, ast.BinOp(left=node.left, op=new_op, right=node.right))
        elif isinstance(node, ast.Constant):
            self.constant(node)
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "operator" and node.attr in _CMP_FUNCTIONS:
                swapped = ast.Attribute(value=node.value, attr=_CMP_FUNCTIONS[node.attr], ctx=ast.Load())
                self.replace_expr("cmp_function", node, swapped)
        elif isinstance(node, ast.IfExp):
            self.condition(node.test)
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in _SORTERS:
                self.sorter(node)
            if name == "range" and node.args:
                self.plus_minus(node.args[-1])
            if name == "join" and isinstance(node.func, ast.Attribute):
                value = node.func.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    self.string(value)
        elif isinstance(node, ast.Subscript):
            sl = node.slice
            if isinstance(sl, ast.Slice):
                for bound in (sl.lower, sl.upper):
                    if bound is not None:
                        self.plus_minus(bound)
            elif isinstance(sl, ast.BinOp) or (isinstance(sl, ast.Name) and sl.id in _INDEX_NAMES):
                self.plus_minus(sl)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for gen in node.generators:
                for cond in gen.ifs:
                    self.condition(cond)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.comprehension):
                for sub in (child.iter, *child.ifs):
                    self.expr(sub)
            elif isinstance(child, ast.keyword):
                self.expr(child.value)
            elif isinstance(child, ast.arguments):
                for default in [*child.defaults, *(d for d in child.kw_defaults if d is not None)]:
                    self.expr(default)

    def plus_minus(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            return  # num_const changes constants
        for op in (ast.Add(), ast.Sub()):
            self.replace_expr("off_by_one", node, ast.BinOp(left=node, op=op, right=ast.Constant(1)))

    def constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self.add("bool_const", node, node, repr(not value), repr(value), repr(not value))
        elif isinstance(value, (int, float)) and not isinstance(value, complex):
            for variant in _number_variants(value):
                self.add("num_const", node, node, _literal(variant), repr(value), repr(variant))

    def string(self, node: ast.Constant) -> None:
        assert isinstance(node.value, str)
        if id(node) in self.claimed:
            return
        self.claimed.add(id(node))
        new = node.value + "#"
        self.add("str_const", node, node, repr(new), repr(node.value), repr(new))


def generate_source(module: str, source: str) -> list[Mutant]:
    """Every mutant of ``source`` (the text of ``moss_ref/<module>``), in a fixed order."""
    return _Collector(module, source).run()


def generate(
    package: Path, modules: Sequence[str] = DEFAULT_MODULES, operators: Optional[Sequence[str]] = None
) -> list[Mutant]:
    """Every mutant of the listed modules of ``package`` (a ``moss_ref/`` folder)."""
    wanted = set(operators or OPERATORS)
    unknown = wanted - set(OPERATORS)
    if unknown:
        raise ValueError(f"unknown operators: {', '.join(sorted(unknown))}; known: {', '.join(OPERATORS)}")
    out: list[Mutant] = []
    for module in modules:
        name = module if module.endswith(".py") else module + ".py"
        source = (package / name).read_text(encoding="utf-8")
        out.extend(m for m in generate_source(name, source) if m.operator in wanted)
    return out


def iter_sources(package: Path, mutants: Sequence[Mutant]) -> Iterator[tuple[Mutant, str]]:
    """``(mutant, mutated module text)`` for each mutant (each module read once)."""
    cache: dict[str, str] = {}
    for m in mutants:
        if m.module not in cache:
            cache[m.module] = (package / m.module).read_text(encoding="utf-8")
        yield m, m.apply(cache[m.module])
