"""Fixtures for the replica tests: `runner serve` processes sharing one PostgreSQL schema.

Each test gets a schema of its own in the database RUNNER_TEST_POSTGRES names (CI sets it); the
replicas create it on first open and the fixture drops it once they are dead. Leases are short
(LEASE) so failover happens within a test's patience; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.daemon.conftest import DaemonProcess, Sink
from tests.replicas.outage import Partition

POSTGRES = os.environ.get("RUNNER_TEST_POSTGRES")
LEASE = 2.0  # seconds: RUNNER_LEASE of every replica, so a dead one's work moves on quickly


def with_options(url: str, **options: str) -> str:
    """`url` with query options added (or replaced), e.g. `schema=...`."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(options)
    return urlunsplit(parts._replace(query=urlencode(query)))


class Replica(DaemonProcess):
    """One `runner serve` on the shared store, named `name` there (RUNNER_REPLICA)."""

    def __init__(
        self,
        workdir: Path,
        paths: list[Path],
        store: str,
        name: str,
        workers: int,
        env: dict[str, str] | None = None,
    ) -> None:
        settings = {
            "RUNNER_REPLICA": name,
            "RUNNER_LEASE": f"{LEASE:g}s",
            "RUNNER_WORKERS": str(workers),
            "RUNNER_SHUTDOWN_GRACE": "5s",
        }
        super().__init__(workdir, paths, {**settings, **(env or {})})
        self.name = name
        self.store = store

    def start_quietly(self) -> Replica:
        """Starts without waiting for /readyz (start several, then `wait_ready` each)."""
        self.start(wait=False)
        return self


async def query(schema: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one statement against the test's schema, on a connection of its own."""
    assert POSTGRES is not None
    conn = await asyncpg.connect(POSTGRES, server_settings={"search_path": f'"{schema}"'})
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _drop(schema: str) -> None:
    assert POSTGRES is not None
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


class Shared:
    """The test's schema: its store URL for the replicas and a query helper for the test."""

    def __init__(self, schema: str) -> None:
        assert POSTGRES is not None
        self.schema = schema
        self.url = with_options(POSTGRES, schema=schema)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return await query(self.schema, sql, *args)

    async def value(self, sql: str, *args: Any) -> Any:
        rows = await self.rows(sql, *args)
        return rows[0][0] if rows else None


@pytest.fixture
def shared() -> Iterator[Shared]:
    """A fresh schema name; dropped after the test (after the `replicas` teardown kills them)."""
    if not POSTGRES:
        pytest.skip("RUNNER_TEST_POSTGRES is not set: no PostgreSQL server to test against")
    store = Shared(f"replicas_{uuid.uuid4().hex[:12]}")
    yield store
    asyncio.run(_drop(store.schema))


@pytest.fixture
def replicas(tmp_path: Path, shared: Shared) -> Iterator[Callable[..., Replica]]:
    """`replicas(paths, name, workers=8, env=None)`: a replica on the test's schema; killed after."""
    made: list[Replica] = []

    def make(
        paths: list[Path], name: str, workers: int = 8, env: dict[str, str] | None = None
    ) -> Replica:
        workdir = tmp_path / name
        workdir.mkdir()
        replica = Replica(workdir, paths, shared.url, name, workers, env)
        made.append(replica)
        return replica

    yield make
    for replica in made:
        replica.kill()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def partition(shared: Shared) -> Iterator[Partition]:
    """A forwarder to the test database that the test can cut; replicas reach the database
    through it at `through(shared.url, partition.port)`."""
    assert POSTGRES is not None
    parts = urlsplit(POSTGRES)
    forwarder = Partition(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield forwarder
    forwarder.close()
