"""Datapills: the sandboxed Jinja environment, compiled once per document, rendered per job.

A string without `{{`/`{%` is a constant and never touches Jinja. A string that is exactly one
`{{ expr }}` renders to the expression's own value; anything else renders to text. Lookups on a
mapping always mean its keys. A missing value raises `UndefinedError` naming the path as written
and what was there instead. Output size and run time are bounded (see `runner.filters.LIMITS`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.exceptions import TemplateSyntaxError as JinjaSyntaxError
from jinja2.exceptions import UndefinedError as JinjaUndefinedError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg

from runner.errors import RunnerError, TemplateError, UndefinedError
from runner.template_refs import Reference, find_references
from runner.filters import (
    FILTERS,
    FUNCTIONS,
    LIMITS,
    PathUndefined,
    RenderLimits,
    check_binop,
    check_call,
    check_size,
    format_size,
    to_data,
    to_text,
    undefined_message,
)

__all__ = [
    "BUILTIN_NAMES", "LIMITS", "CompiledTree", "Reference", "RenderLimits", "Template",
    "TemplateSyntaxError", "TreeConstant", "TreeList", "TreeMapping", "compile_template",
    "compile_tree", "iter_templates", "make_context", "references", "render_tree",
]

_RESULT = "_runner_result"  # where a single-expression program leaves its value
_DEADLINE: ContextVar[float] = ContextVar("runner_template_deadline", default=math.inf)


class TemplateSyntaxError(TemplateError):
    """A template cannot be compiled. `line` is 1-based within the template; `path` is where the
    string sits inside a tree given to `compile_tree` (keys and list indexes)."""

    def __init__(self, reason: str, line: int, path: tuple[str | int, ...] = ()) -> None:
        self.reason, self.line, self.path = reason, line, path
        super().__init__(f"{reason} (template line {line})")


def _check_clock() -> None:
    if time.monotonic() > _DEADLINE.get():
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
_GLOBALS = dict(ENV.globals)
BUILTIN_NAMES: frozenset[str] = frozenset(_GLOBALS) | {"loop"}


@dataclass(frozen=True)
class Template:
    """One compiled string. `render` returns `source` itself for constants, the expression's own
    value for a single `{{ expr }}`, and text otherwise."""

    source: str
    is_constant: bool
    is_expression: bool = False
    references: tuple[Reference, ...] = ()
    _program: Any = field(default=None, compare=False, repr=False)
    _clocked: bool = field(default=False, compare=False, repr=False)
    _lookup: _Lookup | None = field(default=None, compare=False, repr=False)

    def render(self, context: Mapping[str, Any]) -> Any:
        if self.is_constant:
            return self.source
        if self._lookup is not None:
            value = self._lookup.value(context)
            if value is not _MISS:
                return value
        return _render(self, context)

    def render_text(self, context: Mapping[str, Any]) -> str:
        """Always text: what a mapping key or `| string` would give."""
        value = self.render(context)
        return value if isinstance(value, str) else to_text(value)


_UNSUPPORTED = {nodes.Extends: "extends", nodes.Include: "include", nodes.Import: "import",
                nodes.FromImport: "from"}


def _parse(source: str) -> nodes.Template:
    try:
        ast = ENV.parse(source)
    except JinjaSyntaxError as exc:
        raise TemplateSyntaxError((exc.message or "syntax error").rstrip("."), exc.lineno) from exc
    except Exception as exc:  # e.g. RecursionError on absurd nesting, huge number literals
        raise TemplateSyntaxError(f"template cannot be parsed ({type(exc).__name__})", 1) from exc
    for node in ast.find_all(tuple(_UNSUPPORTED)):
        raise TemplateSyntaxError(f"{{% {_UNSUPPORTED[type(node)]} %}} is not supported",
                                  node.lineno)
    return ast


def _single_expression(ast: nodes.Template) -> nodes.Expr | None:
    if len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    parts = [node for node in ast.body[0].nodes
             if not (isinstance(node, nodes.TemplateData) and not node.data.strip())]
    if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
        return parts[0]
    return None


def _build(ast: nodes.Template, expression: nodes.Expr | None) -> Any:
    if expression is not None:
        target = nodes.Name(_RESULT, "store", lineno=expression.lineno)
        ast = nodes.Template([nodes.Assign(target, expression, lineno=expression.lineno)],
                             lineno=1)
    for loop in list(ast.find_all(nodes.For)):
        loop.iter = nodes.Filter(loop.iter, "_clocked", [], [], None, None, lineno=loop.lineno)
    ast.set_environment(ENV)
    try:
        return ENV.from_string(ast)
    except JinjaSyntaxError as exc:  # e.g. an unknown filter or test
        raise TemplateSyntaxError((exc.message or "syntax error").rstrip("."), exc.lineno) from exc
    except Exception as exc:
        raise TemplateSyntaxError(f"template cannot be compiled ({type(exc).__name__})", 1) from exc


_MISS: Any = object()  # the fast path could not decide: the full render runs (and explains)


@dataclass(frozen=True)
class _Lookup:
    """A template that is only `{{ name.key[0].key | filter }}`: plain-data lookups and filters
    without arguments, done directly instead of through a Jinja render (about 5x cheaper).

    It takes only the certain path: the name is in the context, every step is a key of a `dict`
    or an index inside a `list`, and the filters return. Anything else (a missing key, another
    type, a filter that raises) gives `_MISS`, and the full render gives the value or the error,
    so both paths always agree."""

    name: str
    keys: tuple[str | int, ...]
    filters: tuple[Callable[[Any], Any], ...]

    def value(self, context: Mapping[str, Any]) -> Any:
        value = context.get(self.name, _MISS)
        for key in self.keys:
            kind = type(value)
            if kind is dict:
                value = value.get(key, _MISS)
            elif kind is list and type(key) is int and -len(value) <= key < len(value):
                value = value[key]
            else:
                return _MISS
        if value is _MISS:
            return _MISS
        try:
            for function in self.filters:
                value = function(value)
            return to_data(value, LIMITS.max_bytes)
        except Exception:  # noqa: BLE001 -- the full render raises the proper error
            return _MISS


def _lookup_of(expression: nodes.Expr | None) -> _Lookup | None:
    """The `_Lookup` for `expression`, or None when it is anything more than that."""
    filters: list[Callable[[Any], Any]] = []
    node = expression
    while isinstance(node, nodes.Filter):
        function = ENV.filters.get(node.name)
        plain = not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
        if function is None or not plain or _PassArg.from_obj(function) is not None:
            return None
        filters.insert(0, function)
        node = node.node
    keys: list[str | int] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            keys.insert(0, node.attr)
        elif isinstance(node.arg, nodes.Const) and type(node.arg.value) in (str, int):
            keys.insert(0, node.arg.value)
        else:
            return None
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load" or node.name in BUILTIN_NAMES:
        return None
    return _Lookup(node.name, tuple(keys), tuple(filters))


@lru_cache(maxsize=8192)
def _compile(source: str) -> Template:
    ast = _parse(source)
    refs = find_references(ast)
    clocked = any(True for _ in ast.find_all((nodes.For, nodes.Call, nodes.CallBlock)))
    expression = _single_expression(ast)
    lookup = _lookup_of(expression)
    program = _build(ast, expression)
    return Template(source, False, expression is not None, refs, program, clocked, lookup)


def compile_template(source: str) -> Template:
    """Compile once, when documents load. Raises `TemplateSyntaxError` (a `TemplateError`)."""
    if "{{" not in source and "{%" not in source:
        return Template(source, True)
    return _compile(source)


def references(source: str) -> list[Reference]:
    """Every free-name lookup chain in `source`, for static checks (`runner validate`)."""
    return list(compile_template(source).references)


def make_context(**names: Any) -> dict[str, Any]:
    """The names a template sees, e.g. `make_context(trigger=..., steps=..., vars=...)`."""
    return dict(names)


def _render(template: Template, context: Mapping[str, Any]) -> Any:
    token = _DEADLINE.set(time.monotonic() + LIMITS.max_seconds) if template._clocked else None
    try:
        program = template._program
        # Built directly: Template.new_context copies the globals ChainMap twice (5x the cost).
        jinja_context = ENV.context_class(ENV, {**_GLOBALS, **context}, None, program.blocks)
        if template.is_expression:
            for _ in program.root_render_func(jinja_context):
                pass
            return to_data(jinja_context.vars[_RESULT], LIMITS.max_bytes)
        return _collect_text(program.root_render_func(jinja_context))
    except Exception as exc:  # noqa: BLE001 -- every failure leaves as a TemplateError
        error, cause = _render_error(exc, template, context)
        raise error from cause
    finally:
        if token is not None:
            _DEADLINE.reset(token)


def _collect_text(chunks: Iterator[str]) -> str:
    limit, size, parts = LIMITS.max_bytes, 0, []
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            break
        parts.append(chunk)
    text = "".join(parts)
    if size > limit or (size * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit):
        raise TemplateError(f"output larger than {format_size(limit)}")
    return text


# Python's messages for these name types, not values; others (ValueError: "invalid literal ...:
# 'abc'") may quote data, so they are shown only when they quote nothing.
_PLAIN_ERRORS = (TypeError, ZeroDivisionError, OverflowError, IndexError, AttributeError)


def _render_error(exc: Exception, template: Template,
                  context: Mapping[str, Any]) -> tuple[RunnerError, Exception | None]:
    line = _template_line(exc.__traceback__) if "\n" in template.source.strip() else None
    if isinstance(exc, JinjaUndefinedError):
        undefined = getattr(exc, "undefined", None)
        if isinstance(undefined, PathUndefined):
            text = undefined_message(undefined, context)
        else:
            text = str(exc)
        return UndefinedError(_at(text, line)), exc
    if isinstance(exc, TemplateError):
        return type(exc)(_at(str(exc), line)), exc
    if isinstance(exc, RunnerError):  # e.g. a SecretError from `secrets.X`: keep its kind
        return type(exc)(_at(str(exc), line)), exc
    if isinstance(exc, JinjaTemplateError):
        return TemplateError(_at(exc.message or type(exc).__name__, line)), exc
    if isinstance(exc, RecursionError):
        return TemplateError(_at("template recursed too deeply", line)), None
    if isinstance(exc, MemoryError):
        return TemplateError(_at("template used too much memory", line)), None
    text = str(exc)
    if "integer string conversion" in text:
        return TemplateError(_at("number too large to print", line)), None
    if isinstance(exc, _PLAIN_ERRORS) or not ("'" in text or '"' in text or len(text) > 200):
        return TemplateError(_at(text or type(exc).__name__, line)), exc
    return TemplateError(_at(f"invalid value ({type(exc).__name__})", line)), None


def _at(message: str, line: int | None) -> str:
    return f"{message} (template line {line})" if line else message


def _template_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


@dataclass(frozen=True)
class TreeConstant:
    value: Any

    def render(self, context: Mapping[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class TreeList:
    items: tuple[CompiledTree, ...]

    def render(self, context: Mapping[str, Any]) -> list[Any]:
        return [item.render(context) for item in self.items]


@dataclass(frozen=True)
class TreeMapping:
    """A mapping whose string keys are templates too (they always render to text)."""

    items: tuple[tuple[Any, CompiledTree], ...]

    def render(self, context: Mapping[str, Any]) -> dict[Any, Any]:
        rendered: dict[Any, Any] = {}
        for key, value in self.items:
            if isinstance(key, Template):
                key = key.render_text(context)
            if key in rendered:
                raise TemplateError(f"two keys render to {key!r}")
            rendered[key] = value.render(context)
        return rendered


CompiledTree = Template | TreeMapping | TreeList | TreeConstant


def compile_tree(value: Any) -> CompiledTree:
    """Compile every string in a YAML value; a syntax error's `path` says which one failed."""
    if isinstance(value, str):
        return compile_template(value)
    if isinstance(value, (list, tuple)):
        return TreeList(tuple(_compile_at(index, item) for index, item in enumerate(value)))
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            compiled = _compile_at(key, key) if isinstance(key, str) else None
            live = isinstance(compiled, Template) and not compiled.is_constant
            items.append((compiled if live else key, _compile_at(key, item)))
        return TreeMapping(tuple(items))
    return TreeConstant(value)


def _compile_at(where: Any, value: Any) -> CompiledTree:
    try:
        return compile_tree(value)
    except TemplateSyntaxError as exc:
        raise TemplateSyntaxError(exc.reason, exc.line, (where, *exc.path)) from exc


def render_tree(tree: CompiledTree, context: Mapping[str, Any]) -> Any:
    """Render to fresh plain dicts, lists and values (nothing is shared between jobs)."""
    return tree.render(context)


def iter_templates(tree: CompiledTree, path: tuple[Any, ...] = ()
                   ) -> Iterator[tuple[tuple[Any, ...], Template]]:
    """Every non-constant template in a tree with where it sits (a key yields its own path)."""
    if isinstance(tree, Template):
        if not tree.is_constant:
            yield path, tree
    elif isinstance(tree, TreeList):
        for index, item in enumerate(tree.items):
            yield from iter_templates(item, (*path, index))
    elif isinstance(tree, TreeMapping):
        for key, item in tree.items:
            name = key.source if isinstance(key, Template) else key
            if isinstance(key, Template):
                yield (*path, name), key
            yield from iter_templates(item, (*path, name))
