"""How fast the job history pages answer on a big store, and what serving them costs webhooks.

    python benchmarks/bench_ui.py [--jobs 1000000] [--requests 200] [--duration 8]
                                  [--stores sqlite,postgresql] [--postgres URL]

Fills a store with `--jobs` jobs (10 recipes, 90% succeeded, 8% failed, the rest queued or
running, created over the last two days in order) plus one failed job of 50 steps, each step
with a JSON request and response. Then starts `runner serve` on it (workers off, so the store
stays as filled; no token, loopback) and times `--requests` sequential GETs of each page,
printing p50 and p99 (targets: the jobs page < 150 ms p99, the 50-step job page < 100 ms).

Last, on the SQLite store, webhook acceptance (`benchmarks/suite.py`'s load, 32 connections, on
CPU 1, the daemon on CPU 0) alone and while a reader loads the jobs page 4 times a second (two
operators' tabs refreshing), in `--rounds` alternating rounds: the target is a drop of at most
5% between the medians. PostgreSQL is filled with COPY
into the database `--postgres` names (default: RUNNER_TEST_POSTGRES), in a schema of its own,
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from suite import PY, free_port, load, start

from runner.engine.records import (
    AttemptRecord,
    CallRecord,
    JobRecord,
    RequestRecord,
    ResponseRecord,
    StepRecord,
)
from runner.jsoncodec import dumps
from runner.store import open_store

RECIPES = [f"recipe-{n}" for n in range(10)]
EVENT = dumps({"body": {"id": 42, "name": "Ada Lovelace", "tags": ["lead", "web"]},
               "headers": {"Content-Type": "application/json"}, "method": "POST"})
FOLDER_RECIPE = """kind: recipe
name: {name}
trigger: {{webhook: {{path: {name}}}}}
steps:
  - id: forward
    request: {{method: POST, url: "http://127.0.0.1:9/never", json: {{id: "{{{{ trigger.body.id }}}}"}}}}
