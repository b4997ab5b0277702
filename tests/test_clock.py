"""Record timestamps: the same text `datetime.isoformat` gives, microseconds always present."""

import time
from datetime import UTC, datetime

from runner.clock import utc_now_iso


def test_timestamps_parse_as_utc_and_match_the_clock() -> None:
    before = datetime.now(UTC)
    stamp = utc_now_iso()
    after = datetime.now(UTC)
    parsed = datetime.fromisoformat(stamp)
    assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= parsed <= after
    assert len(stamp) == len("2026-11-28T14:35:42.076123+00:00")


def test_timestamps_sort_as_text_across_second_boundaries() -> None:
    stamps = []
    deadline = time.monotonic() + 1.2  # spans at least one change of second
    while time.monotonic() < deadline:
        stamps.append(utc_now_iso())
        time.sleep(0.01)
    assert stamps == sorted(stamps)
    assert len({s[:19] for s in stamps}) >= 2


def test_threads_never_get_a_time_from_another_second() -> None:
    import threading

    mismatches: list[str] = []

    def stamp_for_a_while() -> None:
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:
            # Whole seconds from the integer clock: `time.time()` is a float, which rounds
            # 32.99999995 up to 33.0, a second the stamp (truncated to microseconds) never saw.
            before = time.time_ns() // 1_000_000_000
            text = utc_now_iso()
            after = time.time_ns() // 1_000_000_000
            second = int(datetime.fromisoformat(text[:19] + "+00:00").timestamp())
            if not before <= second <= after:
                mismatches.append(text)

    threads = [threading.Thread(target=stamp_for_a_while) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []


def test_log_line_times_match_datetime_isoformat_in_milliseconds() -> None:
    import random

    from runner.clock import utc_iso_millis

    rng = random.Random(7)
    moments = [rng.uniform(0, 4e9) for _ in range(20_000)]
    moments += [int(m) + 0.9999996 for m in moments[:2000]]  # rounds up into the next second
    moments += [int(m) + 0.0004999 for m in moments[:2000]]
    for moment in moments:
        expected = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
        assert utc_iso_millis(moment) == expected, moment


def test_now_in_milliseconds_is_now_truncated_to_the_millisecond() -> None:
    from runner.clock import utc_now_iso_millis

    for _ in range(2000):  # across millisecond (and now and then second) boundaries
        before = time.time_ns() // 1_000_000
        stamp = utc_now_iso_millis()
        after = time.time_ns() // 1_000_000
        assert len(stamp) == len("2026-11-28T14:35:42.076+00:00") and stamp.endswith("+00:00")
        millis = round(datetime.fromisoformat(stamp).timestamp() * 1000)
        assert before <= millis <= after


def test_elapsed_ms_is_round_to_the_microsecond() -> None:
    import random

    from runner.clock import elapsed_ms

    rng = random.Random(11)
    for _ in range(20_000):
        seconds = rng.choice([rng.uniform(0, 0.002), rng.uniform(0, 30), rng.uniform(0, 3600)])
        now = time.perf_counter()
        started = now - seconds
        measured = elapsed_ms(started)
        # At least `seconds` passed, and the result is a whole number of microseconds.
        assert measured >= round(seconds * 1000, 3) - 0.001
        assert measured < seconds * 1000 + 50  # less than 50 ms of this loop in between
        assert abs(measured * 1000 - round(measured * 1000)) < 1e-6


def test_the_fraction_of_a_second_is_the_clocks_microseconds() -> None:
    for _ in range(5000):
        before = time.time_ns() // 1000
        stamp = utc_now_iso()
        after = time.time_ns() // 1000
        parsed = datetime.fromisoformat(stamp)
        micros = int(parsed.timestamp()) * 1_000_000 + parsed.microsecond
        assert before <= micros <= after
