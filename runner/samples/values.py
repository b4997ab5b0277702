"""A recorded sample value as a `Shape`: what a job really saw, so what a datapill may read.

A sample is one job, so what it lacks may still arrive another time. The shapes here are
therefore generous where one value cannot tell: `null` and a body the recorder had to cut as
text (`"body_truncated": true`) are `unknown` (anything below them is accepted), the elements of a
list are merged (a key any element has is accepted), and header names match case-insensitively
as they do at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runner.samples.shape import NO_EXAMPLE, Kind, Shape

#: The key `runner sample` puts beside a body it had to cut.
TRUNCATED_KEY = "body_truncated"


def type_name(value: Any) -> str:
    """A JSON value's type as a user reads it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


class UnknownShape:
    """Nothing is known: every path below is accepted, nothing is listed."""

    kind: Kind = "unknown"
    type_name = "any"
    example = NO_EXAMPLE
    description: str | None = None

    def keys(self) -> Sequence[str] | None:
        return None

    def child(self, key: str) -> Shape | None:
        return self

    def element(self) -> Shape | None:
        return self


UNKNOWN = UnknownShape()


class ValueShape:
    """One JSON value of a sample. `case_insensitive`: keys match whatever their case (headers)."""

    def __init__(self, value: Any, case_insensitive: bool = False) -> None:
        self._value = value
        self._case_insensitive = case_insensitive

    @property
    def kind(self) -> Kind:
        value = self._value
        if value is None:
            return "null"
        if isinstance(value, dict):
            return "object"
        if isinstance(value, list):
            return "list"
        return "scalar"

    @property
    def type_name(self) -> str:
        return type_name(self._value)

    @property
    def example(self) -> Any:
        return self._value

    @property
    def description(self) -> str | None:
        return None

    def keys(self) -> Sequence[str] | None:
        return list(self._value) if isinstance(self._value, dict) else None

    def child(self, key: str) -> Shape | None:
        if not isinstance(self._value, dict):
            return None
        if key in self._value:
            return shape_of(self._value[key], key == "headers")
        if self._case_insensitive:
            folded = key.lower()
            for name, value in self._value.items():
                if name.lower() == folded:
                    return shape_of(value)
        return None

    def element(self) -> Shape | None:
        if not isinstance(self._value, list) or not self._value:
            return None
        if len(self._value) == 1:
            return shape_of(self._value[0])
        return MergedShape([shape_of(item) for item in self._value])


class MergedShape:
    """The elements of one list, seen as one: a key any of them has is there, and where they
    disagree on the kind (an id that is a number here and text there) nothing is claimed."""

    def __init__(self, shapes: Iterable[Shape]) -> None:
        self._shapes = [s for s in shapes if s.kind != "null"] or list(shapes)

    @property
    def kind(self) -> Kind:
        kinds = {shape.kind for shape in self._shapes}
        return kinds.pop() if len(kinds) == 1 else "unknown"

    @property
    def type_name(self) -> str:
        names = list(dict.fromkeys(shape.type_name for shape in self._shapes))
        return " | ".join(names)

    @property
    def example(self) -> Any:
        return self._shapes[0].example if self._shapes else NO_EXAMPLE

    @property
    def description(self) -> str | None:
        return None

    def keys(self) -> Sequence[str] | None:
        found: dict[str, None] = {}
        for shape in self._shapes:
            keys = shape.keys()
            if keys is None:
                return None
            found.update(dict.fromkeys(keys))
        return list(found)

    def child(self, key: str) -> Shape | None:
        children = [c for c in (shape.child(key) for shape in self._shapes) if c is not None]
        if not children:
            return None
        return children[0] if len(children) == 1 else MergedShape(children)

    def element(self) -> Shape | None:
        elements = [e for e in (shape.element() for shape in self._shapes) if e is not None]
        if not elements:
            return None
        return elements[0] if len(elements) == 1 else MergedShape(elements)


def shape_of(value: Any, case_insensitive: bool = False) -> Shape:
    """The shape of one sample value; `headers` mappings match names case-insensitively."""
    return ValueShape(value, case_insensitive)


_OK = ValueShape(True)


class StepViewShape:
    """What `steps.<id>` is for a step the sample recorded: its `status`, `headers` and `body`,
    and the view's own `ok`, `error` and `skipped`, which a template may always test."""

    kind: Kind = "object"
    type_name = "object"
    example = NO_EXAMPLE
    description: str | None = None
    _ALWAYS = ("ok", "error", "skipped")

    def __init__(self, recorded: Mapping[str, Any]) -> None:
        self._recorded = recorded

    def keys(self) -> Sequence[str] | None:
        return [*(key for key in self._recorded if key != TRUNCATED_KEY), "ok"]

    def child(self, key: str) -> Shape | None:
        if key == "body" and self._recorded.get(TRUNCATED_KEY) is True \
                and not isinstance(self._recorded.get("body"), (dict, list)):
            return UNKNOWN  # cut as text: its structure is not in the sample
        if key in self._recorded and key != TRUNCATED_KEY:
            return shape_of(self._recorded[key], key == "headers")
        if key == "ok":
            return _OK
        return UNKNOWN if key in self._ALWAYS else None

    def element(self) -> Shape | None:
        return None


class StepListShape:
    """`steps.<id>` of a `for_each` step: one view per element."""

    kind: Kind = "list"
    type_name = "list"
    example = NO_EXAMPLE
    description: str | None = None

    def __init__(self, recorded: Sequence[Mapping[str, Any]]) -> None:
        self._views = [StepViewShape(view) for view in recorded if isinstance(view, Mapping)]

    def keys(self) -> Sequence[str] | None:
        return None

    def child(self, key: str) -> Shape | None:
        return None

    def element(self) -> Shape | None:
        if not self._views:
            return None
        return self._views[0] if len(self._views) == 1 else MergedShape(self._views)


def step_shape(recorded: Any) -> Shape:
    """The shape of `steps.<id>` from the sample's entry for the step."""
    if isinstance(recorded, list):
        return StepListShape(recorded)
    if isinstance(recorded, Mapping):
        return StepViewShape(recorded)
    return UNKNOWN
