"""The reads behind the web pages (`runner.ui`), kept by every store: time ranges, per-recipe
activity and the per-minute chart, and a retried job's reused steps read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.engine.replay import replay_job
from runner.store import Store
from tests.store.test_store_contract import (  # noqa: F401 -- the fixtures
    enqueue_all,
    finished,
    make_job,
    make_step,
    store,
    store_url,
)

BASE = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def at(minutes: float, recipe: str = "r"):  # type: ignore[no-untyped-def]
    job = make_job(recipe)
    job.created_at = (BASE + timedelta(minutes=minutes)).isoformat()
    return job


async def test_list_jobs_by_creation_time(store: Store) -> None:
    jobs = [at(n) for n in range(0, 100, 5)]  # 09:00, 09:05, ... 10:35
    await enqueue_all(store, *jobs)
    listed = await store.list_jobs(since="2026-12-07T09:30", until="2026-12-07T10:00", limit=50)
    assert [j.created_at[11:16] for j in listed] == [
        "09:55", "09:50", "09:45", "09:40", "09:35", "09:30"]
    page = await store.list_jobs(since="2026-12-07T09:30", limit=2, before=listed[1].id)
    assert [j.created_at[11:16] for j in page] == ["09:45", "09:40"]
    assert await store.list_jobs(since="2026-12-07T11:00") == []
    assert len(await store.list_jobs(until="2026-12-07T09:00")) == 0
    assert len(await store.list_jobs(until="2026-12-07T09:01")) == 1


async def test_recipe_activity_counts_recent_jobs_and_finds_the_newest(store: Store) -> None:
    old_fail, a1, a2, a3, b1 = at(0, "a"), at(60, "a"), at(61, "a"), at(62, "a"), at(63, "b")
    await enqueue_all(store, old_fail, a1, a2, a3, b1)
    await store.claim(3, {}, {"a": 3})  # old_fail, a1, a2 running
    await store.finish(finished(old_fail, "failed"))
    await store.finish(finished(a1, "failed"))
    activity = await store.recipe_activity(["a", "b", "idle"], since="2026-12-07T09:30")
    a, b, idle = activity["a"], activity["b"], activity["idle"]
    assert a.counts == {"failed": 1, "running": 1, "queued": 1}  # old_fail is before `since`
    assert (a.queued, a.running) == (1, 1)
    assert a.last is not None and a.last.id == a3.id and a.last.steps == []
    assert a.failure_rate == 1.0
    assert b.counts == {"queued": 1} and b.queued == 1 and b.last is not None
    assert b.failure_rate is None
    assert idle.counts == {} and idle.last is None and (idle.queued, idle.running) == (0, 0)


async def test_finished_per_minute(store: Store) -> None:
    jobs = [at(0), at(0.5), at(1), at(2, "other")]
    await enqueue_all(store, *jobs)
    await store.claim(4, {}, {"r": 3, "other": 1})
    for job, status in zip(jobs, ["succeeded", "failed", "succeeded", "failed"], strict=True):
        await store.finish(finished(job, status))
    counts = await store.finished_per_minute(since="2026-12-07T09:00:30")
    assert sorted((c.recipe, c.minute, c.status, c.count) for c in counts) == [
        ("other", "2026-12-07T09:02", "failed", 1),
        ("r", "2026-12-07T09:00", "failed", 1),
        ("r", "2026-12-07T09:01", "succeeded", 1),
    ]


async def test_a_retried_job_keeps_its_reused_steps(store: Store) -> None:
    job = make_job()
    await enqueue_all(store, job)
    await store.claim(1, {}, {})
    await store.checkpoint(job.id, make_step("first", {"status": 201, "body": {"id": 7}}))
    failed_step = make_step("second")
    failed_step.status = "failed"
    await store.checkpoint(job.id, failed_step)
    await store.finish(finished(job, "failed"))
    stored = await store.get_job(job.id)
    assert stored is not None
    retry = replay_job(stored, from_failed=True)
    await store.enqueue(retry)
    again = await store.get_job(retry.id)
    assert again is not None and again.status == "queued" and again.replay_of == job.id
    assert [(s.id, s.reused_from, s.output) for s in again.steps] == [
        ("first", job.id, {"status": 201, "body": {"id": 7}})]
