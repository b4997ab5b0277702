"""`runner jobs list|show|replay`: the job history in the store, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from runner.commands.output import print_job_end, print_step
from runner.daemon.settings import DEFAULT_STORE
from runner.engine.replay import NotRetryable, replay_job
from runner.engine.records import JobRecord
from runner.errors import StoreError
from runner.store import open_store
from runner.store.base import Store


def run(args: argparse.Namespace) -> int:
    url = args.store or os.environ.get("RUNNER_STORE") or DEFAULT_STORE
    try:
        return asyncio.run(_run(url, args))
    except StoreError as exc:
        sys.stderr.write(f"runner: store: {exc}\n")
        return 2


async def _run(url: str, args: argparse.Namespace) -> int:
    require_existing_file(url)
    await require_existing_schema(url)
    store = open_store(url)
    await store.open()
    try:
        if args.action == "list":
            return await _list(store, args)
        job = await store.get_job(args.id)
        if job is None:
            sys.stderr.write(f"runner: no job {args.id}\n")
            return 1
        if args.action == "show":
            _show(job, args.format)
            return 0
        try:
            replay = replay_job(job, from_failed=args.from_failed)
        except NotRetryable as exc:
            sys.stderr.write(f"runner: {exc}\n")
            return 1
        await store.enqueue(replay)
        reused = [step.id for step in replay.steps]
        if args.format == "json":
            print(json.dumps({"job_id": replay.id, "replay_of": job.id, "status": "queued",
                              "reused_steps": reused}))
        else:
            kept = f", reusing steps {', '.join(reused)}" if reused else ""
            print(f"queued job {replay.id} (replay of {job.id}{kept}); "
                  "a running `runner serve` on this store runs it")
        return 0
    finally:
        await store.close()


async def _list(store: Store, args: argparse.Namespace) -> int:
    if args.limit < 1:
        sys.stderr.write("runner: error: --limit must be at least 1\n")
        return 2
    jobs = await store.list_jobs(recipe=args.recipe, status=args.status, limit=args.limit)
    if args.format == "json":
        print(json.dumps([{"id": j.id, "recipe": j.recipe, "status": j.status,
                           "created_at": j.created_at, "error": j.error} for j in jobs], indent=2))
        return 0
    if not jobs:
        print("no jobs")
    for j in jobs:
        error = "  " + " ".join(j.error.split())[:80] if j.error else ""
        print(f"{j.id}  {j.created_at[:19]}  {j.status:9}  {j.recipe}{error}")
    return 0


def _show(job: JobRecord, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(job.to_json(), indent=2, ensure_ascii=False))
        return
    print(f"job {job.id}  recipe {job.recipe}  status {job.status}")
    print(f"created {job.created_at}  started {job.started_at}  finished {job.finished_at}")
    print("event: " + json.dumps(job.event, ensure_ascii=False)[:2000])
    for step in job.steps:
        print_step(step)
    print_job_end(job)


def require_existing_file(url: str) -> None:
    """A SQLite store these commands read must exist already: opening one creates the file and
    its folders, and a mistyped `--store` would then list "no jobs" instead of saying so."""
    if not url.lower().startswith("sqlite:"):
        return
    from runner.store.sqlite import settings_from_url
    from runner.store.sqlite_conn import MEMORY

    path = settings_from_url(url).path
    if path != MEMORY and not os.path.exists(path):
        raise StoreError(f"there is no job store at {path} (check --store or RUNNER_STORE; "
                         "`runner serve` creates it on its first start)")


async def require_existing_schema(url: str) -> None:
    """The same for PostgreSQL: opening a store creates its schema, so a mistyped `?schema=`
    would otherwise be created, empty, and listed as "no jobs"."""
    if not url.lower().startswith(("postgresql:", "postgres:")):
        return
    import asyncpg

    from runner.store.postgres_conn import CONNECT_TIMEOUT, DB_ERRORS, db_error, settings_from_url

    settings = settings_from_url(url)
    try:
        conn = await asyncpg.connect(settings.dsn, timeout=CONNECT_TIMEOUT)
        try:
            found = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = $1 AND table_name = 'jobs')", settings.schema)
        finally:
            await conn.close()
    except DB_ERRORS as exc:
        raise db_error(f"opening {settings.target}", exc) from exc
    if not found:
        raise StoreError(f"there is no job store in schema {settings.schema} of "
                         f"{settings.target} (check --store or RUNNER_STORE; `runner serve` "
                         "creates it on its first start)")
