"""What only the SQLite store does: URLs, WAL, migrations, group commit, surviving a SIGKILL."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.engine.records import JobRecord
from runner.errors import StoreError
from runner.store import open_store
from runner.store.sqlite import SQLiteStore, settings_from_url
from runner.store.sqlite_conn import Settings, Writer, split_sql
from runner.store.sqlite_queries import CREATE_SCHEMA_MIGRATIONS

REPO = Path(__file__).resolve().parents[2]


def make_job(recipe: str = "r", **event: Any) -> JobRecord:
    return JobRecord(uuid.uuid4().hex, recipe, "queued", event, datetime.now(UTC).isoformat())


async def writer_pragma(store: SQLiteStore, name: str) -> Any:
    """A pragma as the store's own write connection sees it."""
    assert store._writer is not None
    return await store._writer.submit(lambda c: c.execute(f"PRAGMA {name}").fetchone()[0], name)


def test_urls_name_relative_absolute_and_memory_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert settings_from_url("sqlite:///data/runner.db").path == str(tmp_path / "data/runner.db")
    assert settings_from_url("sqlite:////var/lib/runner.db") == Settings("/var/lib/runner.db")
    assert settings_from_url("sqlite://:memory:").path == ":memory:"
    options = settings_from_url("sqlite:///a.db?synchronous=NORMAL&busy_timeout=250")
    assert (options.synchronous, options.busy_timeout_ms) == ("normal", 250)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("sqlite://host/x.db", "expected sqlite:///"),
        ("sqlite:///", "expected sqlite:///"),
        ("sqlite:///x.db?synchronus=full", "unknown option 'synchronus'"),
        ("sqlite:///x.db?synchronous=fast", "synchronous must be one of"),
        ("sqlite:///x.db?busy_timeout=soon", "busy_timeout must be"),
        ("mysql://user:hunter2@db/runner", "unsupported store URL scheme 'mysql'"),
        ("runner.db", "unsupported store URL"),
    ],
)
def test_bad_urls_are_refused_clearly(url: str, complaint: str) -> None:
    with pytest.raises(StoreError, match=complaint) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)


async def test_first_open_creates_folder_and_file_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "runner.db"
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SQLiteStore) and not path.exists()
    async with store:
        assert path.exists()
        assert await writer_pragma(store, "synchronous") == 2  # FULL
        assert await writer_pragma(store, "foreign_keys") == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_synchronous_can_be_relaxed_in_the_url(tmp_path: Path) -> None:
    async with SQLiteStore.from_url(f"sqlite:///{tmp_path}/r.db?synchronous=normal") as store:
        assert await writer_pragma(store, "synchronous") == 1  # NORMAL


async def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    for _ in range(2):
        async with open_store(url) as store:
            await store.enqueue(make_job())
    with sqlite3.connect(tmp_path / "r.db") as conn:
        assert conn.execute("SELECT version, name FROM schema_migrations").fetchall() == [
            (1, "initial"),
            (2, "leases"),
            (3, "status_check"),
            (4, "job_minutes"),
        ]
        assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2


async def test_a_store_from_before_leases_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    initial = REPO / "runner" / "store" / "migrations" / "sqlite" / "0001_initial.sql"
    with sqlite3.connect(path) as conn:
        conn.executescript(initial.read_text())
        conn.execute(CREATE_SCHEMA_MIGRATIONS)
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial', 'then')")
        conn.execute(
            "INSERT INTO jobs (id, recipe, status, event, created_at) VALUES"
            " ('old', 'r', 'running', '{}', '2024-01-01')"
        )
    async with open_store(f"sqlite:///{path}") as store:
        assert await store.recover_expired() == 1  # running without a lease: expired
        assert [job.id for job in await store.claim(5, {}, {}, owner="me")] == ["old"]


