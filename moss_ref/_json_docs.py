"""A small JSON scanner for document text: JSON arrays and JSON Lines (D-9, D-10, D-11).

Python's ``json`` module cannot say where a value began and ended, and Moss keeps a non-string
``payload`` as the *raw JSON text* of that value (D-11: ``1.50`` stays ``"1.50"``). So this module
reads the JSON itself, by recursive descent over the text, and remembers each payload's span.

It knows the shape of a document object (the five fields of D-2) but nothing about
``DocumentInfo``: it returns one :class:`JsonDoc` per object, holding Python values for ``id``,
``text``, ``metadata`` and ``embedding`` and a ``str`` (decoded string or raw JSON text) for
``payload``. ``_docs_input`` turns those into documents with the same rules as for dicts.

Numbers follow D-11: integers in ``[-2**63, 2**64)`` stay ``int``; ``-0``, larger integers and
every literal with a fraction or exponent become ``float``; a literal beyond the float range is
``number out of range``. Every syntax error is an ``InvalidArgumentError`` whose message ends with
``at line L column C`` (1-based; columns count characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple, NoReturn

from ._errors import invalid

__all__ = ["FILE_EXTENSIONS", "JsonDoc", "parse_json_docs"]

#: Extensions a path may have (D-12); a JSON string ending in one gets a hint (D-9).
FILE_EXTENSIONS = (".json", ".jsonl", ".ndjson", ".txt", ".md", ".markdown")
#: The document fields of D-2; other keys are checked for syntax and ignored.
KNOWN_FIELDS = frozenset({"id", "text", "metadata", "embedding", "payload"})
#: Deepest nesting of arrays and objects accepted (as serde_json, which the real core uses).
MAX_DEPTH = 128

_I64_MIN = -(2**63)
_U64_END = 2**64

_WS = re.compile(r"[ \t\n\r]*")
_LEADING = re.compile(r"[ \t\n\r\ufeff]*")
_REST_OF_LINE = re.compile(r"[ \t\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_STRING_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS: tuple[tuple[str, object], ...] = (("true", True), ("false", False), ("null", None))


class JsonDoc(NamedTuple):
    """One document object read from JSON text."""

    where: str
    """``index <i>`` (0-based, JSON array) or ``line <n>`` (1-based, JSON Lines): D-10."""
    fields: dict[str, object]
    """The known fields present in the object (D-2); ``payload`` is always a ``str`` or None."""


def parse_json_docs(text: str, *, source: str = "", hint: bool = False) -> list[JsonDoc]:
    """Read a JSON array or JSON Lines text into document objects (D-9, D-10).

    After leading whitespace and byte-order marks, ``[`` selects a JSON array and ``{`` JSON
    Lines; nothing at all gives ``[]``. ``source`` (for example ``"docs.json: "``) is put in
    front of every message. ``hint`` adds the ``pathlib.Path`` hint when the text looks like a
    file name.
    """
    start = _match_end(_LEADING, text, 0)
    if start == len(text):
        return []
    scanner = _Scanner(text, source, start)
    if text[start] == "[":
        return scanner.array_docs()
    if text[start] == "{":
        return scanner.line_docs()
    message = f"{source}expected a JSON array ('[') or JSON Lines ('{{')"
    if hint and text.strip().lower().endswith(FILE_EXTENSIONS):
        message += "; to read a file, pass pathlib.Path(...)"
    raise invalid(message)


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    assert match is not None  # every pattern used here can match the empty string
    return match.end()


class _Scanner:
    """Recursive-descent reader over ``text``; ``pos`` is the next character to read."""

    def __init__(self, text: str, source: str, pos: int) -> None:
        self.text = text
        self.source = source
        self.pos = pos
        self.where = ""  # "index 3: " / "line 5: " while inside a document

    # -- errors ---------------------------------------------------------------------------

    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        """Raise the InvalidArgumentError for a syntax error at ``pos`` (default: here)."""
        at = self.pos if pos is None else pos
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        raise invalid(f"{self.source}{self.where}{message} at line {line} column {column}")

    # -- top level (D-9, D-10) --------------------------------------------------------------

    def array_docs(self) -> list[JsonDoc]:
        """``[doc, doc, ...]``; errors inside item ``i`` start with ``index <i>: ``."""
        docs: list[JsonDoc] = []
        for _ in self.elements():
            where = f"index {len(docs)}"
            self.where = where + ": "
            docs.append(JsonDoc(where, self.document(depth=2)))
            self.where = ""
        self.skip_ws()
        if self.pos != len(self.text):
            self.fail("trailing characters")
        return docs

    def line_docs(self) -> list[JsonDoc]:
        """One object per line, blank lines skipped; errors start with ``line <n>: ``.

        An object may span several lines (pretty-printed); the next one must start on a new line.
        """
        docs: list[JsonDoc] = []
        line, counted_to = 1, 0
        while True:
            self.skip_ws()
            if self.pos == len(self.text):
                return docs
            line += self.text.count("\n", counted_to, self.pos)
            counted_to = self.pos
            where = f"line {line}"
            self.where = where + ": "
            docs.append(JsonDoc(where, self.document(depth=1, top_level=True)))
            self.pos = _match_end(_REST_OF_LINE, self.text, self.pos)
            if self.peek() not in ("", "\n"):
                self.fail("trailing characters")
            self.where = ""

    def document(self, depth: int, top_level: bool = False) -> dict[str, object]:
        """A document object: known fields read as values, the payload kept raw (D-11)."""
        if self.peek() != "{":
            start = self.pos
            self.value(depth, cook=False)
            self.fail(f"invalid type: {self.describe(start)}, expected a document object", start)
        fields: dict[str, object] = {}
        other_keys: set[str] = set()
        for key, key_pos in self.members():
            if key in fields:
                self.fail(f"duplicate field `{key}`", key_pos)
            if key == "payload":
                fields[key] = self.payload(depth)
            elif key in KNOWN_FIELDS:
                fields[key] = self.value(depth, cook=True)
            else:
                other_keys.add(key)
                self.value(depth, cook=False)
        if top_level and "documents" in other_keys and not fields.keys() & {"id", "text"}:
            raise invalid(
                f'{self.source}{self.where}this looks like a wrapper object; pass the array inside "documents" instead'
            )
        return fields

    def payload(self, depth: int) -> str | None:
        """A JSON string gives its text, ``null`` gives None, anything else its raw JSON text (D-11)."""
        start = self.pos
        value = self.value(depth, cook=False)
        if isinstance(value, str):
            return value
        raw = self.text[start : self.pos]
        return None if raw == "null" else raw

    def describe(self, start: int) -> str:
        """How serde names an unexpected value, for ``invalid type: ...`` (D-10)."""
        token = self.text[start : self.pos]
        first = token[0]
        if first == "{":
            return "map"
        if first == "[":
            return "sequence"
        if first == '"':
            return f"string {token}"
        if token in ("true", "false"):
            return f"boolean `{token}`"
        if token == "null":
            return "null"
        kind = "floating point" if any(c in token for c in ".eE") else "integer"
        return f"{kind} `{token}`"

    # -- values ---------------------------------------------------------------------------

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def skip_ws(self) -> None:
        self.pos = _match_end(_WS, self.text, self.pos)

    def elements(self) -> Iterator[None]:
        """Walk the array at ``pos``: before each yield ``pos`` is at an element, which the caller reads."""
        self.pos += 1
        self.skip_ws()
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            if self.pos == len(self.text):
                self.fail("EOF while parsing a list")
            yield
            if self.after_item("]", "a list"):
                return

    def members(self) -> Iterator[tuple[str, int]]:
        """Walk the object at ``pos``: yields each key and its position, ``pos`` at the value to read."""
        self.pos += 1
        self.skip_ws()
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key_pos = self.pos
            yield self.key("an object"), key_pos
            if self.after_item("}", "an object"):
                return

    def after_item(self, close: str, what: str) -> bool:
        """After a list item or object member: True at ``close``, False after a ``,``."""
        self.skip_ws()
        char = self.peek()
        if char == ",":
            self.pos += 1
            self.skip_ws()
            if self.peek() == close:
                self.fail("trailing comma")
            return False
        if char == close:
            self.pos += 1
            return True
        self.fail(f"EOF while parsing {what}" if char == "" else f"expected `,` or `{close}`")

    def key(self, what: str) -> str:
        """An object key and its colon."""
        char = self.peek()
        if char != '"':
            self.fail(f"EOF while parsing {what}" if char == "" else "key must be a string")
        key = self.string()
        self.skip_ws()
        if self.peek() != ":":
            self.fail(f"EOF while parsing {what}" if self.peek() == "" else "expected `:`")
        self.pos += 1
        self.skip_ws()
        return key

    def value(self, depth: int, cook: bool) -> object:
        """Any JSON value. ``cook=False`` checks numbers' syntax only (payload, unknown keys)."""
        char = self.peek()
        if char == "{":
            return self.json_object(depth + 1, cook)
        if char == "[":
            return self.json_array(depth + 1, cook)
        if char == '"':
            return self.string()
        if char == "-" or "0" <= char <= "9":
            return self.number(cook)
        for literal, result in _LITERALS:
            if self.text.startswith(literal, self.pos):
                self.pos += len(literal)
                return result
        self.fail("EOF while parsing a value" if char == "" else "expected value")

    def check_depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.fail("recursion limit exceeded")

    def json_object(self, depth: int, cook: bool) -> dict[str, object]:
        """``{...}``; a repeated key keeps its last value."""
        self.check_depth(depth)
        result: dict[str, object] = {}
        for key, _ in self.members():
            result[key] = self.value(depth, cook)
        return result

    def json_array(self, depth: int, cook: bool) -> list[object]:
        self.check_depth(depth)
        return [self.value(depth, cook) for _ in self.elements()]

    def number(self, cook: bool) -> int | float | None:
        """A number literal; see the module docstring for int/float (D-11)."""
        start = self.pos
        match = _NUMBER.match(self.text, start)
        if match is None:
            self.fail("invalid number")
        self.pos = match.end()
        following = self.peek()
        if following and following in "0123456789.eE":
            self.fail("invalid number")
        if not cook:
            return None
        token = match.group()
        if match.group(1) is None and match.group(2) is None and token != "-0" and len(token) <= 21:
            integer = int(token)
            if _I64_MIN <= integer < _U64_END:
                return integer
        number = float(token)
        if number in (float("inf"), float("-inf")):
            self.fail("number out of range", start)
        return number

    def string(self) -> str:
        """A string literal (the opening quote is at ``pos``); escapes decoded, lone surrogates refused."""
        text = self.text
        pos = self.pos + 1
        parts: list[str] = []
        while True:
            end = _match_end(_STRING_CHUNK, text, pos)
            parts.append(text[pos:end])
            char = text[end : end + 1]
            if char == '"':
                self.pos = end + 1
                return "".join(parts)
            if char == "":
                self.fail("EOF while parsing a string", end)
            if char != "\\":
                self.fail("control character (\\u0000-\\u001F) found while parsing a string", end)
            pos = self.escape(end + 1, parts)

    def escape(self, pos: int, parts: list[str]) -> int:
        """The escape after a backslash at ``pos``; appends its character, returns the next position."""
        char = self.text[pos : pos + 1]
        if char in _ESCAPES:
            parts.append(_ESCAPES[char])
            return pos + 1
        if char != "u":
            self.fail("EOF while parsing a string" if char == "" else "invalid escape", pos)
        code = self.hex4(pos + 1)
        pos += 5
        if 0xDC00 <= code <= 0xDFFF:
            self.fail("lone trailing surrogate in hex escape", pos)
        if 0xD800 <= code <= 0xDBFF:
            low = self.hex4(pos + 2) if self.text.startswith("\\u", pos) else -1
            if not 0xDC00 <= low <= 0xDFFF:
                self.fail("lone leading surrogate in hex escape", pos)
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            pos += 6
        parts.append(chr(code))
        return pos

    def hex4(self, pos: int) -> int:
        if _HEX4.match(self.text, pos) is None:
            self.fail("invalid escape", pos)
        return int(self.text[pos : pos + 4], 16)
