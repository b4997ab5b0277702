"""The SQL the SQLite store runs, one named statement each (the schema is in migrations/sqlite/)."""

from __future__ import annotations

JOB_COLUMNS = "id, recipe, status, event, created_at, started_at, finished_at, error, replay_of"

# -- migrations -----------------------------------------------------------------------------------
CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)"""
APPLIED_VERSIONS = "SELECT version FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"

# -- jobs -----------------------------------------------------------------------------------------
INSERT_JOB = """
INSERT INTO jobs (id, recipe, status, event, created_at, started_at, finished_at, error,
                  replay_of, dedup_key)
VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)"""
# A webhook's job that starts at once (its recipe has a free slot and no queue): inserted
# running, in this process's name, rather than inserted queued and then updated.
INSERT_RUNNING_JOB = """
INSERT INTO jobs (id, recipe, status, event, created_at, started_at, finished_at, error,
                  replay_of, dedup_key, owner, lease_until)
VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
JOB_ID_BY_DEDUP = "SELECT id FROM jobs WHERE recipe = ? AND dedup_key = ?"
# A recipe's running jobs and whether it has a queue, in one statement (one per webhook).
RECIPE_LOAD = """
SELECT (SELECT COUNT(*) FROM jobs WHERE status = 'running' AND recipe = ?1),
       EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND recipe = ?1)"""
SELECT_JOB = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
SEQ_OF_JOB = "SELECT seq FROM jobs WHERE id = ?"
LIST_JOBS = f"""
SELECT {JOB_COLUMNS} FROM jobs
WHERE (:recipe IS NULL OR recipe = :recipe)
  AND (:status IS NULL OR status = :status)
  AND seq >= :low AND seq < :before
  AND (:since IS NULL OR created_at >= :since)
  AND (:until IS NULL OR created_at < :until)
ORDER BY seq DESC
LIMIT :limit"""
QUEUE_DEPTH = "SELECT COUNT(*) FROM jobs WHERE status = 'queued'"

# -- the overview (runner.ui) ---------------------------------------------------------------------
# A time range of the jobs list becomes a seq range first (`sqlite_ops.seq_from`).
# Two subqueries: SQLite answers a lone MIN or MAX of the key from the b-tree's ends, both at
# once by reading every row.
SEQ_RANGE = "SELECT (SELECT MIN(seq) FROM jobs), (SELECT MAX(seq) FROM jobs)"
FIRST_AT_OR_AFTER = "SELECT seq, created_at FROM jobs WHERE seq >= ? ORDER BY seq LIMIT 1"
# Finished jobs by minute are counted by a trigger into job_minutes (migration 0004).
COUNTS_SINCE = """
SELECT recipe, status, SUM(n) FROM job_minutes WHERE minute >= ? GROUP BY recipe, status"""
UNFINISHED_COUNTS = """
SELECT recipe, status, COUNT(*) FROM jobs
WHERE status = 'queued' OR status = 'running'
GROUP BY recipe, status"""
NEWEST_OF_RECIPE = """
SELECT MAX(seq) FROM jobs WHERE status = ? AND recipe = ?"""
JOB_BY_SEQ = f"SELECT {JOB_COLUMNS} FROM jobs WHERE seq = ?"
FINISHED_PER_MINUTE = """
SELECT recipe, minute, status, n FROM job_minutes WHERE minute >= ? ORDER BY minute"""
PRUNE_MINUTES = "DELETE FROM job_minutes WHERE minute < ?"

