"""Strict YAML reading: YAML 1.2 core scalars, no duplicate keys, bounded aliases, and positions.

PyYAML speaks YAML 1.1 (`NO` is false, `1:20` is a number, dates become `date` objects), ends a
plain scalar at `?` inside `[...]` and `{...}`, and keeps the last of two duplicate keys silently.
Recipes are reviewed by people who expect what they read to be what runs, so this module composes
PyYAML's node graph itself (with a scanner that follows YAML 1.2's plain-scalar rules) and builds
plain Python values from it with the YAML 1.2 core schema, while recording where every key and
value stands in the file. A duplicate key is reported, every one of them, without ending the read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml.reader
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner
from yaml.tokens import ScalarToken

from runner.errors import Diagnostic, Location, Severity

Path = tuple[str | int, ...]

#: Values one document may expand to through aliases before it is refused ("billion laughs").
MAX_VALUES = 100_000

_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")

_STR, _INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL_TAG, _NULL_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"


class CoreResolver(BaseResolver):
    """Resolves plain scalars by the YAML 1.2 core schema instead of PyYAML's YAML 1.1 rules."""


for _tag, _regexp, _first in (
    (_BOOL_TAG, _BOOL, "tTfF"),
    (_NULL_TAG, _NULL, ["~", "n", "N", ""]),
    (_INT_TAG, _INT, "-+0123456789"),
    (_FLOAT_TAG, _FLOAT, "-+.0123456789"),
    (_FLOAT_TAG, _INF, "-+."),
    (_FLOAT_TAG, _NAN, "."),
):
    CoreResolver.add_implicit_resolver(_tag, _regexp, list(_first))


_BREAK = "\0 \t\r\n\x85\u2028\u2029"
_FLOW_INDICATORS = ",[]{}"


class FlowScanner(Scanner):
    """PyYAML's scanner with YAML 1.2's rules for `?` in flow context (`[...]`, `{...}`).

    YAML 1.1 forbids `?` anywhere in a plain scalar inside brackets, so PyYAML reads
    `{url: /search?q=1}` as a syntax error and `[?x]` as a mapping. YAML 1.2 allows `?` inside a
    plain scalar, and at its start when a non-space, non-indicator character follows; only `?`
    followed by a space, a line end or a flow indicator is the explicit-key indicator (`{? k : v}`).
    `:` keeps PyYAML's rules, which already match YAML 1.2: it ends a plain scalar only when a
    space, a line end or (in flow context) a flow indicator follows: `{url: http://x/y}` is a URL.
    """

    def check_key(self) -> bool:
        if self.flow_level:
            return self.peek(1) in _BREAK + _FLOW_INDICATORS
        return bool(super().check_key())

    def check_plain(self) -> bool:
        if self.flow_level and self.peek() == "?":
            return self.peek(1) not in _BREAK + _FLOW_INDICATORS
        return bool(super().check_plain())

    def scan_plain(self) -> Any:
        # PyYAML's `scan_plain` with one change: in flow context `?` no longer ends the scalar.
        chunks: list[str] = []
        start_mark = self.get_mark()
        end_mark = start_mark
        indent = self.indent + 1
        spaces: list[str] = []
        while True:
            length = 0
            if self.peek() == "#":
                break
            while True:
                ch = self.peek(length)
                if (
                    ch in _BREAK
                    or (ch == ":" and self.peek(length + 1)
                        in _BREAK + (_FLOW_INDICATORS if self.flow_level else ""))
                    or (self.flow_level and ch in _FLOW_INDICATORS)
                ):
                    break
                length += 1
            if length == 0:
                break
            self.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(self.prefix(length))
            self.forward(length)
            end_mark = self.get_mark()
            spaces = self.scan_plain_spaces(indent, start_mark)
            if not spaces or self.peek() == "#" or (not self.flow_level and self.column < indent):
                break
        return ScalarToken("".join(chunks), True, start_mark, end_mark)


