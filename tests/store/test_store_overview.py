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
    since = (datetime.now(UTC) - timedelta(hours=24)).isoformat()
    activity = await store.recipe_activity(["a", "b", "idle"], since=since)
    a, b, idle = activity["a"], activity["b"], activity["idle"]
    assert a.counts == {"failed": 2}  # finished in the last 24 h (whenever they were created)
    assert (a.queued, a.running) == (1, 1)
    assert a.last is not None and a.last.id == a3.id and a.last.steps == []
    assert a.failure_rate == 1.0
    assert b.counts == {} and b.queued == 1 and b.last is not None
    assert b.failure_rate is None
    assert idle.counts == {} and idle.last is None and (idle.queued, idle.running) == (0, 0)


async def test_finished_jobs_are_counted_per_minute_of_finishing(store: Store) -> None:
    jobs = [make_job(), make_job(), make_job(), make_job(), make_job("other"), make_job()]
    await enqueue_all(store, *jobs)
    await store.claim(6, {}, {"r": 5, "other": 1})
    ends = [(0, "succeeded"), (0.5, "failed"), (1, "succeeded"), (1.2, "succeeded"),
            (2, "failed"), (-10, "succeeded")]
    for job, (minutes, status) in zip(jobs, ends, strict=True):
        await store.finish(finished(job, status, at=BASE + timedelta(minutes=minutes)))
    await store.finish(finished(jobs[0], "failed"))  # finished twice: counted once
    counts = await store.finished_per_minute(since="2026-12-07T09:00:30")
    assert sorted((c.recipe, c.minute, c.status, c.count) for c in counts) == [
        ("other", "2026-12-07T09:02", "failed", 1),
        ("r", "2026-12-07T09:00", "failed", 1),
        ("r", "2026-12-07T09:00", "succeeded", 1),
        ("r", "2026-12-07T09:01", "succeeded", 2),
    ]  # the minute of `since` is counted whole; 08:50 is before it


async def test_prune_drops_minute_counts_older_than_two_days(store: Store) -> None:
    now = datetime.now(UTC)
    old, recent = make_job("old"), make_job("recent")
    await enqueue_all(store, old, recent)
    await store.claim(2, {}, {})
    await store.finish(finished(old, at=now - timedelta(days=3)))
    await store.finish(finished(recent, at=now))
    await store.prune(keep_last=1000)
    kept = await store.finished_per_minute(since="2000-01-01T00:00")
    assert [c.recipe for c in kept] == ["recent"]


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