# -- claim, finish, recover -----------------------------------------------------------------------
RUNNING_COUNTS = "SELECT recipe, COUNT(*) FROM jobs WHERE status = 'running' GROUP BY recipe"
# The recipes with queued jobs, found by seeking the (status, recipe, seq) index once per recipe
# rather than reading every queued row: a claim costs the same with a backlog of a million.
QUEUED_RECIPES = """
WITH RECURSIVE queued(recipe) AS (
    SELECT MIN(recipe) FROM jobs WHERE status = 'queued'
    UNION ALL
    SELECT (SELECT MIN(recipe) FROM jobs WHERE status = 'queued' AND recipe > queued.recipe)
    FROM queued WHERE queued.recipe IS NOT NULL
)
SELECT recipe FROM queued WHERE recipe IS NOT NULL"""
QUEUE_HEAD_OF_RECIPE = """
SELECT seq, id FROM jobs WHERE status = 'queued' AND recipe = ? ORDER BY seq LIMIT ?"""
MARK_RUNNING = """
UPDATE jobs
SET status = 'running', started_at = COALESCE(started_at, :now), owner = :owner,
    lease_until = :lease_until
WHERE seq = :seq"""
# With an :owner (fenced), only a job still running under that owner's claim is finished.
FINISH_JOB = """
UPDATE jobs
SET status = :status, error = :error, started_at = COALESCE(:started_at, started_at),
    finished_at = :finished_at, finished_ts = :finished_ts, lease_until = NULL
WHERE id = :id AND (:owner IS NULL OR (status = 'running' AND owner = :owner))"""
JOB_EXISTS = "SELECT 1 FROM jobs WHERE id = ?"
REQUEUE_RUNNING = """
UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL WHERE status = 'running'"""
REQUEUE_OWNED = """
UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL
WHERE status = 'running' AND owner = ?"""
REQUEUE_OWNED_JOB = REQUEUE_OWNED + " AND id = ?"

# -- leases (times are unix seconds) ----------------------------------------------------------
EXTEND_LEASES = "UPDATE jobs SET lease_until = ? WHERE status = 'running' AND owner = ?"
REQUEUE_EXPIRED = """
UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL
WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?)"""
ACQUIRE_POLL = """
INSERT INTO poll_leases (recipe, owner, lease_until) VALUES (:recipe, :owner, :lease_until)
ON CONFLICT (recipe) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
WHERE poll_leases.owner = excluded.owner OR poll_leases.lease_until < :now"""
RELEASE_POLL = "DELETE FROM poll_leases WHERE recipe = ? AND owner = ?"
PRUNE_FINISHED = """
DELETE FROM jobs
WHERE status IN ('succeeded', 'failed')
  AND (:cutoff IS NULL OR finished_ts < :cutoff)
  AND seq NOT IN (SELECT seq FROM jobs WHERE status IN ('succeeded', 'failed')
                  ORDER BY seq DESC LIMIT :keep)"""

# -- steps ----------------------------------------------------------------------------------------
UPSERT_STEP = """
INSERT INTO steps (job_id, step_id, record) VALUES (?, ?, ?)
ON CONFLICT (job_id, step_id) DO UPDATE SET record = excluded.record"""
# The same, fenced: stored only while the job runs under :owner's claim (the WHERE also keeps
# SQLite from reading ON CONFLICT as part of the SELECT).
UPSERT_OWNED_STEP = """
INSERT INTO steps (job_id, step_id, record)
SELECT :job_id, :step_id, :record
WHERE EXISTS (SELECT 1 FROM jobs WHERE id = :job_id AND status = 'running' AND owner = :owner)
ON CONFLICT (job_id, step_id) DO UPDATE SET record = excluded.record"""
INSERT_STEP_IF_NEW = """
INSERT INTO steps (job_id, step_id, record) VALUES (?, ?, ?)
ON CONFLICT (job_id, step_id) DO NOTHING"""
SELECT_STEPS = "SELECT record FROM steps WHERE job_id = ? ORDER BY seq"

# -- poll state and tokens ------------------------------------------------------------------------
SELECT_POLL_STATE = "SELECT state FROM poll_state WHERE recipe = ?"
UPSERT_POLL_STATE = """
INSERT INTO poll_state (recipe, state, updated_at) VALUES (?, ?, ?)
ON CONFLICT (recipe) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"""
SELECT_TOKEN = "SELECT blob FROM tokens WHERE connection = ?"
UPSERT_TOKEN = """
INSERT INTO tokens (connection, blob, updated_at) VALUES (?, ?, ?)
ON CONFLICT (connection) DO UPDATE SET blob = excluded.blob, updated_at = excluded.updated_at"""
DELETE_TOKEN = "DELETE FROM tokens WHERE connection = ?"
