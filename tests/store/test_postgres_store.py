"""What only the PostgreSQL store does: URLs, racing migrations, replicas sharing one schema."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.engine.records import JobRecord, StepRecord
from runner.errors import StoreError
from runner.store import open_store
from runner.store.postgres import PostgresSettings, PostgresStore, settings_from_url

REPO = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("RUNNER_TEST_POSTGRES")
needs_server = pytest.mark.skipif(
    not POSTGRES, reason="RUNNER_TEST_POSTGRES is not set: no PostgreSQL server to test against"
)


def make_job(recipe: str = "r", **event: Any) -> JobRecord:
    return JobRecord(uuid.uuid4().hex, recipe, "queued", event, datetime.now(UTC).isoformat())


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """A schema name no store has used yet; dropped, with what a test put there, afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"test_{uuid.uuid4().hex}"
    yield name
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def url(schema: str) -> str:
    assert POSTGRES
    return f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}schema={schema}"


async def raw(url: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one query on the store's own database, in the test's schema, outside any store."""
    import asyncpg

    settings = settings_from_url(url)
    conn = await asyncpg.connect(settings.dsn, server_settings={"search_path": settings.schema})
    try:
        return [tuple(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def test_urls_carry_pool_and_schema_options_and_pass_the_rest_on() -> None:
    settings = settings_from_url(
        "postgresql://me:s3cret@db.internal:6432/runner?sslmode=require&pool_min=2&pool_max=20"
        "&schema=jobs_1"
    )
    assert settings == PostgresSettings(
        "postgresql://me:s3cret@db.internal:6432/runner?sslmode=require",
        "postgresql://db.internal:6432/runner",
        "jobs_1",
        2,
        20,
    )
    assert settings_from_url("postgres://localhost/x").schema == "public"
    assert isinstance(open_store("postgres://localhost/x?pool_max=3"), PostgresStore)
    assert isinstance(open_store("POSTGRESQL://localhost/x"), PostgresStore)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("postgresql://u:hunter2@h/db?schema=Jobs", "schema must be lowercase"),
        ("postgresql://u:hunter2@h/db?schema=a;drop", "schema must be lowercase"),
        ("postgresql://u:hunter2@h/db?pool_max=many", "pool_max must be a number"),
        ("postgresql://u:hunter2@h/db?pool_min=-1", "pool_min must be a number"),
        ("postgresql://u:hunter2@h/db?pool_min=5&pool_max=2", "pool_min <= pool_max"),
        ("postgresql://u:hunter2@h/db?pool_max=1", "pool_max >= 2"),
        ("postgresql://u:hunter2@h:port/db", "port is not a number"),
    ],
)
def test_bad_urls_are_refused_without_quoting_the_password(url: str, complaint: str) -> None:
    with pytest.raises(StoreError, match=complaint) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)


async def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    store = open_store("postgresql://u:hunter2@127.0.0.1:1/db")
    with pytest.raises(StoreError, match="opening postgresql://127.0.0.1:1/db") as caught:
        await store.open()
    assert "hunter2" not in str(caught.value)
    assert await store.ping() is False


@needs_server
async def test_five_stores_opening_a_fresh_schema_at_once_migrate_it_once(url: str) -> None:
    stores = [open_store(url) for _ in range(5)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        await asyncio.gather(*(store.enqueue(make_job(f"r{n}")) for n, store in enumerate(stores)))
        assert await stores[0].queue_depth() == 5
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    applied = await raw(url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert applied == [(1, "initial"), (2, "job_minutes")]


@needs_server
async def test_tables_live_in_the_named_schema_and_the_pool_has_its_size(
    url: str, schema: str
) -> None:
    async with PostgresStore.from_url(f"{url}&pool_min=0&pool_max=2") as store:
        assert store._pool.get_max_size() == 2
        tables = await raw(
            url, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    assert {name for (name,) in tables} >= {"jobs", "steps", "poll_state", "poll_leases", "tokens"}


@needs_server
async def test_a_schema_newer_than_the_runner_is_refused(url: str) -> None:
    async with open_store(url):
        pass
    await raw(url, "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')")
    store = open_store(url)
    with pytest.raises(StoreError, match="upgrade the runner"):
        await store.open()
    assert await store.ping() is False


@needs_server
async def test_replicas_never_share_a_job_and_keep_concurrency_and_order(url: str) -> None:
    limits = {"a": 1, "b": 2}
    jobs = [make_job(recipe) for recipe in ["a", "b", "a", "c", "b", "a", "b", "d"] * 6]
    started: list[str] = []
    running = {recipe: 0 for recipe in "abcd"}
    excess: list[str] = []

    async def worker(store: Any, owner: str) -> None:
        for _ in range(300):  # bounded: each round claims, works a moment, finishes
            if len(started) == len(jobs):
                return
            claimed = await store.claim(2, {}, limits, owner=owner)
            for job in claimed:
                started.append(job.id)
                running[job.recipe] += 1
                if running[job.recipe] > limits.get(job.recipe, 1):
                    excess.append(job.id)
            for job in claimed:
                await asyncio.sleep(0.003)
                running[job.recipe] -= 1  # before finish commits, so no false alarm
                job.status, job.finished_at = "succeeded", datetime.now(UTC).isoformat()
                await store.finish(job)
            await asyncio.sleep(0)

    async with open_store(url) as one, open_store(url) as two:
        for job in jobs:
            await one.enqueue(job)
        workers = [worker(store, name) for store, name in [(one, "one"), (two, "two")] * 3]
        await asyncio.wait_for(asyncio.gather(*workers), timeout=20)
    assert sorted(started) == sorted(job.id for job in jobs)  # each exactly once
    assert excess == []  # never more of a recipe running than its concurrency
    for recipe in "ab":  # each recipe's jobs started in enqueue order
        wanted = [job.id for job in jobs if job.recipe == recipe]
        assert [job_id for job_id in started if job_id in wanted] == wanted


@needs_server
async def test_a_dead_replicas_jobs_resume_elsewhere_once_its_lease_expires(url: str) -> None:
    first, second = make_job("a"), make_job("a")
    dead = open_store(url)
    await dead.open()
    async with open_store(url) as alive:
        await alive.enqueue(first)
        await alive.enqueue(second)
        (claimed,) = await dead.claim(5, {}, {}, owner="dead", lease=0.3)
        step = StepRecord("one", "succeeded", "2024-01-01T00:00:00+00:00", 1.0, output={"id": 1})
        await dead.checkpoint(claimed.id, step)
        await dead.close()  # dies: no finish, no heartbeat
        assert await alive.recover_expired() == 0  # the lease still runs
        assert await alive.claim(5, {}, {}, owner="alive") == []  # a is still busy
        await asyncio.sleep(0.35)
        assert await alive.recover_expired() == 1
        (resumed,) = await alive.claim(5, {}, {}, owner="alive")
        assert resumed.id == first.id and resumed.steps == [step]
        assert await raw(url, "SELECT owner FROM jobs WHERE id = $1", first.id) == [("alive",)]


@needs_server
async def test_another_replica_takes_over_a_poll_from_its_stored_state(url: str) -> None:
    async with open_store(url) as one, open_store(url) as two:
        assert await one.acquire_poll("feed", "one", 0.3) is True
        assert await two.acquire_poll("feed", "two", 0.3) is False
        await one.commit_poll("feed", {"cursor": 41, "seen": ["a"]}, [make_job("feed")])
        # "one" dies here: it renews nothing more
        await asyncio.sleep(0.35)
        assert await two.acquire_poll("feed", "two", 0.3) is True
        assert await one.acquire_poll("feed", "one", 0.3) is False
        assert await two.load_poll_state("feed") == {"cursor": 41, "seen": ["a"]}


@needs_server
async def test_replicas_refresh_a_token_once_between_them(url: str) -> None:
    refreshed: list[str] = []

    async def refresh(store: Any, name: str) -> None:
        async with store.token_lock("jira"):
            if await store.get_token("jira") is None:
                await asyncio.sleep(0.05)  # the token endpoint's round trip
                await store.put_token("jira", name.encode())
                refreshed.append(name)

    async with open_store(url) as one, open_store(url) as two:
        await asyncio.wait_for(
            asyncio.gather(*(refresh(s, f"{n}") for n in range(3) for s in (one, two))), 10
        )
        assert len(refreshed) == 1
        assert await two.get_token("jira") == refreshed[0].encode()


@needs_server
async def test_token_lock_waiters_leave_the_holder_a_connection(url: str) -> None:
    async def refresh(store: Any, connection: str) -> None:
        async with store.token_lock(connection):
            blob = await store.get_token(connection) or b""
            await store.put_token(connection, blob + b"+")

    async with open_store(f"{url}&pool_min=0&pool_max=2") as store:
        names = ["jira", "github", "slack"] * 4
        await asyncio.wait_for(asyncio.gather(*(refresh(store, n) for n in names)), 10)
        assert [await store.get_token(n) for n in names[:3]] == [b"++++"] * 3


@needs_server
async def test_replicas_receiving_one_delivery_twice_start_one_job(url: str) -> None:
    async with open_store(url) as one, open_store(url) as two:
        jobs = [make_job("hook") for _ in range(6)]
        stores = [one, two] * 3
        results = await asyncio.gather(
            *(store.enqueue(job, "delivery-7") for store, job in zip(stores, jobs, strict=True))
        )
        assert len({job_id for job_id, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        assert await one.queue_depth() == 1


async def test_a_server_that_accepts_but_never_answers_fails_in_seconds_saying_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database behind a network that drops packets: opening (and so a webhook's enqueue
    that needs a new connection) gives up after the connect timeout, and says why."""
    import runner.store.postgres as postgres

    monkeypatch.setattr(postgres, "CONNECT_TIMEOUT", 0.5)
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # kept open, never answered

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = open_store(f"postgresql://u@127.0.0.1:{port}/db")
    started = asyncio.get_running_loop().time()
    try:
        with pytest.raises(StoreError) as caught:
            await store.open()
    finally:
        server.close()
        for writer in silent:
            writer.close()
    assert asyncio.get_running_loop().time() - started < 5
    assert str(caught.value).endswith(": the database did not answer in time")


@needs_server
async def test_jobs_commands_do_not_create_a_mistyped_schema(
    url: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from runner.commands.jobs import _run as jobs_run

    args = argparse.Namespace(action="list", recipe=None, status=None, limit=20, format="text")
    with pytest.raises(StoreError, match=f"there is no job store in schema {schema} of "):
        await jobs_run(url, args)
    assert await raw(POSTGRES or "", "SELECT 1 FROM information_schema.schemata "
                     "WHERE schema_name = $1", schema) == []
    store = open_store(url)  # once `runner serve` has created it, it lists
    await store.open()
    await store.close()
    assert await jobs_run(url, args) == 0
