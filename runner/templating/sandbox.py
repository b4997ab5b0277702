"""The sandboxed Jinja environment every template runs in.

Stricter than Jinja's own sandbox: a lookup on a mapping means its keys, attributes starting with
`_` are refused, repetition operators and calls are size-checked, and loops check the render's
clock. The code generator routes lookups through `lookup_attr`/`lookup_item` with the path as
written, so a missing value can be named in its message.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runner.errors import TemplateError
from runner.templating.filters import FILTERS, FUNCTIONS
from runner.templating.guards import check_binop, check_call
from runner.templating.values import LIMITS, PathUndefined, check_size, to_text

DEADLINE: ContextVar[float] = ContextVar("runner_template_deadline", default=math.inf)


def _check_clock() -> None:
    if time.monotonic() > DEADLINE.get():
        raise TemplateError(f"template ran too long (more than {LIMITS.max_seconds:g} s)")


class _Clocked:
    """What a `{% for %}` loop walks: the items, with the render's clock checked on the way."""

    __slots__ = ("_items",)

    def __init__(self, items: Any) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)  # TypeError for generators: the loop then counts by itself

    def __iter__(self) -> Iterator[Any]:
        for count, item in enumerate(self._items):
            if not count & 255:
                _check_clock()
            yield item


def _path_text(node: nodes.Node) -> str:
    """How a lookup chain reads in the template; built from source only, never from values."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_path_text(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return _path_text(node.node) + _key_text(node.arg)
    if isinstance(node, nodes.Call):
        return _path_text(node.node) + "()"
    if isinstance(node, nodes.Filter) and node.node is not None:
        return f"({_path_text(node.node)} | {node.name})"
    return "(…)"


def _key_text(arg: nodes.Node) -> str:
    if isinstance(arg, nodes.Const):
        return f"[{arg.value!r}]"
    return f"[{arg.name}]" if isinstance(arg, nodes.Name) else "[…]"


class _CodeGenerator(CodeGenerator):
    """Routes lookups through `lookup_attr`/`lookup_item` with their path, and `~` through
    `join_text`, so that messages name the path and joins are size-checked."""

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        self.write("environment.lookup_attr(")
        self.visit(node.node, frame)
        self.write(f", {node.attr!r}, {_path_text(node.node)!r})")

    @optimizeconst
    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.lookup_item(")
        self.visit(node.node, frame)
        self.write(", ")
        self.visit(node.arg, frame)
        self.write(f", {_path_text(node.node)!r}, {_key_text(node.arg)!r})")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_text((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, stricter: keys before attributes, no `_` attributes, bounded size and time."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            return self._key(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping):
            return self._key(obj, argument)
        return super().getitem(obj, argument)

    def _key(self, obj: Mapping[Any, Any], key: Any) -> Any:
        try:
            return obj[key]
        except (KeyError, TypeError):
            return self.undefined(obj=obj, name=key)

    def lookup_attr(self, obj: Any, attr: str, parent_path: str) -> Any:
        """`a.b` in a template; `parent_path` is how `a` is written there."""
        if type(obj) is dict and attr in obj:
            return obj[attr]
        if isinstance(obj, Undefined):
            return obj.extended(f"{parent_path}.{attr}") if isinstance(obj, PathUndefined) else obj
        value = self.getattr(obj, attr)
        if isinstance(value, Undefined) and value._undefined_obj is obj:
            return PathUndefined(obj=obj, name=attr, path=f"{parent_path}.{attr}",
                                 parent_path=parent_path)
        return value

    def lookup_item(self, obj: Any, key: Any, parent_path: str, key_text: str) -> Any:
        """`a[key]` in a template; `key_text` is how the subscript is written there."""
        if isinstance(obj, Undefined):
            return obj.extended(parent_path + key_text) if isinstance(obj, PathUndefined) else obj
        value = self.getitem(obj, key)
        if isinstance(value, Undefined) and value._undefined_obj is obj:
            return PathUndefined(obj=obj, name=key, path=parent_path + key_text,
                                 parent_path=parent_path)
        return value

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Fail at once: an unsafe attribute must not pass silently through `default` or `defined`.
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} "
                            "objects is not allowed")

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_clock()
        check_call(obj, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            check_size(len(result))
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def concat(self, parts: Iterable[str]) -> str:
        """Joins the buffers of macros, `{% set %}` blocks and filter blocks."""
        pieces = parts if isinstance(parts, list) else list(parts)
        check_size(sum(map(len, pieces)), "output")
        return "".join(pieces)

    def join_text(self, parts: tuple[Any, ...]) -> str:
        texts = [to_text(part) for part in parts]
        check_size(sum(map(len, texts)))
        return "".join(texts)

    @staticmethod
    def clocked(items: Any) -> Any:
        return items if isinstance(items, Undefined) else _Clocked(items)


def _make_environment() -> _Environment:
    env = _Environment(undefined=PathUndefined, autoescape=False, finalize=to_text,
                       keep_trailing_newline=True)
    env.globals.pop("lipsum", None)  # builds arbitrarily large text in one call
    env.globals.update(FUNCTIONS)
    env.filters.update(FILTERS)
    env.filters["_clocked"] = env.clocked
    return env


ENV = _make_environment()
GLOBALS = dict(ENV.globals)
BUILTIN_NAMES: frozenset[str] = frozenset(GLOBALS) | {"loop"}
