"""The store contract for replicas: leases, fencing, recipe-limited claims, handing jobs back.

Run against every implementation through the fixtures of `test_store_contract`.
"""

from __future__ import annotations

import asyncio

import pytest

from runner.store import JobMissing, LeaseLost, Store
from tests.store import test_store_contract as contract
from tests.store.test_store_contract import enqueue_all, finished, ids, make_job, make_step

store_url = contract.store_url  # the contract's fixtures: every implementation, a fresh store
store = contract.store


async def test_expired_leases_are_requeued_with_their_steps_in_their_place(store: Store) -> None:
    first, second, other = make_job("a"), make_job("a"), make_job("b")
    await enqueue_all(store, first, second, other)
    (dead,) = await store.claim(1, {}, {}, owner="dead", lease=0.05)
    (alive,) = await store.claim(10, {}, {}, owner="alive", lease=0.05)
    assert (dead.id, alive.id) == (first.id, other.id)
    await store.checkpoint(dead.id, make_step("one", {"id": 1}))
    await asyncio.sleep(0.1)
    await store.heartbeat("alive", 60)  # in time: its lease runs again from now
    assert await store.recover_expired() == 1
    assert await store.recover_expired() == 0
    assert (await store.get_job(other.id)).status == "running"  # type: ignore[union-attr]
    (resumed,) = await store.claim(10, {}, {}, owner="heir")
    assert resumed.id == first.id and resumed.steps == [make_step("one", {"id": 1})]
    assert resumed.started_at == dead.started_at
    await store.heartbeat("dead", 60)  # the dead owner's heartbeat no longer holds anything
    await asyncio.sleep(0.1)
    assert await store.recover_expired() == 0


async def test_leases_must_be_positive(store: Store) -> None:
    for lease in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lease"):
            await store.claim(1, {}, {}, lease=lease)
        with pytest.raises(ValueError, match="lease"):
            await store.heartbeat("me", lease)
        with pytest.raises(ValueError, match="lease"):
            await store.acquire_poll("p", "me", lease)


async def test_a_poll_lease_has_one_holder_until_released_or_expired(store: Store) -> None:
    assert await store.acquire_poll("p", "one", 60) is True
    assert await store.acquire_poll("p", "two", 60) is False
    assert await store.acquire_poll("p", "one", 60) is True  # renewed by its holder
    assert await store.acquire_poll("other", "two", 60) is True  # recipes are independent
    await store.release_poll("p", "two")  # not the holder: nothing happens
    assert await store.acquire_poll("p", "two", 60) is False
    await store.release_poll("p", "one")
    assert await store.acquire_poll("p", "two", 60) is True
    assert await store.acquire_poll("q", "one", 0.05) is True
    assert await store.acquire_poll("q", "two", 60) is False
    await asyncio.sleep(0.1)
    assert await store.acquire_poll("q", "two", 60) is True  # taken over once expired
    assert await store.acquire_poll("q", "one", 60) is False


async def test_fenced_writes_apply_only_while_the_owner_holds_the_job(store: Store) -> None:
    job = make_job("a")
    await store.enqueue(job)
    (running,) = await store.claim(1, {}, {}, owner="me")
    await store.checkpoint(job.id, make_step("one", 1), owner="me")
    await store.checkpoint(job.id, make_step("one", 2), owner="me")  # replaced, as unfenced
    with pytest.raises(LeaseLost, match=job.id):
        await store.checkpoint(job.id, make_step("two"), owner="someone-else")
    running.steps = [make_step("two", "never stored")]
    with pytest.raises(LeaseLost, match=job.id):
        await store.finish(finished(running, "failed"), owner="someone-else")
    stored = await store.get_job(job.id)
    assert stored is not None and stored.status == "running"
    assert stored.steps == [make_step("one", 2)]
    running.steps = [make_step("two", "stored")]
    await store.finish(finished(running), owner="me")
    stored = await store.get_job(job.id)
    assert stored is not None and stored.status == "succeeded"
    assert [s.output for s in stored.steps] == [2, "stored"]
    with pytest.raises(LeaseLost):  # finished: no longer running under anyone's claim
        await store.checkpoint(job.id, make_step("three"), owner="me")
    with pytest.raises(LeaseLost):
        await store.finish(finished(running, "failed"), owner="me")
    assert (await store.get_job(job.id)).status == "succeeded"  # type: ignore[union-attr]


async def test_a_job_taken_over_refuses_its_former_owner(store: Store) -> None:
    job = make_job("a")
    await store.enqueue(job)
    (stale,) = await store.claim(1, {}, {}, owner="stalled", lease=0.05)
    await store.checkpoint(job.id, make_step("one", "stalled"), owner="stalled")
    await asyncio.sleep(0.1)
    assert await store.recover_expired() == 1
    with pytest.raises(LeaseLost):  # queued, owned by nobody
        await store.checkpoint(job.id, make_step("two", "stalled"), owner="stalled")
    (heir,) = await store.claim(1, {}, {}, owner="heir")
    assert heir.steps == [make_step("one", "stalled")]
    with pytest.raises(LeaseLost):  # running again, but the heir's
        await store.checkpoint(job.id, make_step("two", "stalled"), owner="stalled")
    stale.steps = [make_step("one", "stalled"), make_step("two", "stalled")]
    with pytest.raises(LeaseLost):
        await store.finish(finished(stale, "failed"), owner="stalled")
    await store.checkpoint(job.id, make_step("two", "heir"), owner="heir")
    heir.steps.append(make_step("three", "heir"))
    await store.finish(finished(heir), owner="heir")
    stored = await store.get_job(job.id)
    assert stored is not None and (stored.status, stored.error) == ("succeeded", None)
    assert [s.output for s in stored.steps] == ["stalled", "heir", "heir"]


