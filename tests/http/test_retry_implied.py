"""A `retry:` without `on:` implies the default conditions but names none: POST and PATCH are
not retried after a response or a timeout; a connection failure is retried for every method."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.http.retry import DEFAULT_ON, MAX_RETRY_AFTER, RetryPolicy, retry_delay

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
IMPLIED = RetryPolicy(attempts=3)  # `retry: {attempts: 3}`: no `on:` written
WRITTEN = RetryPolicy(attempts=3, on=DEFAULT_ON)  # the same list, written out


def decide(policy: RetryPolicy, **kwargs: object) -> float | None:
    arguments: dict[str, object] = {"method": "GET", "attempt": 1, "now": NOW, "rand": 0.0}
    arguments.update(kwargs)
    return retry_delay(policy, **arguments)  # type: ignore[arg-type]


def test_an_unwritten_on_means_the_default_conditions() -> None:
    assert IMPLIED.on is None
    assert IMPLIED.conditions == DEFAULT_ON
    assert WRITTEN.conditions == DEFAULT_ON


@pytest.mark.parametrize("method", ["POST", "PATCH", "patch"])
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_post_and_patch_are_not_retried_after_a_response_the_default_list_implies(
    method: str, status: int
) -> None:
    assert decide(IMPLIED, method=method, status=status) is None
    assert decide(WRITTEN, method=method, status=status) is not None


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_post_and_patch_are_not_retried_after_a_timeout_unless_on_names_it(method: str) -> None:
    assert decide(IMPLIED, method=method, failure="timeout") is None
    assert decide(WRITTEN, method=method, failure="timeout") is not None


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "POST", "PATCH"])
def test_a_connection_failure_is_retried_for_every_method_by_default(method: str) -> None:
    assert decide(IMPLIED, method=method, failure="connection") is not None


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
def test_idempotent_methods_keep_the_default_list(method: str) -> None:
    for status in (429, 502, 503, 504):
        assert decide(IMPLIED, method=method, status=status) is not None
    assert decide(IMPLIED, method=method, status=500) is None
    assert decide(IMPLIED, method=method, failure="timeout") is not None


def test_retry_after_is_not_capped_by_max_backoff() -> None:
    policy = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.5)
    assert decide(policy, status=503, retry_after="2") == 2.0
    assert decide(policy, status=503, retry_after="Wed, 01 May 2024 12:10:00 GMT") == 600.0


def test_a_retry_after_beyond_an_hour_waits_an_hour() -> None:
    assert MAX_RETRY_AFTER == 3600.0
    policy = RetryPolicy(attempts=2)
    assert decide(policy, status=429, retry_after="999999999") == MAX_RETRY_AFTER
    assert decide(policy, status=429, retry_after="Thu, 01 May 2025 12:00:00 GMT") == 3600.0


def test_max_backoff_still_caps_the_runners_own_backoff() -> None:
    policy = RetryPolicy(attempts=10, backoff=1.0, max_backoff=0.5)
    assert decide(policy, status=503, attempt=5, rand=0.999999) == pytest.approx(0.5)
