"""YAML values with templates anywhere inside: compiled as trees, rendered to plain data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import TemplateError
from runner.templating.compiled import Template, TemplateSyntaxError, compile_template


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
