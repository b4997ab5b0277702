"""The SQL the PostgreSQL store runs, one named statement each (the schema: migrations/postgres/).

Every connection's search_path is the store's schema, so tables go unqualified. Lease times are the
server's `clock_timestamp()`, the one clock every replica shares.
"""

from __future__ import annotations

JOB_COLUMNS = "id, recipe, status, event, created_at, started_at, finished_at, error, replay_of"
STEPS_OF_JOB = "ARRAY(SELECT s.record FROM steps AS s WHERE s.job_id = jobs.id ORDER BY s.seq)"

# Advisory lock key spaces (the first of the two int4 keys); the second key is a hash of the
# schema (with a name), so stores in different schemas of one database never wait for each other.
MIGRATE_LOCKS = 0x52554E01
CLAIM_LOCKS = 0x52554E02
TOKEN_LOCKS = 0x52554E03

# -- migrations -----------------------------------------------------------------------------------
LOCK_XACT = "SELECT pg_advisory_xact_lock($1::int4, hashtext($2::text))"
SCHEMA_EXISTS = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)"
CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""
APPLIED_VERSIONS = "SELECT version FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"

# -- jobs -----------------------------------------------------------------------------------------
INSERT_JOB = """
INSERT INTO jobs (id, recipe, status, event, created_at, started_at, finished_at, error,
                  replay_of, dedup_key)
VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (recipe, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
RETURNING id"""
JOB_ID_BY_DEDUP = "SELECT id FROM jobs WHERE recipe = $1 AND dedup_key = $2"
SELECT_JOB = f"SELECT {JOB_COLUMNS}, {STEPS_OF_JOB} AS steps FROM jobs WHERE id = $1"
SEQ_OF_JOB = "SELECT seq FROM jobs WHERE id = $1"
LIST_JOBS = f"""
SELECT {JOB_COLUMNS} FROM jobs
WHERE ($1::text IS NULL OR recipe = $1)
  AND ($2::text IS NULL OR status = $2)
  AND ($3::bigint IS NULL OR seq < $3)
  AND seq >= $7
  AND ($5::text IS NULL OR created_at >= $5)
  AND ($6::text IS NULL OR created_at < $6)
ORDER BY seq DESC
LIMIT $4"""
QUEUE_DEPTH = "SELECT count(*) FROM jobs WHERE status = 'queued'"

# The seq from which jobs were created at or after $1: a bisection over seq (jobs are stored in
# creation order), about 20 primary-key lookups for a million jobs, in one statement; NULL for an
# empty table. A filter on created_at alone would read every job of the range's side.
SEQ_FROM = """
WITH RECURSIVE b(low, high) AS (
    SELECT (SELECT min(seq) FROM jobs), (SELECT max(seq) FROM jobs) + 1
  UNION ALL
    SELECT CASE WHEN p.created_at >= $1 THEN b.low ELSE p.seq + 1 END,
           CASE WHEN p.created_at >= $1 THEN (b.low + b.high) / 2 ELSE b.high END
    FROM b CROSS JOIN LATERAL (
        SELECT seq, created_at FROM jobs WHERE seq >= (b.low + b.high) / 2 ORDER BY seq LIMIT 1
    ) AS p
    WHERE b.low < b.high
)
SELECT low FROM b WHERE low >= high LIMIT 1"""

# -- the overview (runner.ui) ---------------------------------------------------------------------
# $1: the recipes (text[]), $2: since.
# Finished jobs by minute are counted by a trigger into job_minutes (migration 0002).
COUNTS_SINCE = """
SELECT recipe, status, sum(n)::bigint AS n FROM job_minutes
WHERE minute >= $2 AND recipe = ANY($1::text[])
GROUP BY recipe, status"""
UNFINISHED_COUNTS = """
SELECT recipe, status, count(*) AS n FROM jobs
WHERE status IN ('queued', 'running') AND recipe = ANY($1::text[])
GROUP BY recipe, status"""
# Each recipe's newest job: four lookups of the (status, recipe, seq) index per recipe.
NEWEST_OF_RECIPES = f"""
SELECT {", ".join(f"jobs.{c.strip()}" for c in JOB_COLUMNS.split(","))}
FROM unnest($1::text[]) AS r(name)
CROSS JOIN LATERAL (SELECT GREATEST(
    (SELECT max(seq) FROM jobs WHERE status = 'queued' AND recipe = r.name),
    (SELECT max(seq) FROM jobs WHERE status = 'running' AND recipe = r.name),
    (SELECT max(seq) FROM jobs WHERE status = 'succeeded' AND recipe = r.name),
    (SELECT max(seq) FROM jobs WHERE status = 'failed' AND recipe = r.name)) AS seq) AS newest
JOIN jobs ON jobs.seq = newest.seq"""
FINISHED_PER_MINUTE = """
SELECT recipe, minute, status, n FROM job_minutes WHERE minute >= $1 ORDER BY minute"""
PRUNE_MINUTES = "DELETE FROM job_minutes WHERE minute < $1"

