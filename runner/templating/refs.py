"""Static analysis of templates: which free names a template reads, and along which constant keys.

`runner validate` checks these chains against each template's scope (`steps.<id>` only for earlier
steps, declared `vars`, known top-level names) without rendering anything.

A chain is *guarded* when the template copes with it being undefined, so that a secret it names
may be left unprovided: it is the operand of `| default(...)` (`| d(...)`) or of `is defined` /
`is undefined`, or it is read only where a test has shown it exists: in the branch of an `if`
(statement or expression) or the right side of an `and` / `or` that runs only when
`'NAME' in secrets` or `secrets.NAME is defined` holds (`not`, `and`, `or`, `elif`, `else` and
`not in` are followed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from jinja2 import nodes

Chain = tuple[str, tuple[str | int, ...]]  # a root name and constant keys: ("secrets", ("X",))
_NONE: frozenset[Chain] = frozenset()


@dataclass(frozen=True)
class Reference:
    """A free name in a template and the constant keys looked up on it: `steps.a.body` is
    `Reference("steps", ("a", "body"), line)`. `guarded`: the template copes with it being
    undefined (see the module's docstring)."""

    root: str
    path: tuple[str | int, ...]
    line: int
    guarded: bool = False

    def __str__(self) -> str:
        return self.root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)


def _chain(node: nodes.Node) -> Chain | None:
    """The constant lookup chain `node` is (`secrets.X`, `trigger['body']`), or None."""
    path: list[str | int] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            path.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and type(node.arg.value) in (str, int):
            path.append(node.arg.value)
        else:
            return None
        node = node.node
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return node.name, tuple(reversed(path))
    return None


def _known(test: nodes.Node) -> tuple[frozenset[Chain], frozenset[Chain]]:
    """The chains known to exist when `test` is true, and those known to exist when it is false."""
    if isinstance(test, nodes.Not):
        when_true, when_false = _known(test.node)
        return when_false, when_true
    if isinstance(test, (nodes.And, nodes.Or)):
        left_true, left_false = _known(test.left)
        right_true, right_false = _known(test.right)
        if isinstance(test, nodes.And):
            return left_true | right_true, left_false & right_false
        return left_true & right_true, left_false | right_false
    if isinstance(test, nodes.Test) and test.name in ("defined", "undefined"):
        chain = _chain(test.node)
        if chain is not None and chain[1]:
            found = frozenset({chain})
            return (found, _NONE) if test.name == "defined" else (_NONE, found)
    if (isinstance(test, nodes.Compare) and len(test.ops) == 1
            and test.ops[0].op in ("in", "notin") and isinstance(test.expr, nodes.Const)
            and type(test.expr.value) in (str, int)):
        container = _chain(test.ops[0].expr)
        if container is not None:
            found = frozenset({(container[0], (*container[1], test.expr.value))})
            return (found, _NONE) if test.ops[0].op == "in" else (_NONE, found)
    return _NONE, _NONE


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
        self._operands: set[int] = set()  # ids of the chains under `default` / `is defined`
        self._known: frozenset[Chain] = _NONE  # chains a test has shown to exist, here

    def _add(self, node: nodes.Node, root: str, path: tuple[str | int, ...], line: int) -> None:
        guarded = id(node) in self._operands or any(
            root == known_root and path[: len(known)] == known
            for known_root, known in self._known
        )
        self.found.append(Reference(root, path, line, guarded))

    @contextmanager
    def _knowing(self, chains: frozenset[Chain]) -> Iterator[None]:
        outer = self._known
        self._known = outer | chains
        try:
            yield
        finally:
            self._known = outer

    def _visit_operand(self, operand: nodes.Node | None, bound: set[str]) -> None:
        if operand is not None:
            self._operands.add(id(operand))
            self.visit(operand, bound)

    def visit_Filter(self, node: nodes.Filter, bound: set[str]) -> None:
        if node.name not in ("default", "d"):
            self.visit_all(node.iter_child_nodes(), bound)
            return
        self._visit_operand(node.node, bound)
        self.visit_all((*node.args, *(kw.value for kw in node.kwargs)), bound)
        self.visit_all((n for n in (node.dyn_args, node.dyn_kwargs) if n is not None), bound)

    def visit_Test(self, node: nodes.Test, bound: set[str]) -> None:
        if node.name not in ("defined", "undefined"):
            self.visit_all(node.iter_child_nodes(), bound)
            return
        self._visit_operand(node.node, bound)

    def visit_If(self, node: nodes.If, bound: set[str]) -> None:
        """`{% if %}`, its `elif`s and `else`: each branch knows what the tests before it showed."""
        known_false = _NONE
        for branch in (node, *node.elif_):  # Jinja lists every `elif` on the first `if`
            with self._knowing(known_false):
                self.visit(branch.test, bound)
                when_true, when_false = _known(branch.test)
                with self._knowing(when_true):
                    self.visit_all(branch.body, bound)
            known_false |= when_false
        with self._knowing(known_false):
            self.visit_all(node.else_, bound)

    def visit_CondExpr(self, node: nodes.CondExpr, bound: set[str]) -> None:
        self.visit(node.test, bound)
        when_true, when_false = _known(node.test)
        with self._knowing(when_true):
            self.visit(node.expr1, bound)
        if node.expr2 is not None:
            with self._knowing(when_false):
                self.visit(node.expr2, bound)

    def visit_And(self, node: nodes.And | nodes.Or, bound: set[str]) -> None:
        """The right side runs only when the left is true (`and`) or false (`or`)."""
        self.visit(node.left, bound)
        when_true, when_false = _known(node.left)
        with self._knowing(when_true if isinstance(node, nodes.And) else when_false):
            self.visit(node.right, bound)

    visit_Or = visit_And

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
            self._add(node, node.name, (), node.lineno)

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
                self._add(node, current.name, tuple(reversed(path)), current.lineno)
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
