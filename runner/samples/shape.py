"""What a datapill path is checked against: a recorded sample value, or an API's schema.

`runner validate` walks each datapill path (`steps.create_venue.body.venue.id`) down a `Shape`
and reports the first segment the shape says cannot be there; `runner datapills` lists every
path a shape has. Two kinds of shape exist: a value a job saw (`runner.samples.values`) and a
response schema from an OpenAPI document (`runner.openapi`). Both answer the same questions, so
one walker gives both the same messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

Kind = Literal["object", "list", "scalar", "null", "unknown"]

#: `Shape.example` when there is no example value to show.
NO_EXAMPLE: Any = object()


class Shape(Protocol):
    """One place in a sample or a schema.

    - `kind`: `object` (has keys), `list` (has elements), `scalar` (string, number, boolean:
      nothing can be looked up on it), `null`, or `unknown` (a schema that does not say: every
      path below it is accepted).
    - `type_name`: what a user reads (`string`, `integer`, `object`, `list`, `null`).
    - `example`: a value to show, or NO_EXAMPLE; `description`: a schema's words, or None.
    """

    @property
    def kind(self) -> Kind: ...

    @property
    def type_name(self) -> str: ...

    @property
    def example(self) -> Any: ...

    @property
    def description(self) -> str | None: ...

    def keys(self) -> Sequence[str] | None:
        """An object's known keys, in order; None when any key may be there (an open schema)."""
        ...

    def child(self, key: str) -> Shape | None:
        """The shape under `key` of an object; None when the object cannot have that key."""
        ...

    def element(self) -> Shape | None:
        """The shape of a list's elements; None when nothing is known of them (an empty list)."""
        ...
