"""When a poll is due next: a pure function of the schedule, the last run, `now` and a random draw.

Rules (the poller's async shell sleeps until `next_due(...)`, polls, records the run, asks again):

- **First run.** A recipe that has never polled (`last_run` is None) is due `now`.
- **Regular runs.** `every: 5m` is due `every` seconds after the last run; a cron `schedule`
  is due at the expression's next time after the last run (UTC; croniter's syntax: five fields,
  or six where the sixth is seconds).
- **Catch-up, not a burst.** When the regular time is already past (the runner was down, or a
  poll took longer than the interval), the poll is due `now`: one catch-up poll however many
  times were missed, and the schedule continues from that run.
- **Jitter.** `jitter` is a random draw in [0, 1) that delays each regular time a little, so
  recipes on the same schedule do not all hit their upstreams in the same instant: up to
  min(10 % of the interval, 1 s) for `every`, up to 1 s for cron.
- **One poll at a time.** The result depends only on the previous run, so a shell that polls,
  waits for the poll to finish and only then asks for the next time never overlaps two polls of
  one recipe. `last_run` is when the previous poll started; a shell whose timer fires early
  should record the due time instead (`max(due, started)`), or cron could fire twice.
- **Clock skew.** A `last_run` in the future (the clock went back) counts as `now`, so the
  recipe waits one interval rather than until the old clock's time comes round again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import croniter

__all__ = ["MAX_JITTER", "jitter_offset", "next_due"]

MAX_JITTER = 1.0  # seconds; also capped at JITTER_SHARE of an `every` interval
JITTER_SHARE = 0.1


def jitter_offset(*, every: float | None, jitter: float) -> timedelta:
    """How much a random draw in [0, 1) delays a regular due time."""
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
    cap = MAX_JITTER if every is None else min(JITTER_SHARE * every, MAX_JITTER)
    return timedelta(seconds=jitter * cap)


def next_due(
    *,
    every: float | None,
    cron: str | None,
    last_run: datetime | None,
    now: datetime,
    jitter: float,
) -> datetime:
    """The time the next poll is due, in UTC; `now` when it is due already."""
    if (every is None) == (cron is None):
        raise ValueError("a poll schedule needs exactly one of every or cron")
    if every is not None and not every > 0:
        raise ValueError(f"every must be a positive number of seconds, got {every!r}")
    now = _utc(now, "now")
    offset = jitter_offset(every=every, jitter=jitter)
    if last_run is None:
        return now
    base = min(_utc(last_run, "last_run"), now)
    if every is not None:
        regular = base + timedelta(seconds=every)
    else:
        regular = croniter(cron, base).get_next(datetime).astimezone(UTC)
    due: datetime = regular + offset
    return now if due <= now else due


def _utc(moment: datetime, name: str) -> datetime:
    """Naive datetimes are refused: guessing their zone would shift the schedule silently."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)
