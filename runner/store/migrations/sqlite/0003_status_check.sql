-- The jobs table again, with its status check written as comparisons instead of an IN list.
-- Why: SQLite compiles `status IN (...)` in a CHECK into a temporary index that every insert and
-- every status update builds and drops again (about a third of an insert's cost); four
-- comparisons accept and refuse exactly the same values for a fraction of that.
--
-- SQLite cannot change a CHECK in place, so the table is rebuilt and its rows copied. Migrations
-- run inside a transaction with foreign keys on, where dropping `jobs` would cascade into
-- `steps`: `steps` is therefore rebuilt first, pointing at the new table, and both old tables are
-- dropped before the new ones take their names (a rename carries the reference along).

CREATE TABLE jobs_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    recipe       TEXT    NOT NULL,
    status       TEXT    NOT NULL
                 CHECK (status = 'queued' OR status = 'running'
                        OR status = 'succeeded' OR status = 'failed'),
    event        TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    finished_ts  REAL,
    error        TEXT,
    replay_of    TEXT,
    dedup_key    TEXT,
    owner        TEXT,
    lease_until  REAL
);

INSERT INTO jobs_new (seq, id, recipe, status, event, created_at, started_at, finished_at,
                      finished_ts, error, replay_of, dedup_key, owner, lease_until)
SELECT seq, id, recipe, status, event, created_at, started_at, finished_at,
       finished_ts, error, replay_of, dedup_key, owner, lease_until
FROM jobs;

-- `seq` goes on from where the old table was, even past jobs pruned since.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0))
WHERE name = 'jobs_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'jobs_new', seq FROM sqlite_sequence
WHERE name = 'jobs' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs_new');

CREATE TABLE steps_new (
    seq      INTEGER PRIMARY KEY,
    job_id   TEXT NOT NULL REFERENCES jobs_new (id) ON DELETE CASCADE,
    step_id  TEXT NOT NULL,
    record   TEXT NOT NULL,
    UNIQUE (job_id, step_id)
);

INSERT INTO steps_new (seq, job_id, step_id, record)
SELECT seq, job_id, step_id, record FROM steps;

DROP TABLE steps;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
ALTER TABLE steps_new RENAME TO steps;

CREATE UNIQUE INDEX jobs_recipe_dedup ON jobs (recipe, dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX jobs_status_recipe_seq ON jobs (status, recipe, seq);
