"""Every datapill path a shape has, with its type and an example: the wizard's datapill picker.

Lists are shown through their first element (`steps.search.body.issues[0].key`), as a step
would index them or loop over them with `for_each`. The listing is bounded in depth and count
so that a huge response lists its top, not a million rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from runner.jsoncodec import dumps
from runner.samples.shape import NO_EXAMPLE, Shape
from runner.samples.walk import segment_text

MAX_DEPTH = 12
MAX_ROWS = 2000
EXAMPLE_CHARS = 60


@dataclass(frozen=True)
class Datapill:
    path: str
    type_name: str
    example: str | None  # a short JSON text, None when there is none to show
    description: str | None
    source: str


def example_text(value: Any) -> str | None:
    """A short JSON text of a scalar example; containers are described by their rows below."""
    if value is NO_EXAMPLE or isinstance(value, (dict, list)):
        return None
    text = dumps(value)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def datapills(shape: Shape, label: str, source: str, depth: int = 0) -> Iterator[Datapill]:
    """`label` itself and every path below it, depth first, in the shape's key order."""
    yield Datapill(label, shape.type_name, example_text(shape.example), shape.description, source)
    if depth >= MAX_DEPTH:
        return
    if shape.kind == "object":
        for key in shape.keys() or ():
            child = shape.child(key)
            if child is not None:
                yield from datapills(child, label + segment_text(key), source, depth + 1)
    elif shape.kind == "list":
        element = shape.element()
        if element is not None:
            yield from datapills(element, label + "[0]", source, depth + 1)
