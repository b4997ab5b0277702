"""SQLite connections: their pragmas, migrations, the group-commit writer thread and the reader.

sqlite3 blocks, so no connection is used from the event loop: one thread owns the write
connection (SQLite admits one writer at a time anyway) and one owns a read connection. Callers
hand them operations -- functions of a connection -- and await the result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from runner.errors import StoreError, StoreUnavailable
from runner.store import sqlite_queries as q
from runner.store.migration_files import migration_files, pending_versions

log = logging.getLogger(__name__)

# Binding None: CPython's sqlite3 (3.11) finds no adapter for it, then asks the adaptation
# protocol, and that lookup formats an AttributeError only to discard it -- about 2,000
# instructions per NULL parameter, and a new job binds four or five. A registered adapter is found
# first; `{}.get` hands None back (a C call, no Python frame), which binds as NULL as before.
sqlite3.register_adapter(type(None), {}.get)  # type: ignore[arg-type]

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], T]

MEMORY = ":memory:"
SYNCHRONOUS = ("off", "normal", "full", "extra")


@dataclass(frozen=True)
class Settings:
    """Where the database is and how hard it holds on to each commit."""

    path: str  # a file path, or ":memory:"
    synchronous: str = "full"  # full: a commit survives power loss; normal: a process crash
    busy_timeout_ms: int = 5000  # how long to wait for another process's lock

    def __post_init__(self) -> None:
        # Both end up inside PRAGMA statements, which take no parameters.
        if self.synchronous not in SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        if not isinstance(self.busy_timeout_ms, int) or self.busy_timeout_ms < 0:
            raise StoreError("busy_timeout must be a number of milliseconds")


def connect(settings: Settings, *, write: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), with the store's pragmas."""
    conn = sqlite3.connect(
        settings.path,
        timeout=settings.busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=False,  # each connection is used by one thread at a time, ours
    )
    conn.execute(f"PRAGMA busy_timeout = {int(settings.busy_timeout_ms)}")
    if write:
        _enable_wal(conn, settings.busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA synchronous = {settings.synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys = ON")
    else:
        conn.execute("PRAGMA query_only = ON")
    return conn


def _enable_wal(conn: sqlite3.Connection, patience: float) -> None:
    """Switches the file to WAL, retrying within `patience` seconds while it is locked.

    SQLite does not always call the busy handler here: when several processes open a fresh file
    at once, one switching it to WAL can make the others' switch fail at once with "database is
    locked", whatever busy_timeout says.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: list[str]


def load_migrations() -> list[Migration]:
    """The numbered files of migrations/sqlite/, in order."""
    return [
        Migration(version, name, split_sql(sql)) for version, name, sql in migration_files("sqlite")
    ]


def split_sql(script: str) -> list[str]:
    """A script's statements, split where SQLite itself sees one end (not at every ';')."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and any(
        not ln.strip().startswith("--") for ln in pending.splitlines() if ln.strip()
    ):
        raise StoreError(f"incomplete SQL statement in a migration: {pending.strip()[:80]!r}")
    return statements


def migrate(conn: sqlite3.Connection, migrations: list[Migration]) -> list[int]:
    """Applies the migrations not yet recorded (the caller holds the write transaction)."""
    conn.execute(q.CREATE_SCHEMA_MIGRATIONS)
    applied = {row[0] for row in conn.execute(q.APPLIED_VERSIONS)}
    todo = pending_versions(applied, [m.version for m in migrations])
    done: list[int] = []
    for migration in migrations:
        if migration.version not in todo:
            continue
        for statement in migration.statements:
            conn.execute(statement)
        now = datetime.now(UTC).isoformat()
        conn.execute(q.RECORD_MIGRATION, (migration.version, migration.name, now))
        done.append(migration.version)
    return done


# SQLITE_BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL: see sqlite.org/rescode.
_UNAVAILABLE_CODES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def store_error(what: str, exc: BaseException) -> BaseException:
    """SQLite's errors become StoreErrors that say what was being done; others pass as they are.
    Those of a database that is busy, locked, full, read-only or failing to read or write are
    `StoreUnavailable` (by SQLite's primary result code; a mistaken statement is not)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        unavailable = code is not None and code & 0xFF in _UNAVAILABLE_CODES
        error = (StoreUnavailable if unavailable else StoreError)(f"{what}: {exc}")
        error.__cause__ = exc
        return error
    return exc


@dataclass
class _Pending:
    op: Callable[[sqlite3.Connection], Any]
    what: str
    future: asyncio.Future[Any]  # resolved on its event loop, after the commit
    durable: bool = True


_STOP = object()


class Writer:
    """The one thread that writes: runs submitted operations and commits them in groups.

    Group commit: the thread takes every operation waiting in its queue (at most `max_batch`),
    runs them in one transaction and commits them together. When one fails, that transaction is
    rolled back and the batch runs again with each operation in its own savepoint, so the failed
    one is undone alone and its caller gets the error. While a commit is being flushed to disk new
    operations queue up and join the next one, so under load commits grow far slower than writes,
    and a lone write is committed at once. A caller's future resolves only after the commit.

    The operations one event-loop turn submits reach the thread together, in order, as one
    queue item at the end of the turn: a busy daemon submits several writes per turn, and each
    hand-over wakes the thread (a system call) and costs a queue round trip in both threads.
    """

    def __init__(self, settings: Settings, max_batch: int = 1000) -> None:
        self.commits = 0  # transactions committed, for tests and metrics
        self._settings = settings
        self._sync_level = settings.synchronous  # as `connect` set it
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop callers await on
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[list[_Pending] | object] = queue.SimpleQueue()
        self._outbox: list[_Pending] = []  # this loop turn's operations, not yet handed over
        self._carried: list[_Pending] = []  # taken from the queue beyond `max_batch`: next batch
        self._stopping = False  # the writer thread took `_STOP` from the queue
        self._broken: StoreError | None = None  # why the writer thread stopped, if it crashed
        self._accepting = False
        self._thread = threading.Thread(target=self._serve, name="runner-store-writer", daemon=True)
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    async def start(self) -> None:
        self._thread.start()
        await asyncio.wrap_future(self._ready)
        self._accepting = True

    def submit(self, op: Op[T], what: str, durable: bool = True) -> asyncio.Future[T]:
        """Queues `op` for a write transaction; the future gives its result once committed.

        A plain function handing back the future, not a coroutine: every webhook goes through
        here, and each coroutine level between a caller and the commit costs on every resume.
        Call it from the event loop. `durable=False` lets a batch of only such writes commit
        with `synchronous=NORMAL`: still safe from a process crash (WAL), and the next durable
        commit syncs it to disk anyway.
        """
        if not self._accepting:
            raise StoreError(f"{what}: the store is not open")
        loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._outbox:
            loop.call_soon(self._hand_over)
        self._outbox.append(_Pending(op, what, future, durable))
        return future

    def _hand_over(self) -> None:
        """Gives the writer thread this turn's operations, in the order they were submitted."""
        outbox, self._outbox = self._outbox, []
        if outbox:
            self._queue.put(outbox)
            if self._broken is not None:  # the thread is gone: nobody else will answer them
                self._fail_waiting(self._broken)

    async def stop(self) -> None:
        """Lets every operation already submitted commit, then closes the connection."""
        if not self._thread.is_alive():
            return
        self._accepting = False
        self._hand_over()
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        try:
            conn = connect(self._settings, write=True)
        except BaseException as exc:  # noqa: BLE001 -- handed to the awaiting start()
            self._ready.set_exception(store_error(f"opening {self._settings.path}", exc))
            return
        self._ready.set_result(None)
        batch: list[_Pending] = []
        try:
            while not self._stopping or self._carried:
                batch = self._next_batch()
                if batch:
                    self._commit(conn, batch)
        except BaseException as exc:  # a bug: nobody may be left waiting for a reply
            self._accepting = False
            self._broken = StoreError(f"the store's writer stopped: {exc!r}")
            self._settle([(pending, None, self._broken) for pending in batch + self._carried])
            self._fail_waiting(self._broken)
            raise
        finally:
            conn.close()

    def _fail_waiting(self, error: StoreError) -> None:
        """Answers every operation still queued with `error` (from either thread)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, list):
                self._settle([(pending, None, error) for pending in item])

    def _next_batch(self) -> list[_Pending]:
        """The operations of the next transaction: what the queue holds, at most `max_batch`
        (the rest is carried to the next one), waiting for some only when none is carried."""
        taken, self._carried = self._carried, []
        wait = not taken
        while len(taken) < self._max_batch:
            try:
                item = self._queue.get() if wait else self._queue.get_nowait()
            except queue.Empty:
                break
            wait = False
            if item is _STOP:  # `stop` hands the last operations over before this
                self._stopping = True
                break
            taken += item  # type: ignore[arg-type]
        taken, self._carried = taken[: self._max_batch], taken[self._max_batch :]
        # A caller cancelled before its turn drops its operation.
        return [pending for pending in taken if not pending.future.done()]

    def _sync_for(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        """FULL (or the configured level) when the batch promises durability, else NORMAL."""
        level = self._settings.synchronous
        if level in ("full", "extra") and not any(p.durable for p in batch):
            level = "normal"
        if level != self._sync_level:
            conn.execute(f"PRAGMA synchronous = {level.upper()}")
            self._sync_level = level

    def _commit(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        try:
            self._sync_for(conn, batch)
            outcomes = _run_together(conn, batch)
            if outcomes is None:  # one operation failed: again, each in a savepoint of its own
                outcomes = _run_isolated(conn, batch)
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
            log.error("store transaction of %d writes failed: %s", len(batch), exc)
            self._settle([(pending, None, store_error(pending.what, exc)) for pending in batch])
            return
        self.commits += 1
        self._settle(outcomes)

    def _settle(self, outcomes: list[tuple[_Pending, Any, BaseException | None]]) -> None:
        """Hands a whole batch's results to the event loop in one wake-up, not one per write."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_resolve, outcomes)


def _resolve(outcomes: list[tuple[_Pending, Any, BaseException | None]]) -> None:
    for pending, result, error in outcomes:
        if pending.future.done():  # its caller was cancelled meanwhile
            continue
        if error is None:
            pending.future.set_result(result)
        else:
            pending.future.set_exception(error)


Outcome = tuple[_Pending, Any, BaseException | None]


def _run_together(conn: sqlite3.Connection, batch: list[_Pending]) -> list[Outcome] | None:
    """The batch in one transaction, with no savepoint per operation (two statements fewer
    each): the common case, where every operation succeeds. When one fails, the transaction is
    rolled back and None returned, so the caller can run them again isolated; operations are
    functions of the connection, so running one twice gives the same result. A batch of one
    needs no second run: its failure is its own."""
    conn.execute("BEGIN IMMEDIATE")
    outcomes: list[Outcome] = []
    for pending in batch:
        try:
            outcomes.append((pending, pending.op(conn), None))
        except Exception as exc:  # noqa: BLE001 -- the caller's error, or a reason to isolate
            conn.rollback()
            return [(pending, None, store_error(pending.what, exc))] if len(batch) == 1 else None
    conn.execute("COMMIT")
    return outcomes


def _run_isolated(conn: sqlite3.Connection, batch: list[_Pending]) -> list[Outcome]:
    conn.execute("BEGIN IMMEDIATE")
    outcomes = [(pending, *_in_savepoint(conn, pending)) for pending in batch]
    conn.execute("COMMIT")
    return outcomes


def _in_savepoint(conn: sqlite3.Connection, pending: _Pending) -> tuple[Any, BaseException | None]:
    """Runs one operation so that its failure undoes only its own writes."""
    conn.execute("SAVEPOINT op")
    try:
        result = pending.op(conn)
    except Exception as exc:  # noqa: BLE001 -- the caller's error, delivered through its future
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return None, store_error(pending.what, exc)
    conn.execute("RELEASE op")
    return result, None


class Reader:
    """A read-only connection in its own thread, so reads never wait behind a commit (WAL)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool = concurrent.futures.ThreadPoolExecutor(1, "runner-store-reader")
        self._conn: sqlite3.Connection | None = None

    async def start(self) -> None:
        opening = functools.partial(connect, self._settings, write=False)
        try:
            self._conn = await asyncio.get_running_loop().run_in_executor(self._pool, opening)
        except sqlite3.Error as exc:
            raise store_error(f"opening {self._settings.path} to read", exc) from exc

    async def run(self, op: Op[T], what: str) -> T:
        """Runs `op` in one read transaction (one consistent snapshot)."""
        conn = self._conn
        if conn is None:
            raise StoreError(f"{what}: the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._pool, _read, conn, op, what)

    async def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, conn.close)
        self._pool.shutdown(wait=False)


def _read(conn: sqlite3.Connection, op: Op[T], what: str) -> T:
    try:
        conn.execute("BEGIN")
        try:
            return op(conn)
        finally:
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise store_error(what, exc) from exc
