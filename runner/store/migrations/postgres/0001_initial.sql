-- Jobs, their steps, poll state and leases, token blobs.
-- Applied once, in one transaction under an advisory lock, by runner/store/postgres.py, which
-- creates the schema first and records each migration in schema_migrations.

-- JSON is kept as text, not jsonb: jsonb refuses \u0000 and lone surrogates, which events may hold,
-- and text gives back exactly what was stored. Timestamps the records carry stay ISO text for the
-- same reason; the ones the store compares (finished_ts, lease_until) are timestamptz.

-- One row per job. `seq` is the insertion order: "oldest first" (claim) and "newest first" (list)
-- sort by it, never by timestamps. A running job has an `owner` (the replica that claimed it) and a
-- `lease_until` (server clock): past it, recover_expired puts the job back in its place.
CREATE TABLE jobs (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    recipe       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    event        text NOT NULL,              -- JSON: the trigger event
    created_at   text NOT NULL,
    started_at   text,
    finished_at  text,
    finished_ts  timestamptz,                -- finished_at as a time, for prune by age
    error        text,
    replay_of    text,
    dedup_key    text,
    owner        text,
    lease_until  timestamptz
);

-- A webhook's dedup value is unique per recipe.
CREATE UNIQUE INDEX jobs_recipe_dedup ON jobs (recipe, dedup_key) WHERE dedup_key IS NOT NULL;

-- claim: running counts per recipe, and each recipe's queue in order.
CREATE INDEX jobs_status_recipe_seq ON jobs (status, recipe, seq);

-- heartbeat and recover_expired look at running jobs only.
CREATE INDEX jobs_running_lease ON jobs (owner, lease_until) WHERE status = 'running';

-- A job's finished steps, in the order they were recorded; deleted with their job.
CREATE TABLE steps (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id   text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_id  text NOT NULL,
    record   text NOT NULL,                  -- JSON: StepRecord.to_json()
    UNIQUE (job_id, step_id)
);

-- What a poller remembers between polls (cursor, seen keys), as JSON.
CREATE TABLE poll_state (
    recipe      text PRIMARY KEY,
    state       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Which replica polls a recipe, until when (server clock).
CREATE TABLE poll_leases (
    recipe       text PRIMARY KEY,
    owner        text NOT NULL,
    lease_until  timestamptz NOT NULL
);

-- OAuth2 tokens, encrypted by the caller; the store never reads inside the blob.
CREATE TABLE tokens (
    connection  text PRIMARY KEY,
    blob        bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
