"""The OAuth2 token lock between two stores on one schema (two replicas): interruptions leave no lock.

Pooled connections are not reset when they go back to the pool, so a session lock whose holder or
waiter was cancelled must end with its connection; otherwise the next refresh would wait forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from runner.store import Store, open_store
from runner.store import postgres_queries as q
from tests.replicas.conftest import Shared, with_options

PROMPT = 3.0  # seconds: a free lock is taken at once; this only bounds a broken one


@pytest.fixture
async def pair(shared: Shared) -> AsyncIterator[tuple[Store, Store]]:
    url = with_options(shared.url, pool_max="2")  # one connection for the lock, one for calls
    first, second = open_store(url), open_store(url)
    await first.open()
    await second.open()
    yield first, second
    await first.close()
    await second.close()


async def hold(store: Store, held: asyncio.Event) -> None:
    async with store.token_lock("crm"):
        held.set()
        await asyncio.sleep(60)


async def take(store: Store) -> None:
    async def locked() -> None:
        async with store.token_lock("crm"):
            pass

    await asyncio.wait_for(locked(), PROMPT)


async def test_a_holder_cancelled_inside_the_lock_releases_it_for_the_other_replica(
    pair: tuple[Store, Store], shared: Shared
) -> None:
    first, second = pair
    held = asyncio.Event()
    holder = asyncio.create_task(hold(first, held))
    await asyncio.wait_for(held.wait(), PROMPT)
    holder.cancel()
    await asyncio.gather(holder, return_exceptions=True)
    await take(second)
    await take(first)  # and its own pool holds no stale lock either
    assert await advisory_locks(shared) == 0


async def test_a_waiter_cancelled_before_it_got_the_lock_leaves_no_lock_behind(
    pair: tuple[Store, Store], shared: Shared
) -> None:
    first, second = pair
    held = asyncio.Event()
    holder = asyncio.create_task(hold(first, held))
    await asyncio.wait_for(held.wait(), PROMPT)
    waiter = asyncio.create_task(take(second))
    await asyncio.sleep(0.2)  # waiting in pg_advisory_lock
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    holder.cancel()
    await asyncio.gather(holder, return_exceptions=True)
    for _ in range(3):  # every pooled connection of both stores
        await take(second)
        await take(first)
    assert await advisory_locks(shared) == 0


async def advisory_locks(shared: Shared) -> int:
    """Sessions holding this schema's token lock on connection `crm` (keys as the store makes them)."""
    await asyncio.sleep(0.1)  # a terminated session's locks go with its backend
    sql = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = $1::int4::oid AND objid = hashtext($2)::oid AND objsubid = 2"
    )
    return int(await shared.value(sql, q.TOKEN_LOCKS, f"{shared.schema}/crm"))
