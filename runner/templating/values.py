"""How template values print and convert, what a missing one says, and the render limits.

Shared by the sandbox (`runner.templating`) and the filters (`runner.templating.filters`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import ItemsView, Iterable, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from types import BuiltinFunctionType, FunctionType, GeneratorType, MethodType
from typing import Any, NoReturn

from jinja2.exceptions import TemplateRuntimeError
from jinja2.exceptions import UndefinedError as JinjaUndefinedError
from jinja2.runtime import Macro, StrictUndefined, Undefined
from jinja2.utils import missing

from runner.errors import TemplateError

log = logging.getLogger(__name__)

DEFAULT_MAX_RENDER = 1024 * 1024
MAX_INT_BITS = 14_000  # ~4,200 digits: still printable (Python refuses str() past 4,300)
_SIZE_UNITS = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
# Values that print and serialise as JSON lists (generators come from filters such as map).
SEQUENCES: tuple[type[Iterable[Any]], ...] = (
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


def kind_of(value: Any) -> str:
    """What a value is, in the language's words, never its content: `a mapping`, `a list`,
    `null`, `a string`, `a boolean`, `a number`."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    kinds = ((str, "a string"), (bool, "a boolean"), ((int, float), "a number"))
    return next((text for types, text in kinds if isinstance(value, types)),
                f"a {type(value).__name__}")


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
    # Without a path the lookup came from inside a filter (`map(attribute='x')`, `sort`): the
    # value it was made on is one the filter was walking.
    where = undefined.parent_path or "the value it was looked up on (inside a filter)"
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
    if isinstance(value, (Mapping, *SEQUENCES)):
        return dump_json(value)
    if isinstance(value, bytes):
        return decode_utf8(value, "text")
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
        if isinstance(value, SEQUENCES):
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
    if isinstance(value, SEQUENCES):
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


def decode_utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateError(f"{what}: the bytes are not UTF-8 text") from None


def as_datetime(value: Any, name: str) -> datetime:
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
        moment = _parse_moment(value.strip(), name)
    else:
        raise TemplateError(f"{name}: expected a date-time, epoch seconds or ISO 8601 text, "
                            f"not {kind_of(value)}")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_EPOCH_TEXT = re.compile(r"-?\d+(\.\d+)?")


def _parse_moment(text: str, name: str) -> datetime:
    """Text as APIs write moments: ISO 8601 (`2024-05-01T10:00:00Z`), epoch seconds as digits
    (`"1714557600"`, as many APIs quote numbers), or an RFC 2822 / HTTP date (`Date` headers,
    e-mail and RSS: `Wed, 01 May 2024 10:00:00 GMT`)."""
    if _EPOCH_TEXT.fullmatch(text):
        return as_datetime(float(text), name)
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # its message quotes the text, which may be secret
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise TemplateError(f"{name}: the text is not an ISO 8601 date-time, epoch seconds or "
                            "an RFC 2822 date") from None


def iso8601(value: Any) -> str:
    return as_datetime(value, "iso8601").isoformat().replace("+00:00", "Z")
