"""A connection's rate limit: at most `requests` requests in any window of `per` seconds.

A sliding window, not a token bucket: a bucket of N tokens refilled at N per window lets up to
2N requests through in one window (a full bucket plus its refill), which is exactly what an
upstream enforcing "10 per second" rejects. One `RateLimiter` is shared by all jobs of a process
for one connection; waiters are served in arrival order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["RateLimiter", "SlidingWindow"]


class SlidingWindow:
    """The pure core: when the next request may start, given when the last ones started."""

    def __init__(self, requests: int, per: float) -> None:
        if requests < 1:
            raise ValueError(f"requests must be at least 1, got {requests}")
        if not per > 0:
            raise ValueError(f"per must be a positive duration, got {per}")
        self.requests = requests
        self.per = per
        self._starts: deque[float] = deque(maxlen=requests)

    def wait_time(self, now: float) -> float:
        """Seconds from `now` until another request fits in the window (0 when it fits now)."""
        if len(self._starts) < self.requests:
            return 0.0
        return max(0.0, self._starts[0] + self.per - now)

    def record(self, now: float) -> None:
        """Note a request started at `now`; the oldest start falls out of the window."""
        self._starts.append(now)


class RateLimiter:
    """Await `acquire()` before each request; callers proceed in the order they arrived."""

    def __init__(
        self,
        requests: int,
        per: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._window = SlidingWindow(requests, per)
        self._clock = clock
        self._sleep = sleep
        # asyncio.Lock wakes its waiters first-in first-out; holding it while sleeping keeps
        # later arrivals from overtaking the caller at the head of the queue.
        self._lock = asyncio.Lock()

    @property
    def requests(self) -> int:
        return self._window.requests

    @property
    def per(self) -> float:
        return self._window.per

    async def acquire(self) -> None:
        """Return when a request may start; a cancelled caller uses up no slot."""
        async with self._lock:
            while (wait := self._window.wait_time(self._clock())) > 0:
                await self._sleep(wait)
            self._window.record(self._clock())

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        return None