def _store_at_version_2(path: Path) -> None:
    """A store file as runner left it before migration 3: two jobs with steps, the newest
    pruned (so the AUTOINCREMENT counter is ahead of every row)."""
    folder = REPO / "runner" / "store" / "migrations" / "sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        for version, name in ((1, "initial"), (2, "leases")):
            conn.executescript((folder / f"{version:04d}_{name}.sql").read_text())
        conn.execute(CREATE_SCHEMA_MIGRATIONS)
        conn.executemany("INSERT INTO schema_migrations VALUES (?, ?, 'then')",
                         [(1, "initial"), (2, "leases")])
        for job_id, status in (("done", "succeeded"), ("queued", "queued"), ("pruned", "failed")):
            conn.execute(
                "INSERT INTO jobs (id, recipe, status, event, created_at) VALUES (?, 'r', ?, ?, ?)",
                (job_id, status, '{"n": 1}', "2026-01-01T00:00:00.000000+00:00"),
            )
            step = '{"id": "a", "status": "succeeded", "started_at": "then", "duration_ms": 1}'
            conn.execute("INSERT INTO steps (job_id, step_id, record) VALUES (?, 'a', ?)",
                         (job_id, step))
        conn.execute("DELETE FROM jobs WHERE id = 'pruned'")


async def test_a_store_from_before_the_status_check_rewrite_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.db"
    _store_at_version_2(path)
    async with open_store(f"sqlite:///{path}") as store:
        done = await store.get_job("done")
        assert done is not None and done.status == "succeeded" and done.event == {"n": 1}
        assert [step.id for step in done.steps] == ["a"]
        new = make_job()
        await store.enqueue(new)
        claimed = await store.claim(5, {}, {"r": 5}, owner="me")
        assert [job.id for job in claimed] == ["queued", new.id]
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        seqs = dict(conn.execute("SELECT id, seq FROM jobs").fetchall())
        assert seqs["done"] < seqs["queued"] < seqs[new.id] and seqs[new.id] > 3  # not reused
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            conn.execute("UPDATE jobs SET status = 'paused' WHERE id = 'done'")
        conn.execute("DELETE FROM jobs WHERE id = 'done'")  # its steps go with it, as before
        assert conn.execute("SELECT job_id FROM steps ORDER BY seq").fetchall() == [("queued",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_status_writes_build_no_temporary_index(tmp_path: Path) -> None:
    """An IN list in a CHECK makes SQLite build a temporary index on every insert and status
    update (migration 3 removed it); this keeps the schema from growing one back."""
    async with open_store(f"sqlite:///{tmp_path}/r.db"):
        pass
    with sqlite3.connect(tmp_path / "r.db") as conn:
        for sql in (
            "INSERT INTO jobs (id, recipe, status, event, created_at)"
            " VALUES ('a', 'r', 'queued', '{}', 'now')",
            "UPDATE jobs SET status = 'failed' WHERE id = 'a'",
        ):
            program = [row[1] for row in conn.execute("EXPLAIN " + sql)]
            assert "OpenEphemeral" not in program, sql


async def test_stores_opening_a_fresh_file_at_once_all_work(tmp_path: Path) -> None:
    stores = [open_store(f"sqlite:///{tmp_path}/r.db") for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        await asyncio.gather(*(store.enqueue(make_job(f"r{n}")) for n, store in enumerate(stores)))
        assert await stores[0].queue_depth() == 4
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_a_schema_newer_than_the_runner_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    async with open_store(url):
        pass
    with sqlite3.connect(tmp_path / "r.db") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (9999, 'future', 'x')")
    store = open_store(url)
    with pytest.raises(StoreError, match="upgrade the runner"):
        await store.open()
    assert await store.ping() is False


def test_migration_scripts_split_where_sqlite_sees_statements_end() -> None:
    script = "-- a table\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE TABLE b (y);  -- done\n"
    assert split_sql(script) == [
        "-- a table\nCREATE TABLE a (x TEXT DEFAULT ';');",
        "CREATE TABLE b (y);  -- done",
    ]
    with pytest.raises(StoreError, match="incomplete"):
        split_sql("CREATE TABLE c (z")


async def test_concurrent_enqueues_share_few_commits(tmp_path: Path) -> None:
    async with SQLiteStore.from_url(f"sqlite:///{tmp_path}/r.db") as store:
        before = store.commits
        jobs = [make_job(f"r{n % 7}", n=n) for n in range(500)]
        results = await asyncio.gather(*(store.enqueue(job) for job in jobs))
        commits = store.commits - before
        assert results == [(job.id, True) for job in jobs]
        # Submitted in one loop turn, they reach the writer thread together: one transaction.
        assert commits == 1, f"500 enqueues took {commits} commits"
        assert await store.queue_depth() == 500


def _insert(n: int) -> Any:
    def op(conn: sqlite3.Connection) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        return int(conn.execute("INSERT INTO t VALUES (?)", (n,)).lastrowid)
    return op


async def test_a_turn_with_more_writes_than_a_batch_commits_them_in_order_in_batches(
    tmp_path: Path,
) -> None:
    writer = Writer(Settings(str(tmp_path / "w.db")), max_batch=10)
    await writer.start()
    try:
        futures = [writer.submit(_insert(n), f"insert {n}") for n in range(25)]  # one turn
        rowids = await asyncio.gather(*futures)
        assert writer.commits == 3  # 10 + 10 + 5
        assert rowids == list(range(1, 26))  # committed in the order submitted
    finally:
        await writer.stop()
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert [n for (n,) in conn.execute("SELECT n FROM t ORDER BY rowid")] == list(range(25))


class WriterBug(BaseException):
    """Not an Exception: gets past the per-operation error handling, as a bug in it would."""


async def test_writes_waiting_when_the_writer_thread_dies_get_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    writer = Writer(Settings(str(tmp_path / "w.db")))
    await writer.start()

    def crash(conn: sqlite3.Connection) -> None:
        raise WriterBug("boom")

    same_batch = [writer.submit(_insert(1), "before"), writer.submit(crash, "crash"),
                  writer.submit(_insert(2), "after")]
    results = await asyncio.wait_for(asyncio.gather(*same_batch, return_exceptions=True), 10)
    assert all(isinstance(r, StoreError) and "writer stopped" in str(r) for r in results)
    with pytest.raises(StoreError, match="not open"):
        writer.submit(_insert(3), "later")
    await writer.stop()  # the thread has ended (with the bug, reported to threading's hook)
    assert len(died) == 1 and isinstance(died[0], WriterBug)


async def test_a_failing_write_does_not_undo_the_others_in_its_commit(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path}/r.db") as store:
        taken = make_job()
        await store.enqueue(taken)
        clash = JobRecord(taken.id, "r", "queued", {}, taken.created_at)
        before, after = make_job(), make_job()
        results = await asyncio.gather(
            store.enqueue(before), store.enqueue(clash), store.enqueue(after),
            return_exceptions=True,
        )
        assert results[0] == (before.id, True) and results[2] == (after.id, True)
        assert isinstance(results[1], StoreError)
        assert await store.queue_depth() == 3


async def test_close_commits_writes_already_submitted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    store = open_store(url)
    await store.open()
    jobs = [make_job(n=n) for n in range(50)]
    pending = [asyncio.ensure_future(store.enqueue(job)) for job in jobs]
    await asyncio.sleep(0)  # each enqueue hands its write to the writer thread
    await store.close()
    assert [await task for task in pending] == [(job.id, True) for job in jobs]
    async with open_store(url) as reopened:
        assert await reopened.queue_depth() == 50


async def test_memory_stores_are_private_and_complete(tmp_path: Path) -> None:
    async with open_store("sqlite://:memory:") as one, open_store("sqlite://:memory:") as two:
        job = make_job()
        await one.enqueue(job)
        assert await one.get_job(job.id) == job
        assert await two.get_job(job.id) is None
        assert await one.ping() is True
    assert not list(tmp_path.iterdir())


async def test_an_idle_recipe_is_claimed_at_enqueue_in_one_commit(tmp_path: Path) -> None:
    from runner.engine.records import JobRecord
    from runner.store.sqlite import SQLiteStore

    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/d.db")
    await store.open()
    try:
        job = JobRecord("j1", "r", "queued", {}, "2026-01-01T00:00:00+00:00")
        before = store.commits
        assert await store.enqueue_claimed(job, concurrency=2, owner="me", lease=30) == ("j1", True, True)
        assert store.commits == before + 1
        stored = await store.get_job("j1")
        assert stored is not None and stored.status == "running" and stored.started_at
        assert await store.claim(5, {}, {"r": 2}) == []  # it is not handed out twice
    finally:
        await store.close()
