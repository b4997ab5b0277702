"""PostgreSQL store plumbing: its URL and settings, the driver's errors, and migrations."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from runner.errors import StoreError, StoreUnavailable
from runner.store import postgres_queries as q
from runner.store.migration_files import migration_files, pending_versions

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_OPTIONS = ("schema", "pool_min", "pool_max")
# What the driver raises when the server refuses or cannot be reached; others are bugs.
DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
# Seconds to open a connection: a database that drops packets would otherwise hold a webhook
# for asyncpg's 60 s default, longer than senders wait (GitHub: 10 s), before its 503.
CONNECT_TIMEOUT = 5.0
# Errors of a database that is away or overloaded for now, not of the statement or the data:
# connection failures, shutdowns and cancels, full disks and too many clients, serialization
# failures and deadlocks, a read-only standby.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError, asyncpg.exceptions.TransactionRollbackError,
    asyncpg.exceptions.ReadOnlySQLTransactionError, asyncpg.InterfaceError, OSError, TimeoutError,
)


def db_error(what: str, exc: BaseException) -> StoreError:
    """The StoreError for a driver error: `StoreUnavailable` when trying again may succeed."""
    kind = StoreUnavailable if isinstance(exc, _UNAVAILABLE) else StoreError
    reason = str(exc).strip()
    if not reason:  # a timeout says nothing of itself
        reason = ("the database did not answer in time" if isinstance(exc, TimeoutError)
                  else type(exc).__name__)
    return kind(f"{what}: {reason}")


@dataclass(frozen=True)
class PostgresSettings:
    """Where the database is, which schema to use, and how many connections to keep."""

    dsn: str  # the URL without the store's own options, for asyncpg
    target: str  # host, port and database without credentials: safe in messages and logs
    schema: str = "public"
    pool_min: int = 1
    pool_max: int = 10


def settings_from_url(url: str) -> PostgresSettings:
    """The settings a `postgresql:` URL names; a `StoreError` (never quoting a password) if bad."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"{parts.scheme}: not a postgresql:// URL")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise StoreError(f"postgresql://{parts.hostname}: the port is not a number") from None
    target = f"postgresql://{parts.hostname or 'localhost'}{port}{parts.path or '/'}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    options = {key: value for key, value in pairs if key in _OPTIONS}
    schema = options.get("schema", "public")
    if not _SCHEMA_NAME.match(schema):
        raise StoreError(f"{target}: schema must be lowercase letters, digits, _: not {schema!r}")
    pool_min = _count(target, options, "pool_min", 1)
    pool_max = _count(target, options, "pool_max", 10)
    if pool_max < 2 or pool_min > pool_max:
        # Two at least: a held token lock keeps one while its holder reads and writes the token.
        raise StoreError(f"{target}: expected 0 <= pool_min <= pool_max and pool_max >= 2")
    rest = urlencode([(key, value) for key, value in pairs if key not in _OPTIONS])
    dsn = urlunsplit(parts._replace(query=rest))
    return PostgresSettings(dsn, target, schema, pool_min, pool_max)


def _count(target: str, options: Mapping[str, str], name: str, default: str | int) -> int:
    value = options.get(name, str(default))
    if not value.isdigit():
        raise StoreError(f"{target}: {name} must be a number of connections, not {value!r}")
    return int(value)


async def keep_session(conn: Any) -> None:
    """The pool's reset on release: nothing to undo, so no round trip.

    asyncpg's default (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) costs a round
    trip per store call. The store leaves nothing for it: no cursors, LISTEN or SET (search_path
    is a connection setting), `token_lock` unlocks its session lock or closes the connection, and
    asyncpg itself rolls back a transaction left open before calling this.
    """


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The numbered files of migrations/postgres/, in order."""
    return [Migration(version, name, sql) for version, name, sql in migration_files("postgres")]


async def migrate(conn: Any, schema: str, migrations: Sequence[Migration]) -> list[int]:
    """Creates the schema and applies the migrations not yet recorded (the caller's transaction).

    The advisory lock is taken first, in its own statement, so that everything after it sees
    what a replica that held it before committed.
    """
    await conn.execute(q.LOCK_XACT, q.MIGRATE_LOCKS, schema)
    if not await conn.fetchval(q.SCHEMA_EXISTS, schema):
        await conn.execute(f'CREATE SCHEMA "{schema}"')  # a checked name: see settings_from_url
    await conn.execute(q.CREATE_SCHEMA_MIGRATIONS)
    applied = {row["version"] for row in await conn.fetch(q.APPLIED_VERSIONS)}
    todo = pending_versions(applied, [m.version for m in migrations])
    done: list[int] = []
    for migration in migrations:
        if migration.version in todo:
            await conn.execute(migration.sql)
            await conn.execute(q.RECORD_MIGRATION, migration.version, migration.name)
            done.append(migration.version)
    return done
