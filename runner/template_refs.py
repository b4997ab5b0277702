"""Static analysis of templates: which free names a template reads, and along which constant keys.

`runner validate` checks these chains against each template's scope (`steps.<id>` only for earlier
steps, declared `vars`, known top-level names) without rendering anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jinja2 import nodes


@dataclass(frozen=True)
class Reference:
    """A free name in a template and the constant keys looked up on it: `steps.a.body` is
    `Reference("steps", ("a", "body"), line)`."""

    root: str
    path: tuple[str | int, ...]
    line: int

    def __str__(self) -> str:
        return self.root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)


def _stored_names(target: nodes.Node) -> set[str]:
    if isinstance(target, nodes.Name):
        return {target.name}
    if isinstance(target, nodes.Tuple):
        return {name for item in target.items for name in _stored_names(item)}
    return set()


class _ReferenceFinder:
    """Collects free-variable lookup chains, skipping names the template binds itself."""

    def __init__(self) -> None:
        self.found: list[Reference] = []

    def visit(self, node: nodes.Node, bound: set[str]) -> None:
        handler = getattr(self, f"visit_{type(node).__name__}", None)
        if handler is not None:
            handler(node, bound)
        else:
            self.visit_all(node.iter_child_nodes(), bound)

    def visit_all(self, children: Iterable[nodes.Node], bound: set[str]) -> None:
        for child in children:
            self.visit(child, bound)

    def visit_Name(self, node: nodes.Name, bound: set[str]) -> None:
        if node.ctx == "load" and node.name not in bound:
            self.found.append(Reference(node.name, (), node.lineno))

    def visit_Getattr(self, node: nodes.Getattr | nodes.Getitem, bound: set[str]) -> None:
        path: list[str | int] = []
        current: nodes.Node = node
        while isinstance(current, (nodes.Getattr, nodes.Getitem)):
            if isinstance(current, nodes.Getattr):
                path.append(current.attr)
            elif isinstance(current.arg, nodes.Const) and type(current.arg.value) in (str, int):
                path.append(current.arg.value)
            else:  # a computed key: the constant path ends before it
                path.clear()
                self.visit(current.arg, bound)
            current = current.node
        if isinstance(current, nodes.Name) and current.ctx == "load":
            if current.name not in bound:
                self.found.append(Reference(current.name, tuple(reversed(path)), current.lineno))
        else:
            self.visit(current, bound)

    visit_Getitem = visit_Getattr

    def visit_For(self, node: nodes.For, bound: set[str]) -> None:
        self.visit(node.iter, bound)
        inner = bound | _stored_names(node.target) | {"loop"}
        if node.test is not None:
            self.visit(node.test, inner)
        self.visit_all(node.body, inner)
        self.visit_all(node.else_, set(bound))

    def visit_Assign(self, node: nodes.Assign, bound: set[str]) -> None:
        self.visit(node.node, bound)
        self._bind(node.target, bound)

    def visit_AssignBlock(self, node: nodes.AssignBlock, bound: set[str]) -> None:
        self.visit_all(node.body, set(bound))
        if node.filter is not None:
            self.visit(node.filter, bound)
        self._bind(node.target, bound)

    def _bind(self, target: nodes.Node, bound: set[str]) -> None:
        if isinstance(target, nodes.NSRef):  # `{% set ns.x = ... %}` reads `ns`
            self.visit_Name(nodes.Name(target.name, "load", lineno=target.lineno), bound)
        bound.update(_stored_names(target))

    def visit_Macro(self, node: nodes.Macro, bound: set[str]) -> None:
        bound.add(node.name)
        self._callable(node, bound)

    def visit_CallBlock(self, node: nodes.CallBlock, bound: set[str]) -> None:
        self.visit(node.call, bound)
        self._callable(node, bound)

    def _callable(self, node: nodes.Macro | nodes.CallBlock, bound: set[str]) -> None:
        self.visit_all(node.defaults, bound)
        inner = bound | {arg.name for arg in node.args} | {"varargs", "kwargs", "caller"}
        self.visit_all(node.body, inner)

    def visit_With(self, node: nodes.With, bound: set[str]) -> None:
        self.visit_all(node.values, bound)
        inner = bound | {name for target in node.targets for name in _stored_names(target)}
        self.visit_all(node.body, inner)


def find_references(ast: nodes.Template) -> tuple[Reference, ...]:
    """Every free-name lookup chain of a parsed template, in order."""
    finder = _ReferenceFinder()
    finder.visit_all(ast.body, set())
    return tuple(finder.found)
