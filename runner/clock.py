"""Timestamps of jobs, steps and events: UTC, ISO 8601, always with microseconds.

Every webhook and job takes several of these; `datetime.now(UTC).isoformat()` builds a datetime
object each time. Here the date and time up to the second are formatted once per second and the
microseconds appended, which gives the same text (microseconds always present, so timestamps
also sort as text) in a fraction of the time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

_cache: tuple[int, str] = (-1, "")  # (a second, its text): one tuple, so threads never mix them


def _second_text(second: int) -> str:
    """`2026-11-28T14:35:42` for a Unix second, formatted once per second."""
    global _cache
    cached = _cache
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        _cache = cached
    return cached[1]


_MILLIS_TEXT = tuple(f".{milli:03d}" for milli in range(1000))
_MICROS_TAILS = tuple(f"{micro:03d}+00:00" for micro in range(1000))


def utc_now_iso() -> str:
    """Now, e.g. `2026-11-28T14:35:42.076123+00:00` (a job takes seven: integer microseconds,
    the cache read inline, the fraction's digits from tables; no call but on a new second)."""
    second, micros = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _cache
    text = cached[1] if cached[0] == second else _second_text(second)
    return text + _MILLIS_TEXT[micros // 1000] + _MICROS_TAILS[micros % 1000]


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), to the microsecond:
    `round(ms, 3)` up to the last bit, for a third of its cost (it rounds through decimal)."""
    return round((time.perf_counter() - started) * 1_000_000) / 1000


def utc_now_iso_millis() -> str:
    """Now as log lines show it, e.g. `2026-11-28T14:35:42.076+00:00` (a line per job: the
    milliseconds' text comes from the same table as `utc_now_iso`'s)."""
    second, milli = divmod(time.time_ns() // 1_000_000, 1000)
    cached = _cache
    text = cached[1] if cached[0] == second else _second_text(second)
    return text + _MILLIS_TEXT[milli] + "+00:00"


def utc_iso_millis(timestamp: float) -> str:
    """A Unix time as log lines show it, e.g. `2026-11-28T14:35:42.076+00:00` (milliseconds,
    as `datetime.isoformat(timespec="milliseconds")` gives, without building a datetime)."""
    second = int(timestamp)
    micros = round((timestamp - second) * 1_000_000)  # rounded as `datetime.fromtimestamp` does
    if micros == 1_000_000:
        second, micros = second + 1, 0
    return _second_text(second) + _MILLIS_TEXT[micros // 1000] + "+00:00"
