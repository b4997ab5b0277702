"""One template string: compiled once when documents load, rendered per job.

A string without `{{`/`{%` is a constant and never touches Jinja. A string that is exactly one
`{{ expr }}` renders to the expression's own value; anything else renders to text. A failure of
any kind leaves as a `TemplateError` (`UndefinedError` naming the path as written).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.exceptions import TemplateSyntaxError as JinjaSyntaxError
from jinja2.exceptions import UndefinedError as JinjaUndefinedError

from runner.errors import RunnerError, TemplateError, UndefinedError
from runner.templating.refs import Reference, find_references
from runner.templating.values import (
    LIMITS,
    PathUndefined,
    format_size,
    to_data,
    to_text,
    undefined_message,
)
from runner.templating.lookup import MISS, Lookup, lookup_of
from runner.templating.sandbox import DEADLINE, ENV, GLOBALS

_RESULT = "_runner_result"  # where a single-expression program leaves its value


class TemplateSyntaxError(TemplateError):
    """A template cannot be compiled. `line` is 1-based within the template; `path` is where the
    string sits inside a tree given to `compile_tree` (keys and list indexes)."""

    def __init__(self, reason: str, line: int, path: tuple[str | int, ...] = ()) -> None:
        self.reason, self.line, self.path = reason, line, path
        super().__init__(f"{reason} (template line {line})")



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
    _lookup: Lookup | None = field(default=None, compare=False, repr=False)
    _timed: bool = field(default=False, compare=False, repr=False)

    def render(self, context: Mapping[str, Any]) -> Any:
        if self.is_constant:
            return self.source
        if self._lookup is not None:
            value = self._lookup.value(context)
            if value is not MISS:
                return value
        return render_program(self, context)

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



@lru_cache(maxsize=8192)
def _compile(source: str) -> Template:
    ast = _parse(source)
    refs = find_references(ast)
    clocked = any(True for _ in ast.find_all((nodes.For, nodes.Call, nodes.CallBlock)))
    # A filter is one call that the clock cannot interrupt (`'x' * 900000 | wordwrap(1)` runs
    # for seconds): its time is checked once it returns, so the step fails rather than succeed.
    timed = clocked or any(True for _ in ast.find_all(nodes.Filter))
    expression = _single_expression(ast)
    lookup = lookup_of(expression)
    program = _build(ast, expression)
    return Template(source, False, expression is not None, refs, program, clocked, lookup, timed)


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


def render_program(template: Template, context: Mapping[str, Any]) -> Any:
    started = time.monotonic() if template._timed else 0.0
    token = DEADLINE.set(started + LIMITS.max_seconds) if template._clocked else None
    try:
        program = template._program
        # Built directly: Template.new_context copies the globals ChainMap twice (5x the cost).
        jinja_context = ENV.context_class(ENV, {**GLOBALS, **context}, None, program.blocks)
        if template.is_expression:
            for _ in program.root_render_func(jinja_context):
                pass
            result = to_data(jinja_context.vars[_RESULT], LIMITS.max_bytes)
        else:
            result = _collect_text(program.root_render_func(jinja_context))
        if template._timed and time.monotonic() - started > LIMITS.max_seconds:
            raise TemplateError(f"template ran too long (more than {LIMITS.max_seconds:g} s)")
        return result
    except Exception as exc:  # noqa: BLE001 -- every failure leaves as a TemplateError
        error, cause = _render_error(exc, template, context)
        raise error from cause
    finally:
        if token is not None:
            DEADLINE.reset(token)


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
