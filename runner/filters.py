"""Values in templates: filters and functions, how values print, what a missing one says, limits."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import os
import re
import uuid
from collections.abc import Callable, ItemsView, Iterable, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache, partial
from types import BuiltinFunctionType, FunctionType, GeneratorType, MethodType
from typing import Any, NoReturn
from urllib.parse import quote

import jmespath  # type: ignore[import-untyped]
import jmespath.exceptions  # type: ignore[import-untyped]
from jinja2 import pass_eval_context
from jinja2.exceptions import TemplateRuntimeError
from jinja2.exceptions import UndefinedError as JinjaUndefinedError
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Macro, StrictUndefined, Undefined
from jinja2.sandbox import MAX_RANGE
from jinja2.utils import missing

from runner.errors import TemplateError

log = logging.getLogger(__name__)

DEFAULT_MAX_RENDER = 1024 * 1024
MAX_INT_BITS = 14_000  # ~4,200 digits: still printable (Python refuses str() past 4,300)
_SIZE_UNITS = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
# Values that print and serialise as JSON lists (generators come from filters such as map).
_SEQUENCES: tuple[type[Iterable[Any]], ...] = (
    list, tuple, range, set, frozenset, GeneratorType, KeysView, ValuesView, ItemsView,
    type(reversed([])), type(iter([])))


def parse_size(text: str) -> int:
    """`512KiB`, `1MiB` or a number of bytes, as the recipe language writes sizes."""
    match = re.fullmatch(r"\s*(\d{1,15})\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (use e.g. 512KiB, 1MiB or bytes)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


@dataclass
class RenderLimits:
    """How much one render may produce and how long it may run (process-wide; tests change it)."""

    max_bytes: int = DEFAULT_MAX_RENDER
    max_seconds: float = 1.0

    @classmethod
    def from_env(cls) -> RenderLimits:
        raw = os.environ.get("RUNNER_MAX_RENDER", "")
        try:
            return cls(max_bytes=parse_size(raw) if raw.strip() else DEFAULT_MAX_RENDER)
        except ValueError as exc:
            log.warning("ignoring RUNNER_MAX_RENDER: %s", exc)
            return cls()


LIMITS = RenderLimits.from_env()


def check_size(size: int, what: str = "value") -> None:
    """Refuse a result before it is built when it would pass the render limit."""
    if size > LIMITS.max_bytes:
        raise TemplateError(f"{what} larger than {format_size(LIMITS.max_bytes)}")


_MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})


class _UndefinedUsedError(JinjaUndefinedError):
    """Carries the undefined value that was used to the render boundary, which words the message."""

    def __init__(self, undefined: PathUndefined, message: str) -> None:
        super().__init__(message)
        self.undefined = undefined


class PathUndefined(StrictUndefined):
    """A missing value that remembers the path written in the template and its deepest parent."""

    __slots__ = ("parent_path", "path")

    def __init__(self, hint: str | None = None, obj: Any = missing, name: Any = None,
                 exc: type[TemplateRuntimeError] = JinjaUndefinedError, path: str | None = None,
                 parent_path: str | None = None) -> None:
        super().__init__(hint, obj, name, exc)
        if exc is JinjaUndefinedError:
            self._undefined_exception = partial(_UndefinedUsedError, self)  # type: ignore[assignment]
        self.path, self.parent_path = path, parent_path

    def extended(self, path: str) -> PathUndefined:
        """`a.b.c` with `a.b` missing stays undefined (so `default` still works) and keeps `a`."""
        return PathUndefined(self._undefined_hint, self._undefined_obj, self._undefined_name,
                             path=path, parent_path=self.parent_path)


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        keys = sorted(str(key) for key in value)
        more = f", … ({len(keys) - 30} more)" if len(keys) > 30 else ""
        return f"has keys: {', '.join(keys[:30])}{more}" if keys else "is an empty mapping"
    if isinstance(value, (list, tuple)):
        return f"has {len(value)} item{'' if len(value) == 1 else 's'}"
    if value is None:
        return "is null"
    kinds = ((str, "a string"), (bool, "a boolean"), ((int, float), "a number"))
    kind = next((text for types, text in kinds if isinstance(value, types)), None)
    return f"is {kind or 'a ' + type(value).__name__}"


def undefined_message(undefined: PathUndefined, names: Iterable[str]) -> str:
    """`a.b.c is undefined; a has keys: x, y` -- key names only, never values."""
    if undefined._undefined_hint:
        return undefined._undefined_hint
    name = undefined._undefined_name
    path = undefined.path or str(name)
    parent = undefined._undefined_obj
    if parent is missing:
        return f"{path} is undefined; available names: {', '.join(sorted(names)) or 'none'}"
    where = undefined.parent_path or "its parent"
    message = f"{path} is undefined; {where} {_describe(parent)}"
    if isinstance(parent, Mapping) and name in _MAPPING_METHODS:
        message += f" (.{name} is the key {name!r}: use filters such as | items, not methods)"
    return message


def fail_if_undefined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _not_a_value(value: Any) -> NoReturn:
    if isinstance(value, (FunctionType, BuiltinFunctionType, MethodType, Macro)):
        name = getattr(value, "__name__", None) or getattr(value, "name", "function")
        raise TemplateError(f"{name} is a function, not a value; call it: {name}()")
    raise TemplateError(f"a {type(value).__name__} object is not a value")


def to_text(value: Any) -> str:
    """How a value prints: strings as themselves, null as nothing, everything else as JSON."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return str.__str__(value)  # Markup and other subclasses become plain text
    if isinstance(value, (int, float)):
        return str(value)
    if type(value) is Undefined:  # Jinja's own "nothing", e.g. `{{ 'x' if false }}`
        return ""
    fail_if_undefined(value)
    if isinstance(value, datetime):
        return iso8601(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Mapping, *_SEQUENCES)):
        return dump_json(value)
    if isinstance(value, bytes):
        return _decode_utf8(value, "text")
    if callable(value):
        _not_a_value(value)
    return str(value)


