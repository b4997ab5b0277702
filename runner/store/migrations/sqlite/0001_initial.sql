-- Jobs, their steps, poll state and token blobs.
-- Applied once, inside a transaction, by runner/store/sqlite.py; recorded in schema_migrations.

-- One row per job. `seq` is the insertion order: "oldest first" (claim) and "newest first"
-- (list) sort by it, never by timestamps. AUTOINCREMENT keeps it increasing after prunes.
CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    recipe       TEXT    NOT NULL,
    status       TEXT    NOT NULL
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    event        TEXT    NOT NULL,          -- JSON: the trigger event
    created_at   TEXT    NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    finished_ts  REAL,                      -- unix seconds of finished_at, for prune by age
    error        TEXT,
    replay_of    TEXT,
    dedup_key    TEXT
);

-- A webhook's dedup value is unique per recipe.
CREATE UNIQUE INDEX jobs_recipe_dedup ON jobs (recipe, dedup_key) WHERE dedup_key IS NOT NULL;

-- claim: running counts per recipe, and each recipe's queue in order.
CREATE INDEX jobs_status_recipe_seq ON jobs (status, recipe, seq);

-- A job's finished steps, in the order they were recorded; deleted with their job.
CREATE TABLE steps (
    seq      INTEGER PRIMARY KEY,
    job_id   TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_id  TEXT NOT NULL,
    record   TEXT NOT NULL,                 -- JSON: StepRecord.to_json()
    UNIQUE (job_id, step_id)
);

-- What a poller remembers between polls (cursor, seen keys), as JSON.
CREATE TABLE poll_state (
    recipe      TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- OAuth2 tokens, encrypted by the caller; the store never reads inside the blob.
CREATE TABLE tokens (
    connection  TEXT PRIMARY KEY,
    blob        BLOB NOT NULL,
    updated_at  TEXT NOT NULL
);
