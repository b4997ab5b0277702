"""Retry decisions as pure functions of the failure, the attempt, the time and a random draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from runner.http.retry import (
    DEFAULT_ON,
    RetryPolicy,
    normalise_condition,
    parse_retry_after,
    retry_delay,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SPEC_EXAMPLE = RetryPolicy(attempts=3, backoff=1.0, max_backoff=60.0, on=DEFAULT_ON)


def decide(policy: RetryPolicy, **kwargs: object) -> float | None:
    arguments: dict[str, object] = {"method": "GET", "attempt": 1, "now": NOW, "rand": 0.0}
    arguments.update(kwargs)
    return retry_delay(policy, **arguments)  # type: ignore[arg-type]


def test_without_retry_settings_a_request_is_tried_once() -> None:
    assert RetryPolicy().attempts == 1
    assert decide(RetryPolicy(), status=503) is None
    assert decide(RetryPolicy(), failure="connection") is None


def test_default_conditions_are_the_not_now_answers() -> None:
    assert DEFAULT_ON == {"429", "502", "503", "504", "timeout", "connection"}
    assert decide(SPEC_EXAMPLE, status=503) is not None
    assert decide(SPEC_EXAMPLE, status=500) is None
    assert decide(SPEC_EXAMPLE, status=404) is None


def test_attempts_counts_every_try_including_the_first() -> None:
    assert decide(SPEC_EXAMPLE, status=503, attempt=1) is not None
    assert decide(SPEC_EXAMPLE, status=503, attempt=2) is not None
    assert decide(SPEC_EXAMPLE, status=503, attempt=3) is None
    assert decide(SPEC_EXAMPLE, status=503, attempt=40) is None


def test_status_class_matches_every_status_in_it() -> None:
    policy = RetryPolicy(attempts=5, on=frozenset({"5xx"}))
    assert decide(policy, status=500) is not None
    assert decide(policy, status=599) is not None
    assert decide(policy, status=429) is None


@pytest.mark.parametrize("method", ["POST", "PATCH", "post"])
def test_post_and_patch_need_the_exact_status(method: str) -> None:
    by_class = RetryPolicy(attempts=5, on=frozenset({"5xx", "429"}))
    assert decide(by_class, method=method, status=503) is None
    assert decide(by_class, method=method, status=429) is not None
    explicit = RetryPolicy(attempts=5, on=frozenset({"503"}))
    assert decide(explicit, method=method, status=503) is not None


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
def test_idempotent_methods_follow_status_classes(method: str) -> None:
    policy = RetryPolicy(attempts=5, on=frozenset({"5xx"}))
    assert decide(policy, method=method, status=502) is not None


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_failures_follow_on_for_every_method(method: str) -> None:
    policy = RetryPolicy(attempts=3, on=frozenset({"timeout", "connection"}))
    assert decide(policy, method=method, failure="timeout") is not None
    assert decide(policy, method=method, failure="connection") is not None
    statuses_only = RetryPolicy(attempts=3, on=frozenset({"503"}))
    assert decide(statuses_only, method=method, failure="timeout") is None
    assert decide(statuses_only, method=method, failure="connection") is None


def test_backoff_doubles_with_equal_jitter_and_is_capped() -> None:
    policy = RetryPolicy(attempts=10, backoff=1.0, max_backoff=5.0, on=frozenset({"503"}))
    lowest = [decide(policy, status=503, attempt=n, rand=0.0) for n in (1, 2, 3, 4, 5)]
    highest = [decide(policy, status=503, attempt=n, rand=0.999999) for n in (1, 2, 3)]
    assert lowest == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert highest == pytest.approx([1.0, 2.0, 4.0], rel=1e-5)
    assert decide(policy, status=503, attempt=3, rand=0.5) == 3.0


def test_backoff_does_not_overflow_on_late_attempts() -> None:
    policy = RetryPolicy(attempts=100_000, backoff=1.0, max_backoff=60.0, on=frozenset({"503"}))
    assert decide(policy, status=503, attempt=99_999, rand=0.0) == 30.0


def test_retry_after_seconds_is_honoured_beyond_max_backoff_up_to_an_hour() -> None:
    assert decide(SPEC_EXAMPLE, status=429, retry_after="7") == 7.0
    assert decide(SPEC_EXAMPLE, status=429, retry_after=" 0 ") == 0.0
    assert decide(SPEC_EXAMPLE, status=429, retry_after="3600") == 3600.0  # max_backoff is 60
    assert decide(SPEC_EXAMPLE, status=429, retry_after="86400") == 3600.0


def test_retry_after_date_is_honoured() -> None:
    later = "Wed, 01 May 2024 12:00:30 GMT"
    assert decide(SPEC_EXAMPLE, status=503, retry_after=later) == 30.0


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    assert decide(SPEC_EXAMPLE, status=503, retry_after="soon", rand=0.0) == 0.5


def test_retry_after_does_not_make_a_status_retryable() -> None:
    assert decide(SPEC_EXAMPLE, status=400, retry_after="1") is None


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("1.5", NOW) == 1.5
    assert parse_retry_after("Wed, 01 May 2024 12:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", NOW) == 0.0
    naive_now = NOW.replace(tzinfo=None)
    assert parse_retry_after("Wed, 01 May 2024 12:00:10 GMT", naive_now) == 10.0
    other_zone = NOW.astimezone(timezone(timedelta(hours=2)))
    assert parse_retry_after("Wed, 01 May 2024 12:00:10 GMT", other_zone) == 10.0
    for garbage in ("", "-5", "soon", "Wed, 99 Foo 2024", "1e9"):
        assert parse_retry_after(garbage, NOW) is None


def test_conditions_are_normalised_and_checked() -> None:
    assert normalise_condition(429) == "429"
    assert normalise_condition("5XX") == "5xx"
    assert normalise_condition(" Timeout ") == "timeout"
    policy = RetryPolicy(attempts=2, on=frozenset({"5XX"}))
    assert policy.on == {"5xx"}
    for wrong in ("600", "99", "6xx", "conn", True, "42"):
        with pytest.raises(ValueError, match="expected a status"):
            normalise_condition(wrong)  # type: ignore[arg-type]


def test_policy_refuses_settings_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(backoff=-1.0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(max_backoff=float("inf"))


def test_caller_mistakes_are_loud() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        decide(SPEC_EXAMPLE)
    with pytest.raises(ValueError, match="exactly one"):
        decide(SPEC_EXAMPLE, status=503, failure="timeout")
    with pytest.raises(ValueError, match="rand"):
        decide(SPEC_EXAMPLE, status=503, rand=1.0)
