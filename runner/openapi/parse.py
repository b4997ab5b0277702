"""Bytes of a JSON or YAML file to plain JSON values, fast, bounded, never raising unlocated.

OpenAPI documents are large (the GitHub REST description is 13 MB), so JSON goes through orjson
and YAML through PyYAML's C loader when it is built (several times faster than the pure one).
Where parsing fails the error says the line and column; a file over `MAX_BYTES` is refused
before it is read into memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

try:  # the C loader: PyYAML built against libyaml (the wheels are)
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - a PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: Documents above this size are refused (the largest published ones are ~15 MB, 75 MB deref'd).
MAX_BYTES = 96 * 1024 * 1024


class ParseError(Exception):
    """A file that is not JSON or YAML; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def read_bytes(path: Path) -> bytes:
    """The file's bytes; ParseError when it is missing, unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ParseError(f"the document is {size // (1024 * 1024)} MiB; at most "
                             f"{MAX_BYTES // (1024 * 1024)} MiB is read")
        return path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise ParseError(f"cannot read the document: {getattr(exc, 'strerror', None) or exc}") \
            from exc


def is_json(path: Path, raw: bytes) -> bool:
    return path.suffix.lower() == ".json" or raw.lstrip()[:1] in (b"{", b"[")


def parse_bytes(path: Path, raw: bytes) -> Any:
    """The document's values; ParseError (located) when it is neither JSON nor YAML."""
    if is_json(path, raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("the document is not UTF-8 text") from exc
    try:
        return plain(yaml.load(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ParseError(f"invalid YAML: {exc.problem or exc.context}", line, column) from exc
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ParseError("the document is nested too deeply") from exc


def plain(value: Any) -> Any:
    """YAML's extra scalar types (dates, timestamps) as text, keys as text: JSON values only.
    Dates in `example:` fields are the usual case; a schema validator would choke on them."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _key(key: Any) -> str:
    """`200:` unquoted is the integer 200 in YAML; OpenAPI means the text `"200"`."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)
