"""Store errors say whether trying again may help: an unavailable store, or a refused write."""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]
import pytest

from runner.errors import StoreError, StoreUnavailable
from runner.store.postgres_conn import db_error
from runner.store.sqlite_conn import store_error


@pytest.mark.parametrize("cause", [
    sqlite3.OperationalError("database is locked"),
    sqlite3.OperationalError("database or disk is full"),
    sqlite3.OperationalError("disk I/O error"),
])
def test_sqlite_errors_of_a_busy_or_full_database_are_unavailable(cause: Exception) -> None:
    error = store_error("finishing job j", cause)
    assert isinstance(error, StoreUnavailable) and error.__cause__ is cause
    assert str(error) == f"finishing job j: {cause}"


def test_a_sqlite_write_refused_for_its_data_is_not_unavailable() -> None:
    error = store_error("finishing job j", sqlite3.IntegrityError("UNIQUE constraint failed"))
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
