-- Leases, so that several processes can share a store: who runs a job and until when, and which
-- process polls a recipe. Times are unix seconds. Applied once by runner/store/sqlite.py.

ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until REAL;

CREATE TABLE poll_leases (
    recipe       TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    lease_until  REAL NOT NULL
);
