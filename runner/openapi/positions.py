"""Where a JSON pointer's value stands in a JSON or YAML file: for errors inside a document.

Only asked for when something is wrong, so it may re-read the file: PyYAML composes the node
graph (with its C parser when built; JSON is YAML) and the pointer is walked down the nodes.
Where the walk stops early (the key is missing), the nearest existing parent is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class Positions:
    """The node graph of one file, composed on first use, for any number of look-ups."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: Node | None | bool = False

    def _node(self) -> Node | None:
        if self._root is False:
            try:
                self._root = yaml.compose(self._text, Loader=_Loader)
            except (yaml.YAMLError, RecursionError):
                self._root = None
        return self._root if isinstance(self._root, Node) else None

    def find(self, pointer: Sequence[str | int], key: bool = False) -> tuple[int, int]:
        """1-based line and column of the value at `pointer` (of its key, with `key`)."""
        node = self._node()
        if node is None:
            return 1, 1
        at: Node = node
        key_node: Node | None = None
        for part in pointer:
            child = _child(at, part)
            if child is None:
                break
            key_node, at = child
        if key and key_node is not None:
            at = key_node
        return at.start_mark.line + 1, at.start_mark.column + 1


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return key_node, value_node
        return None
    if isinstance(node, SequenceNode):
        try:
            index = int(part)
        except ValueError:
            return None
        return (None, node.value[index]) if 0 <= index < len(node.value) else None
    return None


def pointer_text(pointer: Sequence[Any]) -> str:
    """A pointer as the issue asks errors to say it: `paths./venues/.post.requestBody`."""
    return ".".join(str(part) for part in pointer) or "(the document)"


def fragment(pointer: Sequence[Any]) -> str:
    """A pointer as a JSON pointer fragment: `#/components/schemas/Address`."""
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in pointer)