async def test_recover_and_release_take_the_job_from_its_owner(store: Store) -> None:
    first, second = make_job("a"), make_job("b")
    await enqueue_all(store, first, second)
    await store.claim(10, {}, {}, owner="me")
    await store.recover()
    with pytest.raises(LeaseLost):
        await store.checkpoint(first.id, make_step("one"), owner="me")
    await store.claim(10, {}, {}, owner="me")
    await store.release_jobs("me")
    with pytest.raises(LeaseLost):
        await store.finish(finished(second), owner="me")
    assert [j.status for j in await store.list_jobs()] == ["queued", "queued"]


async def test_fenced_writes_of_an_unknown_job_say_it_is_unknown(store: Store) -> None:
    # JobMissing, not LeaseLost, and not a plain StoreError: trying again cannot help.
    with pytest.raises(JobMissing, match="nope"):
        await store.checkpoint("nope", make_step("one"), owner="me")
    with pytest.raises(JobMissing, match="not in the store"):
        await store.finish(finished(make_job()), owner="me")


async def test_a_job_claimed_at_enqueue_is_fenced_to_its_claimer(store: Store) -> None:
    job = make_job("hook")
    _, _, claimed = await store.enqueue_claimed(job, concurrency=1, owner="me")
    if not claimed:  # stores without direct dispatch: claimed the usual way
        assert ids(await store.claim(1, {}, {}, owner="me")) == [job.id]
    with pytest.raises(LeaseLost):
        await store.checkpoint(job.id, make_step("one"), owner="other")
    await store.checkpoint(job.id, make_step("one"), owner="me")
    await store.finish(finished(job), owner="me")


async def test_claim_takes_only_the_recipes_offered(store: Store) -> None:
    a1, b1, a2, c1, b2 = (make_job(r) for r in "abacb")
    await enqueue_all(store, a1, b1, a2, c1, b2)
    limits = {"a": 1, "b": 5, "c": 1}
    assert await store.claim(10, {}, limits, recipes=[]) == []
    assert await store.claim(10, {}, limits, recipes={"unknown"}) == []
    assert ids(await store.claim(10, {}, limits, recipes={"b", "c"})) == [b1.id, c1.id, b2.id]
    assert ids(await store.claim(10, {}, limits, recipes=("a",))) == [a1.id]
    assert await store.claim(10, {}, limits, recipes=["a"]) == []  # a2 waits for a1, as always
    assert await store.queue_depth() == 1


async def test_release_jobs_requeues_the_owners_jobs_in_their_place(store: Store) -> None:
    first, second, other = make_job("a"), make_job("a"), make_job("b")
    await enqueue_all(store, first, second, other)
    (leaving,) = await store.claim(1, {}, {}, owner="leaving")
    (staying,) = await store.claim(10, {}, {}, owner="staying")
    assert (leaving.id, staying.id) == (first.id, other.id)
    await store.checkpoint(first.id, make_step("one", {"id": 1}), owner="leaving")
    assert await store.release_jobs("leaving") == 1
    assert await store.release_jobs("leaving") == 0
    assert (await store.get_job(other.id)).status == "running"  # type: ignore[union-attr]
    (resumed,) = await store.claim(10, {}, {}, owner="heir")  # first, not second: its place kept
    assert resumed.id == first.id and resumed.steps == [make_step("one", {"id": 1})]
    assert resumed.started_at == leaving.started_at
    await store.heartbeat("leaving", 60)  # holds nothing any more
    assert await store.release_jobs("staying") == 1


async def test_release_job_requeues_one_job_of_its_owner_only(store: Store) -> None:
    first, second = make_job("a"), make_job("b")
    await enqueue_all(store, first, second)
    claimed = await store.claim(10, {}, {}, owner="me")
    assert ids(claimed) == [first.id, second.id]
    await store.checkpoint(first.id, make_step("one", {"id": 1}), owner="me")
    assert await store.release_job(first.id, "someone-else") is False
    assert await store.release_job(first.id, "me") is True
    assert await store.release_job(first.id, "me") is False  # queued now: no longer mine
    assert (await store.get_job(second.id)).status == "running"  # type: ignore[union-attr]
    (resumed,) = await store.claim(10, {}, {}, owner="heir")
    assert resumed.id == first.id and resumed.steps == [make_step("one", {"id": 1})]
    with pytest.raises(LeaseLost):
        await store.finish(finished(resumed), owner="me")
