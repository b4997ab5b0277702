"""Pure retry decisions: whether to try a request again, and how long to wait first.

Defaults:

- A connection or step without `retry:` tries once: `RetryPolicy()` has `attempts=1`. Retrying is
  a choice the recipe author makes, because the upstream's tolerance for repeats is theirs to know.
- A `retry:` without `on:` (`RetryPolicy(on=None)`) retries on `DEFAULT_ON` = 429, 502, 503, 504,
  timeout, connection: the answers that mean "not now" rather than "no". Those conditions are
  implied, not named, which matters for POST and PATCH (below). `backoff` defaults to 1 s,
  `max_backoff` to 60 s.
- `attempts` counts every try, the first included, so `attempts: 3` means at most two retries.

Conditions in `on`: a status (`"429"`), a status class (`"5xx"`), `"timeout"` (no response in
time, or the exchange broke after the request was sent) and `"connection"` (the request never
left: DNS, connect or TLS failed).

Methods: POST and PATCH are not idempotent, so after a *response* they are retried only when a
written `on` names that exact status; a class such as `"5xx"` is not enough, and neither is the
implied default list. A `"connection"` failure is safe to retry for every method, since nothing
reached the server, so the default list retries it for POST and PATCH too. A timeout may have
reached the server; it is retried for POST and PATCH only when a written `on` names `"timeout"`
(the runner sends an `Idempotency-Key` with every request for exactly this case).
An egress refusal is never a `"connection"` failure: the caller must not retry it.

Waiting: a `Retry-After` header (seconds or an HTTP-date) is honoured as the server sent it:
the server knows when it will be ready, and asking sooner only earns another refusal.
`max_backoff` does not apply to it; only `MAX_RETRY_AFTER` (1 hour) does, so a bogus header
cannot put a job to sleep for days. Without the header, the wait is `backoff * 2**(attempt-1)`,
capped at `max_backoff`, with equal jitter: half of it fixed, half random, so many clients
spread out yet none retries at once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

__all__ = [
    "DEFAULT_ON",
    "MAX_RETRY_AFTER",
    "Failure",
    "RetryPolicy",
    "normalise_condition",
    "parse_retry_after",
    "retry_delay",
]

Failure = Literal["timeout", "connection"]

DEFAULT_ON: frozenset[str] = frozenset({"429", "502", "503", "504", "timeout", "connection"})
NON_IDEMPOTENT = frozenset({"POST", "PATCH"})
# The longest a Retry-After is obeyed (seconds): a server that asks for more is most likely
# wrong (a date in the wrong zone, a header meant for browsers), and a job should not stall.
MAX_RETRY_AFTER = 3600.0

_STATUS = re.compile(r"[1-5]\d\d")
_CLASS = re.compile(r"[1-5]xx")
_DELTA_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_CONDITION_HINT = "expected a status (429), a status class (5xx), timeout or connection"
_MAX_EXPONENT = 64  # 2**64 seconds outlasts any max_backoff; beyond it floats only overflow


def normalise_condition(item: int | str) -> str:
    """Turn one `on:` entry (429, "429", "5XX", "timeout") into its canonical text."""
    if isinstance(item, bool):  # ValueError: pydantic reports only that as a user's mistake
        raise ValueError(f"{_CONDITION_HINT}, got {item!r}")  # noqa: TRY004
    text = str(item).strip().lower()
    if _STATUS.fullmatch(text) or _CLASS.fullmatch(text) or text in ("timeout", "connection"):
        return text
    raise ValueError(f"expected a status (429), a class (5xx), timeout or connection, got {item!r}")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how a request is tried again; built once per connection or step."""

    attempts: int = 1
    backoff: float = 1.0
    max_backoff: float = 60.0
    on: frozenset[str] | None = None  # None: `on:` not written, DEFAULT_ON implied (see above)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if not (0 <= self.backoff < math.inf and 0 <= self.max_backoff < math.inf):
            raise ValueError("backoff and max_backoff must be finite and not negative")
        if self.on is not None:
            object.__setattr__(self, "on", frozenset(normalise_condition(i) for i in self.on))

    @property
    def conditions(self) -> frozenset[str]:
        """The conditions in force: the written `on`, else `DEFAULT_ON` (naming nothing)."""
        return DEFAULT_ON if self.on is None else self.on


def retry_delay(
    policy: RetryPolicy,
    *,
    method: str,
    attempt: int,
    status: int | None = None,
    failure: Failure | None = None,
    retry_after: str | None = None,
    now: datetime,
    rand: float,
) -> float | None:
    """Seconds to wait before trying again after try number `attempt` failed, or None to stop.

    Give `status` when a response arrived that the step does not accept, else `failure`.
    """
    if (status is None) == (failure is None):
        raise ValueError("give exactly one of status and failure")
    if not 0.0 <= rand < 1.0:
        raise ValueError(f"rand must be in [0, 1), got {rand}")
    if attempt >= policy.attempts or not _retryable(policy, method, status, failure):
        return None
    if status is not None and retry_after is not None:
        waited = parse_retry_after(retry_after, now)
        if waited is not None:
            return min(waited, MAX_RETRY_AFTER)
    return backoff_delay(policy, attempt, rand)


def backoff_delay(policy: RetryPolicy, attempt: int, rand: float) -> float:
    """Exponential backoff with equal jitter: between half and all of the capped delay."""
    exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
    ceiling = min(policy.max_backoff, policy.backoff * 2.0**exponent)
    return ceiling / 2 + rand * ceiling / 2


def _retryable(
    policy: RetryPolicy, method: str, status: int | None, failure: Failure | None
) -> bool:
    guarded = method.upper() in NON_IDEMPOTENT
    if failure is not None:
        if guarded and failure == "timeout":  # it may have arrived: only a written `on` says so
            return policy.on is not None and "timeout" in policy.on
        return failure in policy.conditions
    assert status is not None
    if guarded:
        return policy.on is not None and str(status) in policy.on
    return str(status) in policy.conditions or f"{status // 100}xx" in policy.conditions


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds a `Retry-After` value asks for (never negative), or None when it is unreadable.

    Naive datetimes are taken as UTC, the zone HTTP-dates are written in.
    """
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, (_aware(when) - _aware(now)).total_seconds())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