class _DataConverter:
    """Turns a rendered value into plain dict/list/scalars, counting its size on the way."""

    __slots__ = ("remaining",)

    def __init__(self, budget: float) -> None:
        self.remaining = budget

    def spend(self, size: int) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise TemplateError(f"output larger than {format_size(LIMITS.max_bytes)}")

    def convert(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            self.spend(len(value) + 2)
            return value
        if value is None or kind is bool or kind is int or kind is float:
            self.spend(8)
            return value
        if isinstance(value, Mapping):
            self.spend(2)
            return {self.key(k): self.convert(v) for k, v in value.items()}
        if isinstance(value, _SEQUENCES):
            self.spend(2)
            return [self.convert(item) for item in value]
        return self.convert(self.scalar(value))

    def key(self, key: Any) -> Any:
        if type(key) is str or key is None or isinstance(key, (bool, int, float)):
            return key
        return to_text(key)

    @staticmethod
    def scalar(value: Any) -> Any:
        if type(value) is Undefined:  # Jinja's own "nothing", e.g. `{{ 'x' if false }}`
            return None
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        return to_text(value)


def to_data(value: Any, budget: float = math.inf) -> Any:
    """A fresh plain-data copy of `value` (what a native `{{ expr }}` renders to)."""
    return _DataConverter(budget).convert(value)


def _json_default(value: Any) -> Any:
    fail_if_undefined(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, _SEQUENCES):
        return list(value)
    return to_text(value)


def dump_json(value: Any, indent: int | None = None) -> str:
    """Compact JSON, non-ASCII kept, nothing HTML-escaped: what an HTTP API expects."""
    separators = (",", ":") if indent is None else (",", ": ")
    try:
        return json.dumps(value, ensure_ascii=False, separators=separators, indent=indent,
                          default=_json_default, allow_nan=False)
    except ValueError as exc:
        if "JSON compliant" in str(exc):
            raise TemplateError("tojson: NaN and Infinity have no JSON form") from None
        raise


def _decode_utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateError(f"{what}: the bytes are not UTF-8 text") from None


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
    return _decode_utf8(raw, "b64decode")


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


def _as_datetime(value: Any, name: str) -> datetime:
    """A datetime, epoch seconds or ISO 8601 text as an aware UTC datetime (naive means UTC)."""
    fail_if_undefined(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise TemplateError(f"{name}: the number is out of range for a date") from None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:  # its message quotes the text, which may be secret
            raise TemplateError(f"{name}: the text is not an ISO 8601 date-time") from None
    else:
        raise TemplateError(f"{name}: expected a date-time, epoch seconds or ISO 8601 text, "
                            f"not a {type(value).__name__}")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso8601(value: Any) -> str:
    return _as_datetime(value, "iso8601").isoformat().replace("+00:00", "Z")


def timestamp(value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.floor(value)
    return math.floor(_as_datetime(value, "timestamp").timestamp())


@lru_cache(maxsize=512)
def _jmespath_compiled(expression: str) -> Any:
    return jmespath.compile(expression)


def jmespath_filter(value: Any, expression: Any) -> Any:
    fail_if_undefined(value)
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


# Guards on Jinja's own filters and str methods that can build huge strings in one C call.

_PRINTF_FIELD = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_FIELD = re.compile(r"\{\{|\{[^{}]*(\{)?")  # '{{' is an escaped brace, not a field


def _check_number(number: Any) -> None:
    if isinstance(number, int) and not isinstance(number, bool):
        check_size(number)


def check_printf(fmt: Any, args: Any) -> None:
    """`'%999999999d' % 1` would allocate the width before any output limit applies."""
    if not isinstance(fmt, str) or "%" not in fmt:
        return
    for width, precision in _PRINTF_FIELD.findall(fmt):
        for number in (width, precision):
            if number == "*":
                for arg in args if isinstance(args, tuple) else (args,):
                    _check_number(arg)
            elif number:
                check_size(int(number[:12]))


def check_format(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for field in _FORMAT_FIELD.finditer(fmt):
        if field.group(0) == "{{":
            continue
        for number in re.findall(r"\d+", field.group(0)):
            check_size(int(number[:12]))
        if field.group(1):  # a nested width such as '{:{}}' takes it from the arguments
            for arg in (*args, *kwargs.values(), *(v for a in args if isinstance(a, Mapping)
                                                   for v in a.values())):
                _check_number(arg)


def check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    if len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    check_size(len(text) + hits * (len(new) - len(old)))


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Bound `*`, `**`, `+` and `%` before Python builds the result."""
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                check_size(len(seq) * times)
                return
        ints = isinstance(left, int) and isinstance(right, int)
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateError("number too large")
    elif operator == "**":
        ints = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
        if ints and left.bit_length() * right > MAX_INT_BITS:
            raise TemplateError("number too large")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            check_size(len(left) + len(right))
    elif operator == "%":
        check_printf(left, right)


def check_call(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Bound the str methods that take a size: center, ljust, rjust, zfill, expandtabs, ..."""
    target = getattr(func, "__wrapped__", func)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(target, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_number(args[0])
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            check_size(len(owner) + owner.count("\t") * size)
    elif name == "replace":
        check_replace(owner, *args[:3])
    elif name in ("format", "format_map"):
        check_format(owner, args, kwargs)


def _center(value: Any, width: int = 80) -> str:
    _check_number(width)
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
