"""Store errors say whether trying again may help: an unavailable store, or a refused write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from runner.errors import StoreError, StoreUnavailable
from runner.store.postgres_conn import db_error
from runner.store.sqlite_conn import store_error


def sqlite_error(kind: type[sqlite3.Error], message: str, code: int) -> sqlite3.Error:
    """What the sqlite3 module raises: the message and SQLite's (extended) result code."""
    error = kind(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("message, code", [
    ("database is locked", 5),
    ("database or disk is full", 13),
    ("disk I/O error", 10 | (4 << 8)),  # SQLITE_IOERR_WRITE, an extended code
])
def test_sqlite_errors_of_a_busy_or_full_database_are_unavailable(message: str, code: int) -> None:
    cause = sqlite_error(sqlite3.OperationalError, message, code)
    error = store_error("finishing job j", cause)
    assert isinstance(error, StoreUnavailable) and error.__cause__ is cause
    assert str(error) == f"finishing job j: {message}"


def test_a_real_lock_held_by_another_process_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    with pytest.raises(sqlite3.OperationalError) as caught:
        other.execute("BEGIN IMMEDIATE")
    assert isinstance(store_error("committing", caught.value), StoreUnavailable)


@pytest.mark.parametrize("cause", [
    sqlite_error(sqlite3.IntegrityError, "UNIQUE constraint failed: jobs.id", 2067),
    sqlite_error(sqlite3.OperationalError, 'near "selec": syntax error', 1),  # a bug, not an outage
])
def test_a_sqlite_write_refused_or_mistaken_is_not_unavailable(cause: Exception) -> None:
    error = store_error("finishing job j", cause)
    assert isinstance(error, StoreError) and not isinstance(error, StoreUnavailable)


@pytest.mark.parametrize("cause", [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.TooManyConnectionsError("too many clients"),
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    asyncpg.InterfaceError("connection is closed"),
    ConnectionRefusedError("connect refused"),
    TimeoutError(),
])
def test_postgres_errors_of_an_unreachable_or_busy_database_are_unavailable(
    cause: Exception,
) -> None:
    assert isinstance(db_error("claiming jobs", cause), StoreUnavailable)


def test_a_postgres_statement_refused_for_its_data_is_not_unavailable() -> None:
    error = db_error("enqueuing", asyncpg.exceptions.UntranslatableCharacterError("\\u0000"))
    assert isinstance(error, StoreError) and not isinstance(error, StoreUnavailable)
