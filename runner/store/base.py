"""The async job store protocol: what the daemon, the pollers and the CLI may ask of any store.

A store keeps jobs (their event and each finished step), poll state and OAuth2 token blobs. Every
write a method awaits is committed -- durable -- when the call returns: a webhook answered 202
after `enqueue` returned is never lost, and a step that `checkpoint` recorded is never sent again.

A call cancelled before its write started stores nothing; one cancelled later may still commit.

Ordering is by insertion (an increasing sequence the store assigns), never by timestamps, so
"oldest first" holds even when clocks jump. Implementations: `sqlite.SQLiteStore`; a PostgreSQL
one is planned. Obtain one with `runner.store.open_store(url)`; the contract every implementation
must keep is `tests/store/test_store_contract.py`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from runner.engine.records import JobRecord, StepRecord

DEFAULT_CONCURRENCY = 1  # a recipe missing from `claim`'s mapping runs one job at a time, in order
FINISHED = ("succeeded", "failed")


class Store(abc.ABC):
    """A durable home for jobs, poll state and token blobs; safe to call concurrently."""

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connects, creating the database and applying pending migrations.

        Safe when two processes start at once: migrations run under the store's write lock and
        each is recorded in `schema_migrations`, so it is applied exactly once. Raises `StoreError`
        when the store cannot be reached or was written by a newer runner.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Commits every write already submitted, then disconnects; later calls raise StoreError."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the store answers a trivial query (for `/readyz`); never raises."""

    @abc.abstractmethod
    async def enqueue(self, job: JobRecord, dedup_key: str | None = None) -> tuple[str, bool]:
        """Stores a queued job durably and returns `(job.id, True)`.

        With a `dedup_key` (unique per recipe), a key already stored for `job.recipe` stores
        nothing and returns `(id_of_the_first_job, False)`, so a redelivered webhook starts no new
        job. Keys are forgotten when their job is pruned. Raises `ValueError` when the job is not
        `queued`, `StoreError` when its id is already taken.
        """

    @abc.abstractmethod
    async def claim(
        self, limit: int, busy_recipes: Mapping[str, int], concurrency: Mapping[str, int]
    ) -> list[JobRecord]:
        """Marks up to `limit` queued jobs running and returns them, oldest first, with their steps.

        A recipe with concurrency `c` (`concurrency.get(recipe, 1)`) never has more than `c`
        jobs running. The store counts running jobs itself (every job marked running and not
        finished, whichever process claimed it) and uses the larger of that count and
        `busy_recipes.get(recipe, 0)`, so passing `{}` is safe and a caller may reserve slots
        the store cannot see. Each recipe's jobs are taken as a prefix of its queue, so a later
        job of a recipe is never claimed while an earlier one waits: with concurrency 1 a
        recipe's jobs run strictly in enqueue order, including jobs requeued by `recover`.
        Concurrent claims never return the same job.
        """

    @abc.abstractmethod
    async def checkpoint(self, job_id: str, step: StepRecord) -> None:
        """Durably records a finished step of a job (a step id recorded again is replaced)."""

    @abc.abstractmethod
    async def finish(self, job: JobRecord) -> None:
        """Records a job's outcome: status (`succeeded` or `failed`), error, `finished_at`.

        Steps of `job.steps` not yet checkpointed are stored too; stored ones are kept as they
        are. Raises `ValueError` for an unfinished status, `StoreError` for an unknown job.
        """

    @abc.abstractmethod
    async def recover(self) -> int:
        """Requeues every job left running (by a crash) and returns how many.

        Their finished steps are kept, so the job resumes at its first unfinished step, and they
        keep their place in the queue. Call it once at start-up, before any worker claims: it
        assumes no other live process is running jobs from this store.
        """

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> JobRecord | None:
        """The job with all its steps in the order they were recorded, or None."""

    @abc.abstractmethod
    async def list_jobs(
        self,
        *,
        recipe: str | None = None,
        status: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[JobRecord]:
        """Jobs newest first, filtered by recipe and status; their `steps` are left empty.

        `before` is a job id: only jobs enqueued before it are listed (pass the last id of a page
        to get the next page). Raises `StoreError` when that job does not exist.
        """

    @abc.abstractmethod
    async def prune(
        self, *, older_than: datetime | None = None, keep_last: int | None = None
    ) -> int:
        """Deletes finished jobs (with their steps) and returns how many; never unfinished ones.

        A finished job is deleted when it finished before `older_than` (a naive datetime is taken
        as UTC) and is not among the `keep_last` most recently enqueued finished jobs; a criterion
        left None does not restrict. With both None nothing is deleted.
        """

    @abc.abstractmethod
    async def queue_depth(self) -> int:
        """How many jobs are queued (not running)."""

    @abc.abstractmethod
    async def load_poll_state(self, recipe: str) -> dict[str, Any] | None:
        """The state the recipe's poller last committed, or None before its first poll."""

    @abc.abstractmethod
    async def commit_poll(self, recipe: str, state: dict[str, Any], jobs: list[JobRecord]) -> None:
        """Replaces the poller's state and enqueues its jobs (in list order) in one transaction.

        Either everything is stored or nothing is, so a restart neither loses nor repeats an event.
        """

    @abc.abstractmethod
    async def get_token(self, connection: str) -> bytes | None:
        """The connection's stored token blob (opaque, encrypted by the caller), or None."""

    @abc.abstractmethod
    async def put_token(self, connection: str, blob: bytes) -> None:
        """Durably stores (or replaces) the connection's token blob."""

    @abc.abstractmethod
    async def delete_token(self, connection: str) -> None:
        """Forgets the connection's token blob; forgetting a missing one is not an error."""
