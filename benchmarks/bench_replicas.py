"""The replica benchmark: end-to-end throughput of 1, 2 and 3 `runner serve` on one PostgreSQL.

    python benchmarks/bench_replicas.py [--database URL] [--replicas 1,2,3] [--jobs 2000]
                                        [--duration 8] [--connections 32] [--workers 16]

The database is --database or RUNNER_TEST_POSTGRES; every run uses a schema of its own, dropped
after. The recipe: a webhook with `respond: accepted` whose one step POSTs to a local sink
(benchmarks/systems/sink.py). For each replica count:

  backlog    `--jobs` jobs committed at once while the replicas idle; jobs completed per second
             from the first job's start to the last one's end (the jobs' own timestamps)
  sustained  `benchmarks/loadgen.py` posts webhooks for `--duration` seconds, one load generator
             per replica (the connections split between them) while the replicas run the jobs:
             webhooks accepted per second and jobs completed per second in that window
  tx/job     committed transactions in the database (pg_stat_database.xact_commit) during the
             backlog run, per job: every statement outside an explicit transaction is one, so
             this counts the store's calls (claims, checkpoints, finishes, idle polling, and
             the queue depth each /metrics scrape reads: the benchmark scrapes every 0.1s)

Then one replica accepts and runs `--round-trip-jobs` webhooks (16 at a time) through a TCP
forwarder that reads the protocol and counts round trips, from acceptance to the job's end: each Sync (an extended-protocol statement) and each simple Query
(BEGIN, COMMIT, a pool's connection reset), per job, broken down by the statement's name in
runner/store/postgres_queries.py (a new connection's start-up is not counted; the type queries
asyncpg sends on it are). Everything shares this machine's cores with PostgreSQL, the sink and
the load generators, and tx/job counts the whole database's commits: run it alone, and compare
the rows with one another rather than with other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import asyncpg  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))  # runner from this checkout, installed or not

from runner.engine.job import new_job
from runner.store import open_store, postgres_queries

RECIPE = """kind: connection
name: sink
base_url: {sink}
private_network: true
---
kind: recipe
name: bench
concurrency: 256
trigger:
  webhook: {{path: bench, respond: accepted}}
steps:
  - id: forward
    request:
      connection: sink
      method: POST
      url: /sink
      json: {{id: "{{{{ trigger.body.id }}}}", name: "{{{{ trigger.body.name | upper }}}}"}}
