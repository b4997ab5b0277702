"""The contract every job store keeps, run against each implementation through its URL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.engine.records import (
    AttemptRecord,
    CallRecord,
    JobRecord,
    RequestRecord,
    ResponseRecord,
    StepRecord,
)
from runner.errors import StoreError
from runner.store import Store, open_store

# Each implementation gives a URL of a fresh, empty store. PostgreSQL gets a schema of its own per
# test in the database RUNNER_TEST_POSTGRES names (CI sets it), dropped afterwards.
IMPLEMENTATIONS = ["sqlite", "postgresql"]
POSTGRES = os.environ.get("RUNNER_TEST_POSTGRES")


@pytest.fixture(params=IMPLEMENTATIONS)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/jobs.db"
    elif request.param == "postgresql":
        if not POSTGRES:
            pytest.skip("RUNNER_TEST_POSTGRES is not set: no PostgreSQL server to test against")
        import asyncpg  # type: ignore[import-untyped]

        schema = f"test_{uuid.uuid4().hex}"
        try:
            yield f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}schema={schema}"
        finally:
            conn = await asyncpg.connect(POSTGRES)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
    else:
        raise AssertionError(f"no fixture for {request.param}")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as opened:
        yield opened


def make_job(recipe: str = "r", **event: Any) -> JobRecord:
    now = datetime.now(UTC).isoformat()
    return JobRecord(uuid.uuid4().hex, recipe, "queued", {"body": event}, now)


def make_step(step_id: str, output: Any = None) -> StepRecord:
    request = RequestRecord("POST", "https://example.com/x", [("Content-Type", "application/json")])
    response = ResponseRecord(201, "Created", [("X-Id", "7")], '{"id": 7}')
    attempt = AttemptRecord("2024-01-01T00:00:00+00:00", 12.5, status=201)
    call = CallRecord(None, request, response, [attempt])
    return StepRecord(step_id, "succeeded", "2024-01-01T00:00:00+00:00", 13.0, [call], output)


def finished(job: JobRecord, status: str = "succeeded", at: datetime | None = None) -> JobRecord:
    job.status = status  # type: ignore[assignment]
    job.finished_at = (at or datetime.now(UTC)).isoformat()
    job.error = "boom" if status == "failed" else None
    return job


async def enqueue_all(store: Store, *jobs: JobRecord) -> None:
    for job in jobs:
        await store.enqueue(job)


def ids(jobs: list[JobRecord]) -> list[str]:
    return [job.id for job in jobs]


async def test_enqueued_job_reads_back_whole(store: Store) -> None:
    job = make_job(name="Ada", text="é \ud800 \x00")  # non-ASCII, a lone surrogate, a NUL
    assert await store.enqueue(job) == (job.id, True)
    assert await store.get_job(job.id) == job
    assert await store.get_job(uuid.uuid4().hex) is None
    assert await store.queue_depth() == 1


async def test_repeated_dedup_key_returns_the_first_job_and_stores_nothing(store: Store) -> None:
    first, again, elsewhere = make_job("r"), make_job("r"), make_job("other")
    assert await store.enqueue(first, "delivery-1") == (first.id, True)
    assert await store.enqueue(again, "delivery-1") == (first.id, False)
    assert await store.get_job(again.id) is None
    assert await store.enqueue(elsewhere, "delivery-1") == (elsewhere.id, True)  # per recipe
    assert await store.queue_depth() == 2


async def test_enqueue_refuses_unqueued_jobs_and_taken_ids(store: Store) -> None:
    job = make_job()
    with pytest.raises(ValueError, match="queued"):
        await store.enqueue(finished(make_job()))
    await store.enqueue(job)
    with pytest.raises(StoreError, match=job.id):
        await store.enqueue(JobRecord(job.id, "r", "queued", {}, job.created_at))


async def test_claim_takes_the_oldest_jobs_and_marks_them_running(store: Store) -> None:
    jobs = [make_job(f"recipe-{n}") for n in range(5)]
    await enqueue_all(store, *jobs)
    claimed = await store.claim(3, {}, {})
    assert ids(claimed) == ids(jobs[:3])
    assert all(job.status == "running" and job.started_at for job in claimed)
    assert (await store.get_job(jobs[0].id)).status == "running"  # type: ignore[union-attr]
    assert await store.queue_depth() == 2
    assert await store.claim(0, {}, {}) == []


async def test_concurrency_one_keeps_enqueue_order_across_claims(store: Store) -> None:
    a1, b1, a2, a3 = make_job("a"), make_job("b"), make_job("a"), make_job("a")
    await enqueue_all(store, a1, b1, a2, a3)
    limits = {"a": 1, "b": 1}
    assert ids(await store.claim(10, {}, limits)) == [a1.id, b1.id]
    assert await store.claim(10, {}, limits) == []  # a2 waits for a1; a3 never overtakes a2
    await store.finish(finished(a1))
    assert ids(await store.claim(10, {}, limits)) == [a2.id]
    await store.finish(finished(a2, "failed"))
    assert ids(await store.claim(10, {}, {})) == [a3.id]  # a recipe left out means 1


async def test_a_claim_says_whether_it_found_queued_jobs(store: Store) -> None:
    assert (await store.claim(10, {}, {})).backlog is False  # nothing queued: no need to ask again
    a1, a2 = make_job("a"), make_job("a")
    await enqueue_all(store, a1, a2)
    first = await store.claim(10, {}, {"a": 1})
    assert ids(first) == [a1.id] and first.backlog is True
    blocked = await store.claim(10, {}, {"a": 1})  # a2 waits for a1: still queued
    assert ids(blocked) == [] and blocked.backlog is True
    await store.finish(finished(a1))
    assert ids(await store.claim(10, {}, {"a": 1})) == [a2.id]
    assert (await store.claim(10, {}, {"a": 1})).backlog is False


async def test_concurrency_three_runs_three_at_once_in_order(store: Store) -> None:
    jobs = [make_job("a") for _ in range(5)]
    await enqueue_all(store, *jobs)
    assert ids(await store.claim(10, {}, {"a": 3})) == ids(jobs[:3])
    assert await store.claim(10, {}, {"a": 3}) == []
    await store.finish(finished(jobs[1]))
    assert ids(await store.claim(10, {}, {"a": 3})) == [jobs[3].id]


async def test_claim_honours_slots_the_caller_reports_busy(store: Store) -> None:
    a, b = make_job("a"), make_job("b")
    await enqueue_all(store, a, b)
    assert ids(await store.claim(10, {"a": 2}, {"a": 2, "b": 1})) == [b.id]
    assert ids(await store.claim(10, {"a": 1}, {"a": 2})) == [a.id]


async def test_concurrent_claims_never_return_the_same_job(store: Store) -> None:
    jobs = [make_job(f"recipe-{n}") for n in range(12)]
    await enqueue_all(store, *jobs)
    batches = await asyncio.gather(*(store.claim(3, {}, {}) for _ in range(6)))
    claimed = [job_id for batch in batches for job_id in ids(batch)]
    assert sorted(claimed) == sorted(ids(jobs))


async def test_recover_requeues_running_jobs_with_their_steps_in_their_place(store: Store) -> None:
    first, second = make_job("a"), make_job("a")
    await enqueue_all(store, first, second)
    (running,) = await store.claim(10, {}, {})
    steps = [make_step("one", {"status": 201, "body": {"id": 7}}), make_step("two", [1, 2])]
    for step in steps:
        await store.checkpoint(running.id, step)
    await store.checkpoint(running.id, steps[1])  # recorded again: replaced, not duplicated
    assert await store.recover() == 1
    assert await store.recover() == 0
    stored = await store.get_job(first.id)
    assert stored is not None and stored.status == "queued" and stored.steps == steps
    (resumed,) = await store.claim(10, {}, {})
    assert resumed.id == first.id and resumed.steps == steps
    assert resumed.started_at == running.started_at


async def test_checkpoint_of_an_unknown_job_fails(store: Store) -> None:
    with pytest.raises(StoreError, match="nope"):
        await store.checkpoint("nope", make_step("one"))


async def test_finish_records_the_outcome_and_unrecorded_steps(store: Store) -> None:
    job = make_job()
    await store.enqueue(job)
    (running,) = await store.claim(1, {}, {})
    await store.checkpoint(job.id, make_step("one", "checkpointed"))
    running.steps = [make_step("one", "ignored: already stored"), make_step("two", "new")]
    await store.finish(finished(running, "failed"))
    stored = await store.get_job(job.id)
    assert stored is not None
    outcome = (stored.status, stored.error, stored.finished_at)
    assert outcome == ("failed", "boom", running.finished_at)
    assert [s.output for s in stored.steps] == ["checkpointed", "new"]
    with pytest.raises(ValueError, match="succeeded or failed"):
        await store.finish(make_job())
    with pytest.raises(StoreError, match="not in the store"):
        await store.finish(finished(make_job()))


async def test_list_jobs_newest_first_filtered_and_paged(store: Store) -> None:
    jobs = [make_job("a" if n % 2 else "b") for n in range(7)]
    await enqueue_all(store, *jobs)
    await store.checkpoint(jobs[6].id, make_step("one"))
    newest_first = list(reversed(ids(jobs)))
    listed = await store.list_jobs()
    assert ids(listed) == newest_first and listed[0].steps == []
    only_a = [job.id for job in reversed(jobs) if job.recipe == "a"]
    assert ids(await store.list_jobs(recipe="a")) == only_a
    page1 = await store.list_jobs(limit=3)
    page2 = await store.list_jobs(limit=3, before=page1[-1].id)
    page3 = await store.list_jobs(limit=3, before=page2[-1].id)
    assert ids(page1 + page2 + page3) == newest_first
    await store.claim(1, {}, {})
    assert ids(await store.list_jobs(status="running")) == [jobs[0].id]
    assert await store.list_jobs(status="running", recipe="a") == []
    with pytest.raises(StoreError, match="missing-job"):
        await store.list_jobs(before="missing-job")


async def test_prune_by_age_leaves_unfinished_and_recent_jobs(store: Store) -> None:
    now = datetime.now(UTC)
    old, recent, queued, running = make_job(), make_job("b"), make_job("c"), make_job("d")
    await enqueue_all(store, running, old, recent, queued)
    await store.claim(3, {}, {})  # running, old, recent
    await store.checkpoint(old.id, make_step("one"))
    await store.finish(finished(old, at=now - timedelta(days=10)))
    await store.finish(finished(recent, "failed", at=now - timedelta(hours=1)))
    assert await store.prune(older_than=now - timedelta(days=1)) == 1
    assert await store.get_job(old.id) is None
    remaining = {job.id for job in await store.list_jobs()}
    assert remaining == {recent.id, queued.id, running.id}
    assert await store.prune(older_than=(now + timedelta(days=1)).replace(tzinfo=None)) == 1
    assert {job.status for job in await store.list_jobs()} == {"queued", "running"}


async def test_prune_keeps_the_last_finished_jobs(store: Store) -> None:
    jobs = [make_job(f"recipe-{n}") for n in range(5)]
    await enqueue_all(store, *jobs)
    await store.claim(4, {}, {})
    for job in jobs[:4]:
        await store.finish(finished(job))
    assert await store.prune() == 0
    assert await store.prune(keep_last=2) == 2
    assert ids(await store.list_jobs()) == [jobs[4].id, jobs[3].id, jobs[2].id]
    old = datetime.now(UTC) - timedelta(days=1)
    assert await store.prune(keep_last=0, older_than=old) == 0  # both must agree
    assert await store.prune(keep_last=0) == 2
    assert ids(await store.list_jobs()) == [jobs[4].id]


async def test_poll_state_and_its_jobs_are_committed_together(store: Store) -> None:
    assert await store.load_poll_state("p") is None
    first, second = make_job("p", n=1), make_job("p", n=2)
    await store.commit_poll("p", {"cursor": "2024-01-01", "seen": ["1", "2"]}, [first, second])
    assert await store.load_poll_state("p") == {"cursor": "2024-01-01", "seen": ["1", "2"]}
    assert ids(await store.claim(10, {}, {"p": 5})) == [first.id, second.id]
    await store.commit_poll("p", {"cursor": "2024-01-02"}, [])
    assert await store.load_poll_state("p") == {"cursor": "2024-01-02"}
    assert await store.load_poll_state("other") is None


async def test_a_failing_poll_commit_stores_neither_state_nor_jobs(store: Store) -> None:
    taken = make_job("p")
    await store.commit_poll("p", {"cursor": 1}, [taken])
    new, clash = make_job("p"), JobRecord(taken.id, "p", "queued", {}, taken.created_at)
    with pytest.raises(StoreError, match="recipe p"):
        await store.commit_poll("p", {"cursor": 2}, [new, clash])
    assert await store.load_poll_state("p") == {"cursor": 1}
    assert await store.get_job(new.id) is None


async def test_tokens_round_trip(store: Store) -> None:
    assert await store.get_token("jira") is None
    await store.put_token("jira", b"\x00\x01encrypted\xff")
    assert await store.get_token("jira") == b"\x00\x01encrypted\xff"
    await store.put_token("jira", b"rotated")
    assert await store.get_token("jira") == b"rotated"
    await store.delete_token("jira")
    await store.delete_token("jira")
    assert await store.get_token("jira") is None


async def test_a_new_store_on_the_same_database_sees_everything(store_url: str) -> None:
    done, waiting = make_job("a"), make_job("b")
    async with open_store(store_url) as store:
        await enqueue_all(store, done, waiting)
        await store.claim(1, {}, {})
        await store.checkpoint(done.id, make_step("one", {"id": 1}))
        await store.finish(finished(done))
        await store.commit_poll("p", {"cursor": 9}, [])
        await store.put_token("jira", b"blob")
    async with open_store(store_url) as reopened:
        stored = await reopened.get_job(done.id)
        assert stored is not None and stored.status == "succeeded"
        assert stored.steps == [make_step("one", {"id": 1})]
        assert await reopened.get_job(waiting.id) == waiting
        assert await reopened.load_poll_state("p") == {"cursor": 9}
        assert await reopened.get_token("jira") == b"blob"


async def test_a_closed_store_answers_ping_false_and_refuses_work(store_url: str) -> None:
    store = open_store(store_url)
    assert await store.ping() is False
    async with store:
        assert await store.ping() is True
    assert await store.ping() is False
    with pytest.raises(StoreError, match="not open"):
        await store.enqueue(make_job())
    with pytest.raises(StoreError, match="not open"):
        await store.get_job("x")


async def test_token_lock_lets_one_holder_refresh_at_a_time(store: Store) -> None:
    inside: list[str] = []
    refreshed: list[str] = []
    overlaps = 0

    async def refresh(name: str) -> None:
        nonlocal overlaps
        async with store.token_lock("jira"):
            overlaps += bool(inside)
            inside.append(name)
            if await store.get_token("jira") is None:  # the first refreshes, the others read
                await asyncio.sleep(0.02)
                await store.put_token("jira", name.encode())
                refreshed.append(name)
            inside.remove(name)

    await asyncio.gather(*(refresh(f"worker-{n}") for n in range(4)))
    assert overlaps == 0 and len(refreshed) == 1
    assert await store.get_token("jira") == refreshed[0].encode()
    async with store.token_lock("jira"):  # another connection's lock is independent
        async with asyncio.timeout(5), store.token_lock("github"):
            pass


async def test_enqueue_claimed_keeps_order_and_concurrency(store: Store) -> None:
    """A job claimed at enqueue never overtakes a queued one nor exceeds the recipe's limit."""
    first = make_job("ordered")
    _, created, claimed = await store.enqueue_claimed(first, concurrency=1, owner="me")
    assert created
    if claimed:  # stores that dispatch directly: the job is running, not claimable again
        assert (await store.get_job(first.id)).status == "running"  # type: ignore[union-attr]
        assert await store.claim(10, {}, {"ordered": 1}) == []
    else:
        assert [j.id for j in await store.claim(10, {}, {"ordered": 1})] == [first.id]
    # The recipe is now at its limit: the next job queues, whatever the store.
    second = make_job("ordered")
    assert await store.enqueue_claimed(second, concurrency=1, owner="me") == (second.id, True, False)
    third = make_job("ordered")
    assert await store.enqueue_claimed(third, concurrency=5, owner="me") == (third.id, True, False)
    assert (await store.get_job(third.id)).status == "queued"  # type: ignore[union-attr]


async def test_enqueue_claimed_deduplicates_like_enqueue(store: Store) -> None:
    job, again = make_job("hook"), make_job("hook")
    await store.enqueue_claimed(job, "delivery-1", concurrency=3)
    assert await store.enqueue_claimed(again, "delivery-1", concurrency=3) == (job.id, False, False)
