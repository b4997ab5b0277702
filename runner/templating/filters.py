"""The filters and functions templates may call, beside Jinja's own (size-guarded)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import jmespath  # type: ignore[import-untyped]
import jmespath.exceptions  # type: ignore[import-untyped]
from jinja2 import pass_eval_context
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.nodes import EvalContext
from jinja2.sandbox import MAX_RANGE

from runner.errors import TemplateError
from runner.templating.guards import (
    check_number,
    check_printf,
    check_replace,
)
from runner.templating.values import (
    as_datetime,
    check_size,
    decode_utf8,
    dump_json,
    fail_if_undefined,
    iso8601,
    to_data,
    to_text,
)


def _to_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else to_text(value).encode("utf-8")


def tojson(value: Any, indent: int | None = None) -> str:
    return dump_json(value, indent)


def from_json(value: Any) -> Any:
    """Parse JSON text; values that are already data pass through unchanged."""
    fail_if_undefined(value)
    if not isinstance(value, (str, bytes)):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        # The decoder's message is positional only; the text itself is never quoted.
        raise TemplateError(f"from_json: not valid JSON ({exc.msg} at line {exc.lineno} "
                            f"column {exc.colno})") from None
    except UnicodeDecodeError:
        raise TemplateError("from_json: the bytes are not UTF-8 text") from None


def b64encode(value: Any) -> str:
    return base64.b64encode(_to_bytes(value)).decode("ascii")


def b64decode(value: Any) -> str:
    """Standard or URL-safe alphabet, padding optional; the result must be UTF-8 text."""
    text = to_text(value).strip() if not isinstance(value, bytes) else value.decode("latin-1")
    altchars = b"-_" if ("-" in text or "_" in text) else None
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise TemplateError("b64decode: the text is not valid base64") from None
    return decode_utf8(raw, "b64decode")


def urlencode(value: Any) -> str:
    """A mapping (or list of pairs) becomes a query string; anything else is percent-quoted."""
    fail_if_undefined(value)
    if value is None or isinstance(value, (str, bytes, int, float)):
        return quote(_to_bytes(value), safe="")
    pairs = value.items() if isinstance(value, Mapping) else value
    parts: list[str] = []
    try:
        for key, item in pairs:
            for one in item if isinstance(item, (list, tuple)) else (item,):
                parts.append(f"{quote(_to_bytes(key), safe='')}={quote(_to_bytes(one), safe='')}")
    except (TypeError, ValueError):
        raise TemplateError("urlencode: expected a mapping, a list of pairs or text") from None
    return "&".join(parts)


def sha256(value: Any) -> str:
    return hashlib.sha256(_to_bytes(value)).hexdigest()


def hmac_sha256(value: Any, key: Any) -> str:
    fail_if_undefined(key)
    return hmac.new(_to_bytes(key), _to_bytes(value), hashlib.sha256).hexdigest()






def timestamp(value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.floor(value)
    return math.floor(as_datetime(value, "timestamp").timestamp())


@lru_cache(maxsize=512)
def _jmespath_compiled(expression: str) -> Any:
    return jmespath.compile(expression)


def jmespath_filter(value: Any, expression: Any = None) -> Any:
    fail_if_undefined(value)
    if expression is None:
        raise TemplateError("jmespath needs its expression: `| jmespath('items[0].id')`")
    if not isinstance(expression, str):
        raise TemplateError("jmespath: the expression must be text")
    try:
        compiled = _jmespath_compiled(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise TemplateError(f"jmespath: invalid expression: {exc}") from None
    try:
        return compiled.search(to_data(value))
    except jmespath.exceptions.JMESPathTypeError as exc:  # its message quotes the data
        raise TemplateError(f"jmespath: {exc.function_name}() got a {exc.actual_type}, expected "
                            f"{' or '.join(exc.expected_types)}") from None
    except jmespath.exceptions.JMESPathError as exc:
        raise TemplateError(f"jmespath: {type(exc).__name__}") from None


def now() -> datetime:
    return datetime.now(UTC)


def uuid4() -> str:
    return str(uuid.uuid4())


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateError(f"range() larger than {MAX_RANGE} items")
    return numbers



def _center(value: Any, width: int = 80) -> str:
    check_number(width)
    return JINJA_FILTERS["center"](value, width)  # type: ignore[no-any-return]


def _indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    if isinstance(width, int):
        check_size((to_text(value).count("\n") + 1) * width)
    return JINJA_FILTERS["indent"](value, width, first, blank)  # type: ignore[no-any-return]


@pass_eval_context
def _replace(eval_ctx: EvalContext, value: Any, old: Any, new: Any, count: Any = None) -> str:
    check_replace(to_text(value), old, new, count)
    return JINJA_FILTERS["replace"](eval_ctx, value, old, new, count)  # type: ignore[no-any-return]


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    check_printf(value, args or tuple(kwargs.values()))
    return JINJA_FILTERS["format"](value, *args, **kwargs)  # type: ignore[no-any-return]


def _chunked(name: str) -> Callable[..., Any]:
    def chunk(value: Any, count: int, fill_with: Any = None) -> Any:
        if isinstance(count, int) and count > MAX_RANGE:
            raise TemplateError(f"{name}() larger than {MAX_RANGE}")
        return JINJA_FILTERS[name](value, count, fill_with)

    return chunk


FILTERS: dict[str, Callable[..., Any]] = {
    "tojson": tojson,
    "from_json": from_json,
    "b64encode": b64encode,
    "b64decode": b64decode,
    "urlencode": urlencode,
    "sha256": sha256,
    "hmac_sha256": hmac_sha256,
    "iso8601": iso8601,
    "timestamp": timestamp,
    "jmespath": jmespath_filter,
    "string": to_text,
    "center": _center,
    "indent": _indent,
    "replace": _replace,
    "format": _format,
    "batch": _chunked("batch"),
    "slice": _chunked("slice"),
}

FUNCTIONS: dict[str, Callable[..., Any]] = {"now": now, "uuid4": uuid4, "range": bounded_range}
