"""The shared rate limiter: bursts pass, then requests are spaced, first come first served."""

from __future__ import annotations

import asyncio
import time

import pytest

from runner.http.ratelimit import RateLimiter, SlidingWindow


class FakeTime:
    """A clock that only moves when someone sleeps: deterministic, instant tests."""

    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_window_admits_a_burst_then_waits_for_the_oldest_start() -> None:
    window = SlidingWindow(requests=3, per=1.0)
    for moment in (0.0, 0.1, 0.2):
        assert window.wait_time(moment) == 0.0
        window.record(moment)
    assert window.wait_time(0.3) == pytest.approx(0.7)
    assert window.wait_time(1.0) == 0.0
    window.record(1.0)
    assert window.wait_time(1.0) == pytest.approx(0.1)


def test_window_refuses_meaningless_limits() -> None:
    with pytest.raises(ValueError, match="requests"):
        SlidingWindow(requests=0, per=1.0)
    with pytest.raises(ValueError, match="per"):
        SlidingWindow(requests=1, per=0.0)


async def test_never_more_than_requests_in_any_window_with_a_fake_clock() -> None:
    fake = FakeTime()
    limiter = RateLimiter(5, 1.0, clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        starts.append(fake.now)

    await asyncio.gather(*(one() for _ in range(23)))
    assert len(starts) == 23
    for i in range(len(starts) - 5):
        assert starts[i + 5] - starts[i] >= 1.0
    assert starts[:5] == [100.0] * 5
    assert starts[-1] == pytest.approx(104.0)


async def test_waiters_are_served_in_arrival_order() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2, 1.0, clock=fake.clock, sleep=fake.sleep)
    order: list[int] = []

    async def one(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    tasks = []
    for n in range(10):
        tasks.append(asyncio.create_task(one(n)))
        await asyncio.sleep(0)  # each task queues before the next is created
    await asyncio.gather(*tasks)
    assert order == list(range(10))


async def test_a_cancelled_waiter_uses_no_slot() -> None:
    limiter = RateLimiter(1, 0.2)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    started = time.monotonic()
    await asyncio.wait_for(limiter.acquire(), timeout=2.0)
    assert time.monotonic() - started < 0.25


async def test_real_time_burst_passes_then_requests_are_spaced() -> None:
    limiter = RateLimiter(5, 0.2)
    started = time.monotonic()
    async with asyncio.timeout(5.0):
        for _ in range(5):
            await limiter.acquire()
        burst = time.monotonic() - started
        await asyncio.gather(*(limiter.acquire() for _ in range(10)))
    total = time.monotonic() - started
    assert burst < 0.05
    assert 0.39 <= total < 1.5
