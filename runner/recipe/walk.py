"""Where the templates of a document are, and which names each of them may use.

The language gives every template a scope: a step sees `trigger` and earlier `steps`, a poll's
`key` sees `record`, a connection sees only `secrets`. This module is the single list of those
places; the linter checks them and the compiler compiles them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from runner.recipe.models import ConnectionSpec, RecipeSpec, StepSpec

Path = tuple[str | int, ...]

#: Names every template may use besides its scope's own.
COMMON = frozenset({"secrets", "now", "uuid4"})
RECIPE_COMMON = COMMON | {"vars", "recipe"}


@dataclass(frozen=True)
class Site:
    """One template: its text, where it is in the document, and what it may refer to."""

    path: Path
    source: str
    names: frozenset[str]
    step_index: int | None = None  # steps.<id> must be earlier than this step (None: any step)
    steps_visible: bool = False


def strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string in a nested value (mapping keys included), with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and ("{{" in key or "{%" in key):
                yield path + (key,), key
            yield from strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, path + (index,))


def _request(data: dict[str, Any], path: Path) -> Iterator[tuple[Path, str]]:
    for key in ("url", "params", "headers", "json", "form", "body", "content_type"):
        if key in data:
            yield from strings(data[key], path + (key,))


def connection_sites(spec: ConnectionSpec, data: dict[str, Any]) -> Iterator[Site]:
    """Templates of a connection: they may use secrets (and now/uuid4) only."""
    for key in ("base_url", "headers", "params", "proxy"):
        for path, text in strings(data.get(key), (key,)):
            yield Site(path, text, COMMON)
    auth = data.get("auth") or {}
    for key, value in auth.items():
        if key != "type":
            for path, text in strings(value, ("auth", key)):
                yield Site(path, text, COMMON)
    if isinstance(data.get("test"), dict):
        for path, text in _request(data["test"], ("test",)):
            yield Site(path, text, COMMON)


def recipe_sites(spec: RecipeSpec, data: dict[str, Any]) -> Iterator[Site]:
    """Templates of a recipe with the names each may use."""
    for path, text in strings(data.get("vars"), ("vars",)):
        yield Site(path, text, COMMON | {"recipe"})
    trigger = data["trigger"]
    if spec.trigger.webhook is not None:
        yield from _webhook_sites(trigger["webhook"])
    if spec.trigger.poll is not None:
        yield from _poll_sites(trigger["poll"])
    for index, (step, step_data) in enumerate(zip(spec.steps, data.get("steps", []))):
        yield from _step_sites(index, step, step_data)


def _webhook_sites(hook: dict[str, Any]) -> Iterator[Site]:
    base = ("trigger", "webhook")
    for key in ("dedup",):
        for path, text in strings(hook.get(key), base + (key,)):
            yield Site(path, text, RECIPE_COMMON | {"trigger"})
    for key, value in (hook.get("auth") or {}).items():
        if key not in ("type", "algorithm", "encoding"):
            for path, text in strings(value, base + ("auth", key)):
                yield Site(path, text, RECIPE_COMMON)
    for path, text in strings(hook.get("response"), base + ("response",)):
        yield Site(path, text, RECIPE_COMMON | {"trigger", "steps", "job"}, steps_visible=True)


def _poll_sites(poll: dict[str, Any]) -> Iterator[Site]:
    base = ("trigger", "poll")
    for path, text in _request(poll.get("request") or {}, base + ("request",)):
        yield Site(path, text, RECIPE_COMMON | {"cursor"})
    for key, extra in (
        ("records", {"response", "cursor"}),
        ("next_page", {"response", "cursor"}),
        ("key", {"record", "response", "cursor"}),
        ("updated", {"record", "response", "cursor"}),
        ("cursor", {"record", "response", "cursor"}),
    ):
        for path, text in strings(poll.get(key), base + (key,)):
            yield Site(path, text, RECIPE_COMMON | extra)


def _step_sites(index: int, step: StepSpec, data: dict[str, Any]) -> Iterator[Site]:
    base: Path = ("steps", index)
    names = RECIPE_COMMON | {"trigger", "steps", "job"}
    inner = names | {"item", "loop"} if step.for_each is not None else names
    for path, text in strings(data.get("for_each"), base + ("for_each",)):
        yield Site(path, text, names, step_index=index, steps_visible=True)
    for path, text in strings(data.get("if"), base + ("if",)):
        yield Site(path, text, inner, step_index=index, steps_visible=True)
    request = data.get("request") or {}
    for path, text in _request(request, base + ("request",)):
        yield Site(path, text, inner, step_index=index, steps_visible=True)


def is_template(text: str) -> bool:
    """Whether a string holds Jinja at all; plain strings are sent as they are."""
    return "{{" in text or "{%" in text
