"""The async job store protocol: what the daemon, the pollers and the CLI may ask of any store.

A store keeps jobs (their event and each finished step), poll state and OAuth2 token blobs. Every
write a method awaits is committed -- durable -- when the call returns: a webhook answered 202
after `enqueue` returned is never lost, and a step that `checkpoint` recorded is never sent again.

A call cancelled before its write started stores nothing; one cancelled later may still commit.

Ordering is by insertion (an increasing sequence the store assigns), never by timestamps, so
"oldest first" holds even when clocks jump. Implementations: `sqlite.SQLiteStore` (one process)
and `postgres.PostgresStore` (any number of replicas). Obtain one with
`runner.store.open_store(url)`; the contract every implementation must keep is
`tests/store/test_store_contract.py`.

Several processes sharing one store coordinate through leases, each held by an `owner` (a replica
id, unique per live process): a claimed job is leased to its claimer, who extends the lease with
`heartbeat`; any replica's `recover_expired` requeues the jobs of an owner that stopped
heartbeating, and `release_jobs` hands a stopping replica's jobs back at once. A replica that
passes its `owner` to `checkpoint` and `finish` is fenced: once its lease is lost (the job was
requeued, maybe claimed by another replica) its writes are refused with `LeaseLost`, so a replica
that stalled past its lease cannot overwrite the work of the one that took the job over. `claim`'s
`recipes` lets replicas loading different documents (a rolling update) take only jobs they can run.
Each poll recipe is leased the same way (`acquire_poll`), and `token_lock` lets one replica
refresh an OAuth2 token while the others wait, then read the new one.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Collection, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from runner.engine.records import JobRecord, StepRecord
from runner.errors import StoreError

DEFAULT_CONCURRENCY = 1  # a recipe missing from `claim`'s mapping runs one job at a time, in order
FINISHED = ("succeeded", "failed")
DEFAULT_OWNER = "local"  # the owner of a process that shares its store with nobody
DEFAULT_LEASE = 60.0  # seconds a claimed job stays leased without a heartbeat


class LeaseLost(StoreError):
    """The job is no longer running under this owner's lease: another replica may run it now.

    Raised by `checkpoint` and `finish` called with an `owner`, which then write nothing. The
    caller stops working on the job quietly; whoever holds the job now finishes it.
    """


class JobMissing(StoreError):
    """A write for a job the store does not hold (never stored, or pruned meanwhile): trying
    again cannot help, unlike a store that is unreachable for a while."""


def check_lease(lease: float) -> float:
    """The lease in seconds, or ValueError: a lease must be a positive, finite number."""
    if not (isinstance(lease, int | float) and math.isfinite(lease) and lease > 0):
        raise ValueError(f"a lease must be a positive number of seconds, not {lease!r}")
    return float(lease)


class Claimed(list[JobRecord]):
    """The jobs a `claim` took, oldest first, and whether it found queued jobs at all.

    `backlog` is False only when the recipes offered had no queued job when the claim looked:
    then a worker finishing a job has nothing to claim (until something is enqueued), and the
    executor skips the claim it would otherwise make, a store round trip per finished job.
    True does not promise more work (the claim may have taken it all).
    """

    def __init__(self, jobs: Iterable[JobRecord] = (), *, backlog: bool) -> None:
        super().__init__(jobs)
        self.backlog = backlog


@dataclass
class RecipeActivity:
    """What the overview shows of one recipe (see `Store.recipe_activity`)."""

    recipe: str
    counts: dict[str, int] = field(default_factory=dict)  # jobs finished since, by outcome
    queued: int = 0
    running: int = 0
    last: JobRecord | None = None

    @property
    def failure_rate(self) -> float | None:
        """Failed among the finished jobs counted, from 0 to 1; None when none finished."""
        finished = self.counts.get("succeeded", 0) + self.counts.get("failed", 0)
        return None if finished == 0 else self.counts.get("failed", 0) / finished


@dataclass(frozen=True)
class MinuteCount:
    recipe: str
    minute: str  # `2026-12-07T09:30`: the creation time cut to the minute
    status: str  # succeeded | failed
    count: int


class Store(abc.ABC):
    """A durable home for jobs, poll state and token blobs; safe to call concurrently."""

    #: True when several processes may share this store (replicas), so start-up must not requeue
    #: every running job and work is coordinated by leases; False for a file one process owns.
    multi_process: bool = False

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

    async def enqueue_claimed(
        self,
        job: JobRecord,
        dedup_key: str | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        owner: str = DEFAULT_OWNER,
        lease: float = DEFAULT_LEASE,
    ) -> tuple[str, bool, bool]:
        """`enqueue`, and in the same transaction `claim` of that job for `owner` when nothing of
        its recipe is queued ahead of it and fewer than `concurrency` of its jobs run.

        Returns `(job id, created, claimed)`. A claimed job is stored `running` (leased as by
        `claim`) and the caller runs it at once: the common case of an idle runner costs one
        write instead of two, and no wait for the next claim. Ordering and concurrency are kept
        exactly as `claim` keeps them, and the claim fences `checkpoint` and `finish` to `owner`
        as `claim`'s does. This default only enqueues; stores override it.
        """
        job_id, created = await self.enqueue(job, dedup_key)
        return job_id, created, False

    @abc.abstractmethod
    async def claim(
        self,
        limit: int,
        busy_recipes: Mapping[str, int],
        concurrency: Mapping[str, int],
        *,
        owner: str = DEFAULT_OWNER,
        lease: float = DEFAULT_LEASE,
        recipes: Collection[str] | None = None,
    ) -> Claimed:
        """Marks up to `limit` queued jobs running and returns them, oldest first, with their steps.

        A recipe with concurrency `c` (`concurrency.get(recipe, 1)`) never has more than `c`
        jobs running. The store counts running jobs itself (every job marked running and not
        finished, whichever process claimed it) and uses the larger of that count and
        `busy_recipes.get(recipe, 0)`, so passing `{}` is safe and a caller may reserve slots
        the store cannot see. Each recipe's jobs are taken as a prefix of its queue, so a later
        job of a recipe is never claimed while an earlier one waits: with concurrency 1 a
        recipe's jobs run strictly in enqueue order, including jobs requeued by `recover`.
        Concurrent claims never return the same job -- from one process or several sharing the
        store, where all of this holds across processes.

        Each claimed job is leased to `owner` for `lease` seconds (ValueError unless positive):
        keep it with `heartbeat`, or `recover_expired` hands it to another replica.

        With `recipes`, only jobs of those recipes are claimed (none for an empty collection):
        a replica offers the recipes it has loaded, and the others' jobs wait for a replica that
        has them. Ordering and concurrency hold as above within the recipes offered.
        The result's `backlog` says whether the offered recipes had queued jobs (`Claimed`).
        """

    @abc.abstractmethod
    async def checkpoint(self, job_id: str, step: StepRecord, *, owner: str | None = None) -> None:
        """Durably records a finished step of a job (a step id recorded again is replaced).

        With `owner` (fenced), the step is stored only while the job is `running` under that
        owner's claim; otherwise nothing is stored and `LeaseLost` is raised. StoreError for an
        unknown job. The fence knows owners, not claims: a job requeued and claimed back by the
        same owner is that owner's again, so a process must not run one job twice.
        """

    @abc.abstractmethod
    async def finish(self, job: JobRecord, *, owner: str | None = None) -> None:
        """Records a job's outcome: status (`succeeded` or `failed`), error, `finished_at`.

        Steps of `job.steps` not yet checkpointed are stored too; stored ones are kept as they
        are. Raises `ValueError` for an unfinished status, `StoreError` for an unknown job. With
        `owner` (fenced), the outcome is stored only while the job is `running` under that
        owner's claim; otherwise nothing is stored and `LeaseLost` is raised.
        """

    @abc.abstractmethod
    async def recover(self) -> int:
        """Requeues every job left running (by a crash) and returns how many.

        Their finished steps are kept, so the job resumes at its first unfinished step, and they
        keep their place in the queue. Call it once at start-up, before any worker claims: it
        assumes no other live process is running jobs from this store (replicas sharing a store
        use `recover_expired` instead). The requeued jobs have no owner until claimed again, so
        a fenced `checkpoint` or `finish` of their former owner raises `LeaseLost`.
        """

    @abc.abstractmethod
    async def release_jobs(self, owner: str) -> int:
        """Requeues every job `owner` is running, now, and returns how many.

        For a replica that stops without finishing its jobs: another replica resumes them at
        once instead of after their lease. As with `recover`, finished steps are kept and the
        jobs keep their place in the queue; the owner's later fenced writes raise `LeaseLost`.
        """

    @abc.abstractmethod
    async def release_job(self, job_id: str, owner: str) -> bool:
        """Requeues one job `owner` is running, as `release_jobs` does; False when the job is
        not running under `owner`'s lease (any more).

        For a replica that had to stop one job (the store was unavailable mid-job): the job
        resumes at its first unrecorded step instead of staying `running` under a lease the
        replica's heartbeat would renew until it stops.
        """

    @abc.abstractmethod
    async def heartbeat(self, owner: str, lease: float) -> None:
        """Extends the lease of every job `owner` is running to `lease` seconds from now.

        Call it well within the lease (every third of it, say). A job `recover_expired` already
        took back is no longer the owner's and is not extended. ValueError unless `lease` > 0.
        """

    @abc.abstractmethod
    async def recover_expired(self) -> int:
        """Requeues the running jobs whose lease expired and returns how many.

        As with `recover`, their finished steps are kept and they keep their place in the queue,
        so another replica resumes each at its first unfinished step. Safe to call at any time
        from any replica; a job running without a lease counts as expired. Lease times are the
        store's clock (the database server's on PostgreSQL), so replicas' clocks need not agree.
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
        since: str | None = None,
        until: str | None = None,
    ) -> list[JobRecord]:
        """Jobs newest first, filtered by recipe and status; their `steps` are left empty.

        `before` is a job id: only jobs enqueued before it are listed (pass the last id of a page
        to get the next page). Raises `StoreError` when that job does not exist. `since` and
        `until` (ISO 8601 UTC text, compared as text: `2026-12-07T09:30` works) keep the jobs
        created at or after `since` and before `until`.
        """

    @abc.abstractmethod
    async def recipe_activity(
        self, recipes: Collection[str], since: str
    ) -> dict[str, RecipeActivity]:
        """For each recipe named: its jobs finished since `since` (to the minute) by outcome,
        how many are queued and running now, and its newest job (without steps); recipes without
        any job included.

        The overview page asks this on every load, so it must not read the jobs of the day: the
        finished counts come from per-minute counts a trigger keeps (two days of them are kept),
        the rest are index lookups.
        """

    @abc.abstractmethod
    async def finished_per_minute(self, since: str) -> list[MinuteCount]:
        """Jobs finished since `since` (to the minute, at most two days back), counted per
        recipe, minute of finishing and outcome: the overview's chart."""

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
    async def acquire_poll(self, recipe: str, owner: str, lease: float) -> bool:
        """Takes or renews the lease on polling `recipe` for `lease` seconds; True when held.

        True when no one held it, `owner` already did (the lease is extended), or the holder's
        lease expired (taken over). False while another owner's lease runs: that replica polls.
        Poll only while holding it, and renew it before each poll; the state to resume from is
        `load_poll_state`. ValueError unless `lease` > 0.
        """

    @abc.abstractmethod
    async def release_poll(self, recipe: str, owner: str) -> None:
        """Gives up `owner`'s lease on polling `recipe` (at shutdown); another owner's is kept."""

    @abc.abstractmethod
    def token_lock(self, connection: str) -> AbstractAsyncContextManager[None]:
        """A lock to hold while refreshing the connection's OAuth2 token: `async with`.

        Holders of the same connection's lock run one at a time across every process sharing
        the store (within one store object for SQLite), so one replica refreshes while the
        others wait, then find the new token with `get_token`. Other connections' locks are
        independent. Not re-entrant: a holder that asks for the same lock again waits forever.
        Hold it only for the refresh: on PostgreSQL it occupies a pooled connection.
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