class _NodeLoader(Reader, FlowScanner, Parser, Composer, CoreResolver):
    """Parses and composes nodes only; values are built by `_Builder`."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        FlowScanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        CoreResolver.__init__(self)


class YamlError(Exception):
    """A YAML problem at a position (0-based line and column as PyYAML reports them)."""

    def __init__(self, code: str, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.column = code, message, line, column


@dataclass
class SourceDocument:
    """One YAML document: its values and where each key and value stands in the file."""

    file: str
    index: int
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    block_scalars: set[Path] = field(default_factory=set)

    def locate(self, path: Path, *, key: bool = False) -> Location:
        """The position of the value (or, with `key`, of the key) at `path`, else its nearest parent."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            table = self.keys if key and end == len(path) else self.values
            if prefix in table:
                line, column = table[prefix]
                return Location(self.file, line + 1, column + 1)
        return Location(self.file, 1, 1)

    def template_line(self, path: Path, line_in_template: int) -> Location:
        """The file position of line `line_in_template` (1-based) of the string at `path`."""
        base = self.locate(path)
        offset = line_in_template - 1 + (1 if path in self.block_scalars else 0)
        if offset == 0:
            return base
        return Location(base.file, base.line + offset, 1)


class _Builder:
    """Builds Python values from a composed node graph, recording positions, within a budget.

    Problems a reader can step over (duplicate keys) are collected in `problems` so that one
    reading reports all of them; problems that make the value unknowable raise YamlError.
    """

    def __init__(self, doc: SourceDocument) -> None:
        self.doc = doc
        self.budget = MAX_VALUES
        self.open: set[int] = set()
        self.problems: list[Diagnostic] = []

    def build(self, node: Node, path: Path) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise YamlError(
                "yaml-too-large",
                f"the document expands to more than {MAX_VALUES} values (aliases nested too deep)",
                node.start_mark.line,
                node.start_mark.column,
            )
        self.doc.values.setdefault(path, (node.start_mark.line, node.start_mark.column))
        if isinstance(node, ScalarNode):
            if node.style in ("|", ">"):
                self.doc.block_scalars.add(path)
            return _scalar(node)
        if id(node) in self.open:
            raise YamlError(
                "yaml-alias", "an alias refers to the value that contains it",
                node.start_mark.line, node.start_mark.column,
            )
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self.open.discard(id(node))
        raise YamlError("yaml-syntax", "unsupported YAML node", node.start_mark.line, 0)

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[tuple[type, Any], Any] = {}  # YAML identity -> the key as first written
        for (key_node, value_node), key in zip(node.value, self._keys(node)):
            identity = _identity(key)
            if identity in seen:
                line = self.doc.keys.get(path + (seen[identity],), (0, 0))[0] + 1
                self._report(
                    "duplicate-key",
                    f"duplicate key {yaml_text(key)} (first defined at line {line})",
                    key_node,
                )
                self._check_discarded(value_node, path + (key,))
                continue
            seen[identity] = key
            self.doc.keys[path + (key,)] = (key_node.start_mark.line, key_node.start_mark.column)
            result[key] = self.build(value_node, path + (key,))
        return result

    def _keys(self, node: MappingNode) -> list[Any]:
        """The mapping's keys, compared as YAML compares them (by type and value).

        `1`, `1.0` and `true` are three YAML keys but one Python dict key (1 == 1.0 == True). Rather
        than call them duplicates or drop one, such keys are read as the text written, and a
        warning says so.
        """
        keys: list[Any] = []
        groups: dict[Any, dict[tuple[type, Any], ScalarNode]] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlError(
                    "yaml-key", "a mapping key must be a plain value, not a list or mapping",
                    key_node.start_mark.line, key_node.start_mark.column,
                )
            key = _scalar(key_node)
            keys.append(key)
            groups.setdefault(key, {}).setdefault(_identity(key), key_node)
        for index, (key_node, _) in enumerate(node.value):
            group = groups[keys[index]]
            if len(group) > 1:
                if key_node is list(group.values())[1]:
                    self._report_collision(list(group.values()), key_node)
                keys[index] = key_node.value
        return keys

    def _report_collision(self, nodes: list[ScalarNode], at: ScalarNode) -> None:
        first = nodes[0]
        written = ", ".join(f"'{n.value}'" for n in nodes)
        self._report(
            "yaml-key",
            f"keys {yaml_text(_scalar(first))} (line {first.start_mark.line + 1}) and "
            f"{yaml_text(_scalar(at))} are different YAML keys but one key once loaded "
            f"({yaml_text(_scalar(first))} == {yaml_text(_scalar(at))} in Python); this mapping "
            f"reads them as the strings {written} (quote them to silence this)",
            at, severity="warning",
        )

    def _report(self, code: str, message: str, node: Node, severity: Severity = "error") -> None:
        mark = node.start_mark
        location = Location(self.doc.file, mark.line + 1, mark.column + 1)
        self.problems.append(Diagnostic(code, message, location, severity=severity))

    def _check_discarded(self, node: Node, path: Path) -> None:
        """Reads a refused key's value only for its own problems; its positions are not kept."""
        kept = self.doc
        self.doc = SourceDocument(kept.file, kept.index, None)
        try:
            self.build(node, path)
        finally:
            self.doc = kept