"""


# Rows inserted finished skip the trigger that counts jobs as they finish: count them in one go.
MINUTES_AS_THE_TRIGGER_COUNTS = """
INSERT INTO job_minutes (minute, recipe, status, n)
SELECT substr(finished_at, 1, 16), recipe, status, count(*) FROM jobs
WHERE status IN ('succeeded', 'failed') AND finished_at IS NOT NULL GROUP BY 1, 2, 3
ON CONFLICT (minute, recipe, status) DO UPDATE SET n = job_minutes.n + excluded.n"""


def rows(count: int, now: datetime) -> list[tuple[object, ...]]:
    """(id, recipe, status, event, created_at, finished_at, error), oldest first."""
    start_at = now - timedelta(days=2)
    step = timedelta(days=2) / count
    made = []
    for n in range(count):
        created = (start_at + step * n).isoformat()
        roll = n % 100
        status = "succeeded" if roll < 90 else "failed" if roll < 98 else (
            "queued" if roll == 98 else "running")
        finished = created if status in ("succeeded", "failed") else None
        error = "step forward: POST ... answered 500" if status == "failed" else None
        made.append((f"{n:032x}", RECIPES[n % 10], status, EVENT, created, finished, error))
    return made


def big_job(now: datetime) -> JobRecord:
    job = JobRecord(uuid.uuid4().hex, RECIPES[0], "queued", json.loads(EVENT), now.isoformat())
    body = json.dumps({"items": [{"id": n, "name": f"item {n}", "price": n * 1.5}
                                 for n in range(20)]})
    for n in range(50):
        request = RequestRecord("POST", f"https://api.example.com/v1/things/{n}",
                                [("Content-Type", "application/json"), ("Accept", "*/*")], body)
        response = ResponseRecord(201 if n < 49 else 500, "Created",
                                  [("Content-Type", "application/json")], body)
        attempt = AttemptRecord(now.isoformat(), 12.0, status=response.status)
        job.steps.append(StepRecord(f"step_{n}", "succeeded" if n < 49 else "failed",
                                    now.isoformat(), 12.0, [CallRecord(None, request, response,
                                                                       [attempt])],
                                    {"status": response.status, "body": json.loads(body)}))
    return job


async def fill_sqlite(path: Path, count: int, now: datetime) -> str:
    url = f"sqlite:///{path}"
    big = big_job(now - timedelta(days=3))
    async with open_store(url) as store:  # creates the schema, and the 50-step job first
        await store.enqueue(big)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO jobs (id, recipe, status, event, created_at, finished_at, "
                     "error) VALUES (?, ?, ?, ?, ?, ?, ?)", rows(count, now))
    conn.execute("UPDATE jobs SET status = 'failed' WHERE id = ?", (big.id,))  # counted
    conn.execute(MINUTES_AS_THE_TRIGGER_COUNTS)
    conn.commit()
    conn.close()
    return big.id


async def fill_postgres(base: str, schema: str, count: int, now: datetime) -> str:
    import asyncpg  # type: ignore[import-untyped]

    url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
    big = big_job(now - timedelta(days=3))
    async with open_store(url) as store:
        await store.enqueue(big)
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.copy_records_to_table(
            "jobs", records=rows(count, now),
            columns=["id", "recipe", "status", "event", "created_at", "finished_at", "error"])
        await conn.execute("UPDATE jobs SET status = 'failed' WHERE id = $1", big.id)
        await conn.execute(MINUTES_AS_THE_TRIGGER_COUNTS)
    finally:
        await conn.close()
    conn = await asyncpg.connect(base)  # VACUUM: as autovacuum leaves a table in steady state
    try:
        await conn.execute(f'VACUUM ANALYZE "{schema}".jobs')
        await conn.execute(f'VACUUM ANALYZE "{schema}".job_minutes')
    finally:
        await conn.close()
    return big.id


def get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
        assert response.status == 200, (url, response.status)
    return (time.perf_counter() - started) * 1000


def timings(base: str, path: str, count: int) -> tuple[float, float]:
    for _ in range(5):
        get(base + path)
    samples = sorted(get(base + path) for _ in range(count))
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def pages(big_id: str, now: datetime, count: int) -> dict[str, str]:
    middle = f"{count // 2:032x}"
    window = (now - timedelta(hours=25)).isoformat(timespec="minutes")
    window_end = (now - timedelta(hours=24)).isoformat(timespec="minutes")
    return {
        "jobs page (newest 50)": "/ui/jobs",
        "jobs, one recipe": "/ui/jobs?recipe=recipe-3",
        "jobs, failed": "/ui/jobs?status=failed",
        "jobs, a page deep in history": f"/ui/jobs?before={middle}",
        "jobs, a 1-hour window a day ago": "/ui/jobs?" + urlencode({"since": window,
                                                                     "until": window_end}),
        "live refresh (rows only)": "/ui/jobs?partial=rows",
        "recipes page (24 h counts)": "/ui/",
        "job page, 50 steps": f"/ui/jobs/{big_id}",
    }


def serve(tmp: Path, store: str, workers: int = 0) -> object:
    folder = tmp / "recipes"
    folder.mkdir(exist_ok=True)
    for name in [*RECIPES, "bench"]:
        (folder / f"{name}.yaml").write_text(FOLDER_RECIPE.format(name=name))
    port = free_port()
    # Retention off: pruning the store down to 100,000 jobs would start 30 s in, mid-measurement.
    env = {"RUNNER_WORKERS": str(workers), "RUNNER_DEMO": "false", "RUNNER_LOG_LEVEL": "warning",
           "RUNNER_API_TOKEN": "", "RUNNER_RETENTION_COUNT": "1000000000",
           "RUNNER_RETENTION_AGE": "3650d"}
    return start("runner", [PY, "-m", "runner", "serve", str(folder), "--port", str(port),
                            "--store", store], f"http://127.0.0.1:{port}", 0, env, cwd=str(tmp))


def acceptance(proc: object, duration: float, with_pages: bool) -> float:
    url = proc.url  # type: ignore[attr-defined]
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            get(url + "/ui/jobs")
            stop.wait(0.25)

    thread = threading.Thread(target=reader, daemon=True)
    if with_pages:
        thread.start()
    try:
        return float(load(url + "/webhooks/bench", duration, 32)["rps"])
    finally:
        stop.set()
        if with_pages:
            thread.join(timeout=30)


def report_acceptance(proc: object, duration: float, rounds: int) -> None:
    """Rounds alternate (alone, with pages, alone, ...) so that drift hits both alike."""
    alone, busy = [], []
    for _ in range(rounds):
        alone.append(acceptance(proc, duration, False))
        busy.append(acceptance(proc, duration, True))
    base, loaded = statistics.median(alone), statistics.median(busy)
    print(f"webhook acceptance, median of {rounds} rounds: {base:,.0f} req/s alone, "
          f"{loaded:,.0f} req/s with the jobs page loaded 4x/s: {100 * (base - loaded) / base:+.1f}%"
          f" drop (alone: {', '.join(f'{v:,.0f}' for v in alone)}; with pages: "
          f"{', '.join(f'{v:,.0f}' for v in busy)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3, help="acceptance rounds (0: none)")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("RUNNER_TEST_POSTGRES"))
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for kind in args.stores.split(","):
            schema = f"bench_ui_{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            if kind == "sqlite":
                big_id = asyncio.run(fill_sqlite(tmp / "jobs.db", args.jobs, now))
                store = f"sqlite:///{tmp / 'jobs.db'}"
            else:
                if not args.postgres:
                    print("postgresql: skipped (no --postgres or RUNNER_TEST_POSTGRES)")
                    continue
                big_id = asyncio.run(fill_postgres(args.postgres, schema, args.jobs, now))
                store = f"{args.postgres}{'&' if '?' in args.postgres else '?'}schema={schema}"
            print(f"\n{kind}: {args.jobs:,} jobs stored in {time.perf_counter() - started:.0f} s;"
                  f" {args.requests} sequential GETs per page")
            proc = serve(tmp, store)
            try:
                print(f"{'page':36} {'p50 ms':>8} {'p99 ms':>8}")
                for label, path in pages(big_id, now, args.jobs).items():
                    p50, p99 = timings(proc.url, path, args.requests)  # type: ignore[attr-defined]
                    print(f"{label:36} {p50:8.1f} {p99:8.1f}")
                if kind == "sqlite" and args.rounds:
                    report_acceptance(proc, args.duration, args.rounds)
            finally:
                proc.stop()  # type: ignore[attr-defined]
                if kind != "sqlite":
                    asyncio.run(_drop(args.postgres, schema))


async def _drop(base: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
