"""Parse the durations (`30s`, `5m`) and sizes (`512KiB`) that documents are written with."""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration", "parse_size"]

_DURATION_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")

# Units are case-sensitive, as in the JSON Schema: `1mb` could mean millibits; nobody is helped.
_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")

_DURATION_HINT = "expected a duration like 30s, 5m, 1h, 250ms, 1d or a number of seconds"
_SIZE_HINT = "expected a size like 512KiB, 1MiB, 1GiB, 10KB, 1MB or a number of bytes"


def parse_duration(value: str | float) -> float:
    """Return `value` in seconds; a bare number already is seconds."""
    # ValueError, not TypeError, throughout: pydantic reports only ValueError as a user's mistake.
    if isinstance(value, bool):  # bool is an int, but `timeout: true` is a mistake
        raise ValueError(f"{_DURATION_HINT}, got {value!r}")  # noqa: TRY004
    if isinstance(value, int | float):
        return _checked_number(_as_float(value, _DURATION_HINT), value, _DURATION_HINT)
    if not isinstance(value, str):
        raise ValueError(f"{_DURATION_HINT}, got {value!r}")  # noqa: TRY004
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"{_DURATION_HINT}, got {value!r}: it cannot be negative")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{_DURATION_HINT}, got {value!r}")
    number, unit = match.groups()
    return _checked_number(float(number) * _DURATION_UNITS[unit or ""], value, _DURATION_HINT)


def parse_size(value: str | float) -> int:
    """Return `value` in bytes: KiB/MiB/GiB are powers of 1024, KB/MB/GB powers of 1000."""
    if isinstance(value, bool):
        raise ValueError(f"{_SIZE_HINT}, got {value!r}")  # noqa: TRY004
    if isinstance(value, int | float):
        number = _checked_number(_as_float(value, _SIZE_HINT), value, _SIZE_HINT)
        if not number.is_integer():
            raise ValueError(f"{_SIZE_HINT}, got {value!r}: a number of bytes is whole")
        return int(number)
    if not isinstance(value, str):
        raise ValueError(f"{_SIZE_HINT}, got {value!r}")  # noqa: TRY004
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"{_SIZE_HINT}, got {value!r}: it cannot be negative")
    match = _SIZE.fullmatch(text)
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{_SIZE_HINT}, got {value!r}")
    digits, unit = match.groups()
    if unit in ("", "B") and "." in digits:
        raise ValueError(f"{_SIZE_HINT}, got {value!r}: a number of bytes is whole")
    size = _checked_number(float(digits) * _SIZE_UNITS[unit], value, _SIZE_HINT)
    return int(size)


def _as_float(value: float, hint: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond float range
        raise ValueError(f"{hint}, got {value!r}: it is too large") from None


def _checked_number(number: float, original: object, hint: str) -> float:
    """Refuse the numbers no setting can mean: negative, infinite, not a number."""
    if math.isnan(number):
        raise ValueError(f"{hint}, got {original!r}")
    if math.isinf(number):
        raise ValueError(f"{hint}, got {original!r}: it is too large")
    if number < 0:
        raise ValueError(f"{hint}, got {original!r}: it cannot be negative")
    return number