def _identity(key: Any) -> tuple[type, Any]:
    """How YAML compares keys: by type and value, so 1, 1.0, true and '1' are four keys."""
    if isinstance(key, float) and math.isnan(key):
        return (float, "nan")  # NaN is unequal to itself; YAML's `.nan` keys are still duplicates
    return (type(key), key)


def yaml_text(value: Any) -> str:
    """A value for messages as YAML spells it (`null`, `true`, `'text'`, `1.0`, `.nan`), not as
    Python's `None` or `True`; a list or mapping is named, not quoted whole."""
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


def _scalar(node: ScalarNode) -> Any:
    tag, text = node.tag, node.value
    if tag == _STR or tag == "!":
        return text
    if tag == _NULL_TAG:
        return None
    if tag == _BOOL_TAG:
        return text.lower() == "true"
    if tag == _INT_TAG:
        return _to_int(text, node)
    if tag == _FLOAT_TAG:
        if _INF.match(text):
            return -math.inf if text.startswith("-") else math.inf
        if _NAN.match(text):
            return math.nan
        return float(text)
    raise YamlError(
        "yaml-tag", f"unsupported tag {tag}; use plain values", node.start_mark.line,
        node.start_mark.column,
    )


def _to_int(text: str, node: ScalarNode) -> int:
    try:
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text)
    except ValueError:
        raise YamlError(
            "yaml-tag", f"'{text}' is not an integer", node.start_mark.line, node.start_mark.column
        ) from None


def read_documents(text: str, file: str) -> Iterator[SourceDocument | Diagnostic]:
    """Yields every non-empty document of a YAML stream, each after the Diagnostics of its duplicate
    keys (its first definition kept), and a last Diagnostic where reading stopped, if it did."""
    loader = None
    index = 0
    try:
        loader = _NodeLoader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
                index += 1
                continue
            doc = SourceDocument(file, index, None)
            builder = _Builder(doc)
            doc.data = builder.build(node, ())
            yield from builder.problems
            yield doc
            index += 1
    except YamlError as exc:
        yield Diagnostic(exc.code, exc.message, Location(file, exc.line + 1, exc.column + 1))
    except yaml.MarkedYAMLError as exc:
        yield _syntax_error(file, exc)
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        yield Diagnostic(
            "yaml-syntax", f"invalid YAML: character {exc.character!r} is not allowed",
            Location(file, line, column),
        )
    except yaml.YAMLError as exc:
        yield Diagnostic("yaml-syntax", f"invalid YAML: {exc}", Location(file, 1, 1))
    except RecursionError:
        yield Diagnostic("yaml-too-large", "the document is nested too deeply", Location(file, 1, 1))
    finally:
        if loader is not None:
            loader.dispose()


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    """Where the YAML stops making sense, and what it was in the middle of. An unclosed quote is
    reported where the quote opens (where the fix goes), not where the parser gave up, which
    can be many lines later."""
    problem = exc.problem or exc.context or "invalid YAML"
    mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
    if exc.problem and exc.context and context is not None and mark is not None:
        if "quoted scalar" in exc.context:
            problem = (f"this quoted string is never closed ({exc.problem} at "
                       f"{mark.line + 1}:{mark.column + 1})")
            mark = context
        elif (context.line, context.column) != (mark.line, mark.column):
            problem += f" ({exc.context} at {context.line + 1}:{context.column + 1})"
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Diagnostic("yaml-syntax", f"invalid YAML: {problem}", Location(file, line, column))


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
