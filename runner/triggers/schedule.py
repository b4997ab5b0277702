"""When a poll is due next: a pure function of the schedule, the last run, `now` and a random draw.

Rules (the poller's async shell sleeps until `next_due(...)`, polls, records the run, asks again):

- **First run.** A recipe that has never polled (`last_run` is None) is due `now`.
- **Regular runs.** `every: 5m` is due `every` seconds after the last run; a cron `schedule`
  is due at the expression's next time after the last run, in UTC. Five fields (minute hour
  day-of-month month day-of-week), six with seconds *first* (`*/10 * * * * *` every 10 s, as
  in n8n, Quartz or node-cron; croniter's own default puts them last), or `@hourly`,
  `@daily`, `@weekly`, `@monthly`, `@yearly`.
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

__all__ = ["MAX_JITTER", "cron_problem", "jitter_offset", "next_due"]

ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a schedule this runner reads, or None when it is one."""
    text = expression.strip()
    if text.lower() in ALIASES:
        return None
    if len(text.split()) in (5, 6) and croniter.is_valid(text, second_at_beginning=True):
        return None
    return (f"schedule '{expression}' is not a valid cron expression (five fields: minute hour "
            "day-of-month month day-of-week, e.g. '*/5 * * * *'; six with seconds first; or "
            f"{', '.join(ALIASES)})")


def _next_cron(cron: str, base: datetime) -> datetime:
    text = cron.strip()
    return croniter(text.lower() if text.startswith("@") else text, base,
                    second_at_beginning=True).get_next(datetime).astimezone(UTC)

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
        regular = _next_cron(cron, base)
    due: datetime = regular + offset
    return now if due <= now else due


def _utc(moment: datetime, name: str) -> datetime:
    """Naive datetimes are refused: guessing their zone would shift the schedule silently."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)
