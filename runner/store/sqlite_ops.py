"""What the SQLite store's writer and reader threads run: functions of one connection.

Each runs inside a transaction its caller opened (the writer's batch savepoint, or the reader's
snapshot), so a check and the write that depends on it are atomic: SQLite admits one writer.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from runner.engine.records import JobRecord
from runner.errors import StoreError
from runner.store import sqlite_queries as q
from runner.store.base import (
    DEFAULT_CONCURRENCY,
    Claimed,
    JobMissing,
    LeaseLost,
    MinuteCount,
    RecipeActivity,
)
from runner.store.encoding import StepRow, dumps, job_name, step_rows
from runner.store.sqlite_conn import Op

_JOB_FIELDS = [name.strip() for name in q.JOB_COLUMNS.split(",")]
_NO_BOUND = 2**63 - 1  # above every seq


@dataclass(frozen=True)
class NewJob:
    """A job encoded for insertion, prepared on the event loop so the writer only writes."""

    id: str
    recipe: str
    dedup_key: str | None
    row: tuple[Any, ...]
    steps: list[StepRow]


def encode_new(job: JobRecord, dedup_key: str | None) -> NewJob:
    if job.status != "queued":
        raise ValueError(
            f"{job_name(job)}: only a queued job can be enqueued, not a {job.status} one"
        )
    row = (
        job.id, job.recipe, dumps(job.event), job.created_at, job.started_at,
        job.finished_at, job.error, job.replay_of, dedup_key,
    )
    return NewJob(job.id, job.recipe, dedup_key, row, step_rows(job))


def insert_job(conn: sqlite3.Connection, new: NewJob) -> tuple[str, bool]:
    """Inserts a queued job; the id of the job already holding its dedup key instead."""
    existing = _holder_of_dedup(conn, new)
    if existing is not None:
        return existing, False
    conn.execute(q.INSERT_JOB, new.row)
    _insert_steps(conn, new)
    return new.id, True


def insert_claimed(
    conn: sqlite3.Connection, new: NewJob, concurrency: int, marks: dict[str, Any]
) -> tuple[str, bool, bool]:
    """Inserts the job running, in `marks["owner"]`'s name, when its recipe has a free slot and
    no queue (a queued job of the recipe is older and goes first); else queued."""
    existing = _holder_of_dedup(conn, new)
    if existing is not None:
        return existing, False, False
    running, queued = conn.execute(q.RECIPE_LOAD, (new.recipe,)).fetchone()
    if running >= concurrency or queued:
        conn.execute(q.INSERT_JOB, new.row)
        _insert_steps(conn, new)
        return new.id, True, False
    started_at = new.row[4] or marks["now"]  # `row` is INSERT_JOB's parameters, in its order
    row = (*new.row[:4], started_at, *new.row[5:], marks["owner"], marks["lease_until"])
    conn.execute(q.INSERT_RUNNING_JOB, row)
    _insert_steps(conn, new)
    return new.id, True, True


def _holder_of_dedup(conn: sqlite3.Connection, new: NewJob) -> str | None:
    if new.dedup_key is None:
        return None
    found = conn.execute(q.JOB_ID_BY_DEDUP, (new.recipe, new.dedup_key)).fetchone()
    return None if found is None else str(found[0])


def _insert_steps(conn: sqlite3.Connection, new: NewJob) -> None:
    if new.steps:
        conn.executemany(q.INSERT_STEP_IF_NEW, new.steps)


def commit_poll(conn: sqlite3.Connection, state: tuple[str, str, str], new: list[NewJob]) -> None:
    conn.execute(q.UPSERT_POLL_STATE, state)
    for job in new:
        insert_job(conn, job)


def claim(
    conn: sqlite3.Connection,
    limit: int,
    busy: dict[str, int],
    concurrency: dict[str, int],
    marks: dict[str, Any],
    offered: frozenset[str] | None,
) -> Claimed:
    """Each recipe offered (all when None) gives the head of its queue, as long as it has free
    slots; the oldest of those win. With no queued job, the running counts are not read."""
    queued = [recipe for (recipe,) in conn.execute(q.QUEUED_RECIPES).fetchall()
              if offered is None or recipe in offered]
    if not queued:
        return Claimed(backlog=False)
    running = dict(conn.execute(q.RUNNING_COUNTS).fetchall())
    heads: list[tuple[int, str]] = []
    for recipe in queued:
        taken = max(running.get(recipe, 0), busy.get(recipe, 0))
        slots = min(concurrency.get(recipe, DEFAULT_CONCURRENCY) - taken, limit)
        if slots > 0:
            heads += conn.execute(q.QUEUE_HEAD_OF_RECIPE, (recipe, slots)).fetchall()
    chosen = sorted(heads)[:limit]
    conn.executemany(q.MARK_RUNNING, [{**marks, "seq": seq} for seq, _ in chosen])
    jobs = (job for _, job_id in chosen if (job := load_job(conn, job_id)) is not None)
    return Claimed(jobs, backlog=True)


def finish(conn: sqlite3.Connection, values: dict[str, Any], steps: list[StepRow]) -> None:
    if conn.execute(q.FINISH_JOB, values).rowcount == 0:
        raise refusal(conn, values["id"], values["owner"])
    conn.executemany(q.INSERT_STEP_IF_NEW, steps)


def fenced(conn: sqlite3.Connection, sql: str, params: dict[str, Any], job_id: str) -> None:
    """Runs a write that applies only while the job runs under `params["owner"]`'s claim."""
    if conn.execute(sql, params).rowcount == 0:
        raise refusal(conn, job_id, params["owner"])