# -- claim, finish, recover -----------------------------------------------------------------------
# Per recipe with queued jobs: how many of its jobs run now.
# Only the recipes in $1, unless it is NULL.
RECIPES_TO_CLAIM = """
SELECT recipe, count(*) FILTER (WHERE status = 'running') AS running
FROM jobs
WHERE status IN ('queued', 'running') AND ($1::text[] IS NULL OR recipe = ANY($1::text[]))
GROUP BY recipe HAVING count(*) FILTER (WHERE status = 'queued') > 0"""
# The first `slots` queued jobs of each recipe, oldest `limit` of them overall, marked running.
# Rows are locked without SKIP LOCKED: see PostgresStore.claim.
CLAIM_HEADS = f"""
UPDATE jobs
SET status = 'running', started_at = COALESCE(jobs.started_at, $4), owner = $5,
    lease_until = clock_timestamp() + make_interval(secs => $6)
FROM (
    SELECT head.seq
    FROM unnest($1::text[], $2::int[]) AS offer (recipe, slots)
    CROSS JOIN LATERAL (
        SELECT seq FROM jobs AS queued
        WHERE queued.status = 'queued' AND queued.recipe = offer.recipe
        ORDER BY queued.seq LIMIT offer.slots
        FOR NO KEY UPDATE
    ) AS head
    ORDER BY head.seq LIMIT $3
) AS chosen
WHERE jobs.seq = chosen.seq AND jobs.status = 'queued'
RETURNING jobs.seq, {", ".join(f"jobs.{c.strip()}" for c in JOB_COLUMNS.split(","))},
          {STEPS_OF_JOB} AS steps"""
# The outcome and the steps not yet stored, in one statement (one round trip, atomic without an
# explicit transaction); no row when the job is unknown, and then no step is stored either.
# With an owner in $9 (fenced), only a job still running under that owner's claim is finished:
# an UPDATE racing a requeue waits for it and then sees the requeued row, so none slips through.
FINISH_JOB = """
WITH finished AS (
    UPDATE jobs
    SET status = $1, error = $2, started_at = COALESCE($3, started_at), finished_at = $4,
        finished_ts = $5, lease_until = NULL
    WHERE id = $6 AND ($9::text IS NULL OR (status = 'running' AND owner = $9))
    RETURNING id
), stored AS (
    INSERT INTO steps (job_id, step_id, record)
    SELECT finished.id, step.id, step.record
    FROM finished, unnest($7::text[], $8::text[]) WITH ORDINALITY AS step (id, record, n)
    ORDER BY step.n
    ON CONFLICT (job_id, step_id) DO NOTHING
)
SELECT id FROM finished"""
REQUEUE_RUNNING = """
WITH requeued AS (
    UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL
    WHERE status = 'running' RETURNING 1
) SELECT count(*) FROM requeued"""
REQUEUE_OWNED = """
WITH requeued AS (
    UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL
    WHERE status = 'running' AND owner = $1 RETURNING 1
) SELECT count(*) FROM requeued"""
REQUEUE_OWNED_JOB = """
UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL
WHERE status = 'running' AND owner = $1 AND id = $2 RETURNING 1"""
REQUEUE_EXPIRED = """
WITH requeued AS (
    UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL
    WHERE status = 'running' AND (lease_until IS NULL OR lease_until < clock_timestamp())
    RETURNING 1
) SELECT count(*) FROM requeued"""
EXTEND_LEASES = """
UPDATE jobs SET lease_until = clock_timestamp() + make_interval(secs => $2)
WHERE status = 'running' AND owner = $1"""
PRUNE_FINISHED = """
WITH pruned AS (
    DELETE FROM jobs
    WHERE status IN ('succeeded', 'failed')
      AND ($1::timestamptz IS NULL OR finished_ts < $1)
      AND seq NOT IN (SELECT seq FROM jobs WHERE status IN ('succeeded', 'failed')
                      ORDER BY seq DESC LIMIT $2)
    RETURNING 1
) SELECT count(*) FROM pruned"""

# -- steps ----------------------------------------------------------------------------------------
UPSERT_STEP = """
INSERT INTO steps (job_id, step_id, record) VALUES ($1, $2, $3)
ON CONFLICT (job_id, step_id) DO UPDATE SET record = excluded.record"""
# The same, fenced: stored only while the job runs under $4's claim; no row otherwise. FOR SHARE
# makes a racing requeue (or claim) and this insert take turns on the job's row, and the row is
# checked again once its turn comes, so a step never lands after its job was taken away.
UPSERT_OWNED_STEP = """
WITH owned AS (
    SELECT id FROM jobs WHERE id = $1 AND status = 'running' AND owner = $4 FOR SHARE
)
INSERT INTO steps (job_id, step_id, record) SELECT owned.id, $2, $3 FROM owned
ON CONFLICT (job_id, step_id) DO UPDATE SET record = excluded.record
RETURNING job_id"""
INSERT_STEP_IF_NEW = """
INSERT INTO steps (job_id, step_id, record) VALUES ($1, $2, $3)
ON CONFLICT (job_id, step_id) DO NOTHING"""

# -- poll state, poll leases, tokens --------------------------------------------------------------
SELECT_POLL_STATE = "SELECT state FROM poll_state WHERE recipe = $1"
UPSERT_POLL_STATE = """
INSERT INTO poll_state (recipe, state) VALUES ($1, $2)
ON CONFLICT (recipe) DO UPDATE SET state = excluded.state, updated_at = now()"""
# A row comes back when the lease was free, ours, or expired; none while another owner holds it.
ACQUIRE_POLL = """
INSERT INTO poll_leases (recipe, owner, lease_until)
VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
ON CONFLICT (recipe) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
WHERE poll_leases.owner = excluded.owner OR poll_leases.lease_until < clock_timestamp()
RETURNING owner"""
RELEASE_POLL = "DELETE FROM poll_leases WHERE recipe = $1 AND owner = $2"
SELECT_TOKEN = "SELECT blob FROM tokens WHERE connection = $1"
UPSERT_TOKEN = """
INSERT INTO tokens (connection, blob) VALUES ($1, $2)
ON CONFLICT (connection) DO UPDATE SET blob = excluded.blob, updated_at = now()"""
DELETE_TOKEN = "DELETE FROM tokens WHERE connection = $1"
LOCK_SESSION = "SELECT pg_advisory_lock($1::int4, hashtext($2::text))"
UNLOCK_SESSION = "SELECT pg_advisory_unlock($1::int4, hashtext($2::text))"
