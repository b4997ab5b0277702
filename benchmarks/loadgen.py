"""A load generator in its own process, for machines without `wrk`: POSTs the benchmark webhook
with C concurrent connections for D seconds (or exactly N requests, `--count`) and prints one
JSON line of results."""

import argparse
import asyncio
import json
import time

import aiohttp

BODY = b'{"id": 42, "name": "Ada Lovelace", "amount": 12.5, "tags": ["lead", "web"]}'


async def worker(session: aiohttp.ClientSession, url: str, until: float, latencies: list[float],
                 statuses: dict[int, int], left: list[int]) -> None:
    while time.perf_counter() < until and left[0] != 0:
        left[0] -= 1
        started = time.perf_counter()
        try:
            async with session.post(url, data=BODY, headers={"Content-Type": "application/json"}) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
        except aiohttp.ClientError:
            statuses[0] = statuses.get(0, 0) + 1
        latencies.append(time.perf_counter() - started)


async def run(url: str, connections: int, duration: float, count: int | None = None) -> dict:
    """`count` requests in all when given (then `duration` only bounds the run), else until
    `duration` seconds have passed."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        until = started + duration
        left = [-1 if count is None else count]  # shared by the workers; -1: no limit
        await asyncio.gather(*(worker(session, url, until, latencies, statuses, left)
                               for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0  # noqa: E731
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": pick(0.5),
            "p99_ms": pick(0.99), "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("-c", type=int, default=32)
    parser.add_argument("-d", type=float, default=None, help="seconds (default 5; with --count: no limit)")
    parser.add_argument("--count", type=int, default=None, help="send exactly this many requests")
    args = parser.parse_args()
    duration = args.d if args.d is not None else (float("inf") if args.count else 5.0)
    print(json.dumps(asyncio.run(run(args.url, args.c, duration, args.count))))


if __name__ == "__main__":
    main()