def refusal(conn: sqlite3.Connection, job_id: str, owner: str | None) -> StoreError:
    """Why a job's write found no row: an unknown job, or (fenced) a claim `owner` lost."""
    if owner is None or conn.execute(q.JOB_EXISTS, (job_id,)).fetchone() is None:
        return JobMissing(f"job {job_id} is not in the store")
    return LeaseLost(f"job {job_id} is no longer running under the lease of {owner}")


def load_job(conn: sqlite3.Connection, job_id: str) -> JobRecord | None:
    row = conn.execute(q.SELECT_JOB, (job_id,)).fetchone()
    if row is None:
        return None
    steps = [json.loads(record) for (record,) in conn.execute(q.SELECT_STEPS, (job_id,))]
    return job_from_row(row, steps)


def list_jobs(
    conn: sqlite3.Connection, params: dict[str, Any], before: str | None
) -> list[JobRecord]:
    bound = _NO_BOUND
    if before is not None:
        found = conn.execute(q.SEQ_OF_JOB, (before,)).fetchone()
        if found is None:
            raise StoreError(f"there is no job {before} to list the jobs before")
        bound = found[0]
    low = 0 if params["since"] is None else seq_from(conn, params["since"])
    if params["until"] is not None:
        bound = min(bound, seq_from(conn, params["until"]))
    rows = conn.execute(q.LIST_JOBS, {**params, "before": bound, "low": low}).fetchall()
    return [job_from_row(row, []) for row in rows]


def seq_from(conn: sqlite3.Connection, when: str) -> int:
    """A seq such that the jobs from it on are those created at or after `when`.

    Jobs are stored in creation order, so `created_at` grows with `seq` and a bisection over
    seq finds the boundary in about 20 rowid lookups for a million jobs, where a filter on
    `created_at` alone would read them all (and an index on it would cost every webhook an
    index write). Should a clock have stepped back, the boundary is off by the jobs stored
    around the step; the exact `created_at` filter the queries keep still holds for every row
    they read.
    """
    low, high = conn.execute(q.SEQ_RANGE).fetchone()
    if low is None:
        return 0
    high += 1  # invariant: rows below `low` were created before `when`, rows from `high` on not
    while low < high:
        middle = (low + high) // 2
        seq, created_at = conn.execute(q.FIRST_AT_OR_AFTER, (middle,)).fetchone()
        if created_at >= when:
            high = middle  # no row lies between `middle` and `seq`
        else:
            low = seq + 1
    return int(low)


def recipe_activity(
    conn: sqlite3.Connection, recipes: list[str], since: str
) -> dict[str, RecipeActivity]:
    found = {name: RecipeActivity(name) for name in recipes}
    for recipe, status, count in conn.execute(q.COUNTS_SINCE, (since[:16],)):
        if recipe in found:
            found[recipe].counts[status] = count
    for recipe, status, count in conn.execute(q.UNFINISHED_COUNTS):
        if recipe in found:
            setattr(found[recipe], status, count)
    for name, activity in found.items():
        newest = [conn.execute(q.NEWEST_OF_RECIPE, (status, name)).fetchone()[0]
                  for status in ("queued", "running", "succeeded", "failed")]
        seqs = [seq for seq in newest if seq is not None]
        if seqs:
            row = conn.execute(q.JOB_BY_SEQ, (max(seqs),)).fetchone()
            activity.last = job_from_row(row, [])
    return found


def finished_per_minute(conn: sqlite3.Connection, since: str) -> list[MinuteCount]:
    return [MinuteCount(*row) for row in conn.execute(q.FINISHED_PER_MINUTE, (since[:16],))]


def prune(conn: sqlite3.Connection, params: dict[str, Any], minutes_before: str) -> int:
    """Finished jobs as `prune` says, and the overview's minute counts older than it needs."""
    conn.execute(q.PRUNE_MINUTES, (minutes_before,))
    return int(conn.execute(q.PRUNE_FINISHED, params).rowcount)


def job_from_row(row: tuple[Any, ...], steps: list[dict[str, Any]]) -> JobRecord:
    data = dict(zip(_JOB_FIELDS, row, strict=True))
    return JobRecord.from_json({**data, "event": json.loads(data["event"]), "steps": steps})


def rowcount(sql: str, params: Any = ()) -> Op[int]:
    return lambda conn: conn.execute(sql, params).rowcount


def fetchone(sql: str, params: Any = ()) -> Op[Any]:
    return lambda conn: conn.execute(sql, params).fetchone()
