"""Cutting a recorded body that is over RUNNER_BODY_LIMIT, keeping it valid JSON.

The job history cuts an oversized body into the start of its text; a sample is read by
`runner validate` and `runner datapills`, which need structure, so here a big body keeps its
shape and loses bulk: lists keep their first elements, long text its start. Only when that is
still too big does the body fall back to the history's cut (text, `body_truncated` set, and the
checks then accept any path under it).
"""

from __future__ import annotations

from typing import Any

from runner.jsoncodec import dumps
from runner.samples.values import TRUNCATED_KEY

LIST_ITEMS_KEPT = 3
TEXT_KEPT = 1000  # characters
_ELLIPSIS = "…"


def json_size(value: Any) -> int:
    return len(dumps(value).encode("utf-8"))


def shrink(value: Any) -> Any:
    """`value` with every list cut to its first elements and every long string to its start."""
    if isinstance(value, dict):
        return {key: shrink(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shrink(item) for item in value[:LIST_ITEMS_KEPT]]
    if isinstance(value, str) and len(value) > TEXT_KEPT:
        return value[:TEXT_KEPT] + _ELLIPSIS
    return value


def cut_entry(entry: dict[str, Any], limit: int) -> dict[str, Any]:
    """A step's `{"status", "headers", "body"}` with the body under `limit` bytes of JSON,
    marked `"body_truncated": true` when it had to be cut."""
    body = entry.get("body")
    if json_size(body) <= limit:
        return entry
    smaller = shrink(body)
    if json_size(smaller) <= limit:
        return {**entry, "body": smaller, TRUNCATED_KEY: True}
    text = body if isinstance(body, str) else dumps(body)
    start = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    return {**entry, "body": start, TRUNCATED_KEY: True}
