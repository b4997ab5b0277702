"""Poll scheduling as a pure function of the schedule, the last run, `now` and a random draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from runner.triggers.schedule import cron_problem, jitter_offset, next_due

NOW = datetime(2024, 5, 1, 12, 3, 7, tzinfo=UTC)
S = timedelta(seconds=1)


def test_first_run_is_due_now() -> None:
    assert next_due(every=300, cron=None, last_run=None, now=NOW, jitter=0.9) == NOW
    assert next_due(every=None, cron="*/5 * * * *", last_run=None, now=NOW, jitter=0.9) == NOW


def test_every_is_due_one_interval_after_the_last_run() -> None:
    due = next_due(every=300, cron=None, last_run=NOW, now=NOW + 10 * S, jitter=0.0)
    assert due == NOW + 300 * S


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 0.999999])
def test_every_jitter_stays_within_a_second_and_ten_percent(jitter: float) -> None:
    long_due = next_due(every=300, cron=None, last_run=NOW, now=NOW, jitter=jitter)
    assert NOW + 300 * S <= long_due < NOW + 301 * S
    short_due = next_due(every=2, cron=None, last_run=NOW, now=NOW, jitter=jitter)
    assert NOW + 2 * S <= short_due <= NOW + 2.2 * S  # timedelta rounds to microseconds


def test_jitter_scales_with_the_draw() -> None:
    assert jitter_offset(every=300, jitter=0.5) == 0.5 * S
    assert jitter_offset(every=2, jitter=0.5) == 0.1 * S
    assert jitter_offset(every=None, jitter=0.5) == 0.5 * S


@pytest.mark.parametrize("jitter", [-0.1, 1.0, 2.0])
def test_jitter_outside_unit_interval_is_refused(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        next_due(every=60, cron=None, last_run=NOW, now=NOW, jitter=jitter)


def test_cron_is_due_at_the_next_matching_minute_in_utc() -> None:
    last = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    times = []
    for _ in range(3):
        due = next_due(every=None, cron="*/5 * * * *", last_run=last, now=last, jitter=0.0)
        times.append(due)
        last = due
    assert times == [
        datetime(2024, 5, 1, 12, 5, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 10, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 15, tzinfo=UTC),
    ]


def test_cron_daily_schedule_crosses_midnight() -> None:
    last = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    due = next_due(every=None, cron="15 2 * * *", last_run=last, now=last, jitter=0.0)
    assert due == datetime(2024, 5, 2, 2, 15, tzinfo=UTC)


@pytest.mark.parametrize("jitter", [0.0, 0.7, 0.999])
def test_cron_jitter_is_under_a_second(jitter: float) -> None:
    last = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    due = next_due(every=None, cron="*/5 * * * *", last_run=last, now=last, jitter=jitter)
    regular = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    assert regular <= due < regular + S


def test_cron_in_another_zone_is_answered_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    last = datetime(2024, 5, 1, 14, 0, tzinfo=plus_two)  # 12:00 UTC
    due = next_due(every=None, cron="0 13 * * *", last_run=last, now=last, jitter=0.0)
    assert due == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
    assert due.tzinfo == UTC


@pytest.mark.parametrize(
    ("every", "cron"), [(300.0, None), (None, "*/5 * * * *")], ids=["every", "cron"]
)
def test_downtime_gives_one_catch_up_poll_then_regular_ones(
    every: float | None, cron: str | None
) -> None:
    last = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    now = datetime(2024, 5, 1, 12, 3, 7, tzinfo=UTC)  # three hours down: 36 slots missed
    catch_up = next_due(every=every, cron=cron, last_run=last, now=now, jitter=0.5)
    assert catch_up == now
    # The shell polls now and records that run; the next time is regular again, not `now`.
    after = now + 2 * S
    following = next_due(every=every, cron=cron, last_run=now, now=after, jitter=0.5)
    assert following > after
    regular = now + 300 * S if every else datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    assert regular <= following < regular + S


def test_a_poll_longer_than_its_interval_is_followed_at_once_but_only_once() -> None:
    started = NOW
    finished = NOW + 90 * S
    due = next_due(every=60, cron=None, last_run=started, now=finished, jitter=0.3)
    assert due == finished
    assert next_due(every=60, cron=None, last_run=finished, now=finished, jitter=0.0) == (
        finished + 60 * S
    )


def test_last_run_in_the_future_waits_one_interval_from_now() -> None:
    due = next_due(every=60, cron=None, last_run=NOW + timedelta(hours=5), now=NOW, jitter=0.0)
    assert due == NOW + 60 * S


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due(every=60, cron=None, last_run=None, now=NOW.replace(tzinfo=None), jitter=0.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due(every=60, cron=None, last_run=NOW.replace(tzinfo=None), now=NOW, jitter=0.0)


def test_exactly_one_of_every_and_cron() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        next_due(every=60, cron="* * * * *", last_run=None, now=NOW, jitter=0.0)
    with pytest.raises(ValueError, match="exactly one"):
        next_due(every=None, cron=None, last_run=None, now=NOW, jitter=0.0)
    with pytest.raises(ValueError, match="positive"):
        next_due(every=0, cron=None, last_run=None, now=NOW, jitter=0.0)


@pytest.mark.parametrize(("cron", "after"), [
    ("*/10 * * * * *", timedelta(seconds=10)),  # six fields: seconds first, as in n8n or Quartz
    ("0 */5 * * * *", timedelta(minutes=5)),
    ("@hourly", timedelta(hours=1)),
    ("@DAILY", timedelta(days=1)),
])
def test_six_field_schedules_read_seconds_first_and_aliases_work(cron: str, after: timedelta) -> None:
    last = datetime(2024, 5, 1, 0, 0, 0, tzinfo=UTC)
    assert next_due(every=None, cron=cron, last_run=last, now=last, jitter=0.0) == last + after


@pytest.mark.parametrize("cron", ["*/5 * * *", "* * * * * * *", "@often", "61 * * * *"])
def test_what_is_not_a_schedule_is_said_so(cron: str) -> None:
    assert "is not a valid cron expression" in (cron_problem(cron) or "")
    assert cron_problem("*/5 * * * *") is None and cron_problem("0 0 * * * *") is None
