"""JSON encoding on the hot path: store records and log lines.

orjson encodes several times faster than the standard library and gives the same JSON for what
these records hold (keys that are not plain `str`, such as multidict's header names, are written
as text, as `json` does). It refuses a few values the standard library takes (integers past 64
bits, lone surrogates): those fall back to `json`, so nothing that encoded before
fails now. Parsing stays with `json.loads`, which keeps integers of any size exact (orjson reads
them as floats).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Compact JSON text. NaN and infinities become null (they are not JSON). A dataclass is
    an object of its fields, in their order: records are encoded without copying them first."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        # ASCII escapes keep lone surrogates and NULs storable as text.
        return json.dumps(value, separators=(",", ":"), default=_fields)


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass as the standard library's encoder should see it (orjson does this itself)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps_loose(value: Any) -> str:
    """Like `dumps`, but a value JSON cannot hold is written as its `str()` (log fields)."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, default=str, ensure_ascii=False)


def dumps_body(value: Any) -> bytes:
    """A request body: compact UTF-8 JSON that refuses NaN and infinities (ValueError), as
    `json.dumps(allow_nan=False, ensure_ascii=False)` does, and what that refuses (TypeError).

    orjson writes NaN and infinities as null rather than refusing them, so output holding a
    null is made again by the standard library, which refuses them; so is anything orjson
    refuses. Floats may be spelt differently (`1e16`, not `1e+16`): the same JSON number.
    (orjson would also write datetimes and dataclasses; rendered templates are plain data.)
    """
    try:
        data = orjson.dumps(value, option=_OPTIONS)
    except TypeError:
        data = None
    if data is None or b"null" in data:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode()
    return data