"""
EVENT = {"body": {"id": 42, "name": "Ada Lovelace"}, "headers": {}, "query": {}, "method": "POST"}


def store_url(database: str, schema: str, **options: str) -> str:
    parts = urlsplit(database)
    query = {**dict(parse_qsl(parts.query)), "schema": schema, **options}
    return parts._replace(query=urlencode(query)).geturl()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replica:
    """One `runner serve` process, ready once /healthz answers (the store is open by then)."""

    def __init__(self, folder: Path, store: str, name: str, workers: int) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "RUNNER_WORKERS": str(workers),
            "RUNNER_LOG_LEVEL": "warning",
            "RUNNER_DEMO": "false",
            "RUNNER_SHUTDOWN_GRACE": "2s",
            "RUNNER_REPLICA": name,
            "PYTHONPATH": str(ROOT),
        }
        command = [PY, "-m", "runner", "serve", str(folder), "--port", str(port), "--store", store]
        self.popen = subprocess.Popen(
            command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return
            except OSError:
                if self.popen.poll() is not None:
                    error = self.popen.stderr.read().decode() if self.popen.stderr else ""
                    raise SystemExit(f"runner serve exited:\n{error}") from None
                time.sleep(0.1)
        raise SystemExit(f"runner serve at {self.url} did not start within {timeout:g}s")

    def stop(self) -> None:
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class Group:
    """N replicas of `runner serve` on one schema; stopped (SIGTERM) by `stop`."""

    def __init__(self, folder: Path, store: str, count: int, workers: int) -> None:
        self.procs = [Replica(folder, store, f"r{i}", workers) for i in range(count)]
        try:
            for proc in self.procs:
                proc.wait_ready()
        except BaseException:
            self.stop()
            raise

    def done(self) -> int:
        return sum(
            metric(p.url, r'runner_jobs_total\{[^}]*outcome="succeeded"[^}]*\}') for p in self.procs
        )

    def stop(self) -> None:
        for proc in self.procs:
            proc.popen.terminate()
        for proc in self.procs:
            proc.stop()


def metric(url: str, pattern: str) -> int:
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    return int(sum(float(m) for m in re.findall(rf"^{pattern} ([\d.e+]+)$", text, re.MULTILINE)))


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port} after {timeout:g}s") from None
            time.sleep(0.05)


def wait_done(group: Group, jobs: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while group.done() < jobs:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {group.done()} of {jobs} jobs done after {timeout:g}s")
        time.sleep(0.1)


async def fill(store: str, jobs: int) -> None:
    """Commits `jobs` queued jobs in one transaction (the store's batch insert, as a poll does)."""
    async with open_store(store) as backlog:
        await backlog.commit_poll("backlog", {}, [new_job("bench", EVENT) for _ in range(jobs)])


async def drain_span(database: str, schema: str) -> tuple[int, float]:
    """Finished jobs and the seconds from the first start to the last finish, by the store."""
    conn = await asyncpg.connect(database, server_settings={"search_path": f'"{schema}"'})
    try:
        rows = await conn.fetch(
            "SELECT started_at, finished_at FROM jobs WHERE status = 'succeeded'"
        )
    finally:
        await conn.close()
    first = min(datetime.fromisoformat(r["started_at"]) for r in rows)
    last = max(datetime.fromisoformat(r["finished_at"]) for r in rows)
    return len(rows), (last - first).total_seconds()


async def committed(database: str) -> int:
    conn = await asyncpg.connect(database)
    try:
        return int(
            await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
        )
    finally:
        await conn.close()


async def drop(database: str, schema: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@contextmanager
def schema_for(database: str) -> Iterator[str]:
    schema = f"bench_replicas_{uuid.uuid4().hex[:10]}"
    try:
        yield schema
    finally:
        asyncio.run(drop(database, schema))


def backlog_run(folder: Path, database: str, count: int, args: argparse.Namespace) -> dict:
    with schema_for(database) as schema:
        group = Group(folder, store_url(database, schema), count, args.workers)
        try:
            time.sleep(1.5)  # start-up statistics reach pg_stat_database
            before = asyncio.run(committed(database))
            asyncio.run(fill(store_url(database, schema), args.jobs))
            wait_done(group, args.jobs, args.timeout)
        finally:
            group.stop()  # exiting backends flush their statistics
        time.sleep(0.5)
        transactions = asyncio.run(committed(database)) - before
        jobs, seconds = asyncio.run(drain_span(database, schema))
    return {"jobs": jobs, "jobs_per_s": jobs / seconds, "tx_per_job": transactions / jobs}


def sustained_run(folder: Path, database: str, count: int, args: argparse.Namespace) -> dict:
    with schema_for(database) as schema:
        group = Group(folder, store_url(database, schema), count, args.workers)
        try:
            per = max(1, args.connections // count)
            loads = [
                subprocess.Popen(
                    [
                        PY,
                        str(HERE / "loadgen.py"),
                        f"{p.url}/webhooks/bench",
                        "-c",
                        str(per),
                        "-d",
                        str(args.duration),
                    ],
                    stdout=subprocess.PIPE,
                )
                for p in group.procs
            ]
            before, started = group.done(), time.monotonic()
            results = [
                json.loads(load.communicate(timeout=args.duration + 60)[0]) for load in loads
            ]
            done, elapsed = group.done() - before, time.monotonic() - started
        finally:
            group.stop()
    statuses: Counter[str] = Counter()
    for result in results:
        statuses.update(result["statuses"])
    accepted = sum(n for status, n in statuses.items() if status == "202")
    return {
        "accepted_per_s": accepted / elapsed,
        "completed_per_s": done / elapsed,
        "refused": sum(statuses.values()) - accepted,
    }


# -- round trips ---------------------------------------------------------------------------------
_LABELS = {
    text: name
    for name, text in vars(postgres_queries).items()
    if name.isupper() and isinstance(text, str)
}


class ClientMessages:
    """Reads the frontend side of one PostgreSQL connection and counts what each round trip ran.

    After the untyped start-up message every message is a type byte and a length. A Sync ends
    an extended-protocol exchange (one statement, named by the Bind before it); a simple Query
    is a round trip of its own (asyncpg's BEGIN, COMMIT, and the reset when a connection goes
    back to the pool).
    """

    def __init__(self, counts: Counter[str]) -> None:
        self.counts, self.buffer, self.started = counts, bytearray(), False
        self.statements: dict[bytes, str] = {}
        self.pending = "other"

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            header = 4 if not self.started else 5
            if len(self.buffer) < header:
                return
            length = int.from_bytes(self.buffer[header - 4 : header], "big") + header - 4
            if len(self.buffer) < length:
                return
            kind, body = self.buffer[0], bytes(self.buffer[header:length])
            del self.buffer[:length]
            if self.started:
                self._count(kind, body)
            self.started = True

    def _count(self, kind: int, body: bytes) -> None:
        if kind == ord("P"):  # Parse: statement name, query text
            name, query = body.split(b"\0")[:2]
            text = query.decode()
            self.statements[name] = _LABELS.get(text, " ".join(text.split())[:30])
        elif kind == ord("B"):  # Bind: portal, statement
            self.pending = self.statements.get(body.split(b"\0")[1], "other")
        elif kind == ord("S"):
            self.counts[self.pending] += 1
            self.counts["round trips"] += 1
        elif kind == ord("Q"):
            text = " ".join(body.rstrip(b"\0").decode().split()).rstrip(";")
            self.counts["pool reset" if "RESET ALL" in text else text[:30]] += 1
            self.counts["round trips"] += 1


class Forwarder:
    """A TCP forwarder to PostgreSQL, in a thread, counting the round trips through it."""

    def __init__(self, host: str, port: int) -> None:
        self.target, self.port, self.counts = (host, port), free_port(), Counter[str]()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        listen = asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.server = asyncio.run_coroutine_threadsafe(listen, self.loop).result(timeout=10)

    def snapshot(self) -> Counter[str]:
        return asyncio.run_coroutine_threadsafe(self._copy(), self.loop).result(timeout=10)

    async def _copy(self) -> Counter[str]:
        return Counter(self.counts)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        parser = ClientMessages(self.counts)
        await asyncio.gather(_pipe(reader, up_writer, parser.feed), _pipe(up_reader, writer, None))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: object) -> None:
    try:
        while chunk := await reader.read(65536):
            if callable(seen):
                seen(chunk)
            writer.write(chunk)
            await writer.drain()
    except (OSError, ConnectionError):
        pass
    writer.close()


async def post_webhooks(url: str, count: int, at_once: int = 16) -> None:
    """`count` webhooks, `at_once` in flight; each must be accepted."""
    gate = asyncio.Semaphore(at_once)
    body = json.dumps(EVENT["body"]).encode()
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as client:

        async def one() -> None:
            async with gate, client.post(f"{url}/webhooks/bench", data=body, headers=headers) as r:
                if r.status != 202:
                    raise SystemExit(f"a webhook was answered {r.status}: {await r.text()}")

        await asyncio.gather(*(one() for _ in range(count)))


def round_trip_run(folder: Path, database: str, args: argparse.Namespace) -> dict:
    parts = urlsplit(database)
    forwarder = Forwarder(parts.hostname or "127.0.0.1", parts.port or 5432)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = (
        f"{credentials}@127.0.0.1:{forwarder.port}"
        if credentials
        else f"127.0.0.1:{forwarder.port}"
    )
    through = parts._replace(netloc=netloc).geturl()
    jobs = args.round_trip_jobs
    with schema_for(database) as schema:
        store = store_url(through, schema, sslmode="disable")  # plain protocol, readable
        group = Group(folder, store, 1, args.workers)
        try:
            time.sleep(1.0)
            before = forwarder.snapshot()
            asyncio.run(post_webhooks(group.procs[0].url, jobs))
            wait_done(group, jobs, args.timeout)
            counts = forwarder.snapshot() - before
        finally:
            group.stop()
    return {"jobs": jobs, "per_job": {k: v / jobs for k, v in counts.most_common()}}


# -- report --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("RUNNER_TEST_POSTGRES"))
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--jobs", type=int, default=2000, help="backlog size")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of sustained load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=16, help="RUNNER_WORKERS per replica")
    parser.add_argument("--round-trip-jobs", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    if not args.database:
        raise SystemExit("give --database postgresql://... or set RUNNER_TEST_POSTGRES")
    sink_port = free_port()
    sink = subprocess.Popen([PY, str(HERE / "systems" / "sink.py"), str(sink_port)])
    wait_listening(sink_port)
    try:
        with tempfile.TemporaryDirectory(prefix="runner-bench-replicas-") as tmp:
            folder = Path(tmp)
            (folder / "bench.yaml").write_text(RECIPE.format(sink=f"http://127.0.0.1:{sink_port}"))
            rows = {}
            for count in [int(n) for n in args.replicas.split(",")]:
                rows[count] = {
                    **backlog_run(folder, args.database, count, args),
                    **sustained_run(folder, args.database, count, args),
                }
                print(f"{count} replica(s): {rows[count]}", file=sys.stderr)
            trips = round_trip_run(folder, args.database, args)
    finally:
        sink.terminate()
        sink.wait()
    report(rows, trips, args)


def report(rows: dict[int, dict], trips: dict, args: argparse.Namespace) -> None:
    print(
        f"\nrunner serve replicas on one PostgreSQL ({os.cpu_count()} cores, "
        f"{args.workers} workers each, backlog {args.jobs} jobs, "
        f"{args.connections} connections for {args.duration:g}s)"
    )
    print(
        f"{'replicas':>8} {'backlog jobs/s':>15} {'accepted/s':>11} {'completed/s':>12} "
        f"{'refused':>8} {'tx/job':>7}"
    )
    for count, row in rows.items():
        print(
            f"{count:>8} {row['jobs_per_s']:>15.0f} {row['accepted_per_s']:>11.0f} "
            f"{row['completed_per_s']:>12.0f} {row['refused']:>8} {row['tx_per_job']:>7.1f}"
        )
    per_job = trips["per_job"]
    detail = ", ".join(f"{k} {v:.2f}" for k, v in per_job.items() if k != "round trips")
    print(
        f"\nround trips per webhook job, accepted and run (1 replica, {trips['jobs']} jobs): "
        f"{per_job.get('round trips', 0):.1f} = {detail}"
    )


if __name__ == "__main__":
    main()
