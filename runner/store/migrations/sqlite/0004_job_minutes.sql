-- Finished jobs counted per recipe, minute and outcome, for the overview page (runner.ui): its
-- 24-hour counts and its chart then read at most a day of minute rows, not the jobs of the day
-- (half a million rows on a busy store). A trigger keeps the counts, so every way a job finishes
-- is counted once, whichever code path finished it; `prune` drops rows older than two days.
CREATE TABLE job_minutes (
    minute  TEXT    NOT NULL,                -- `2026-12-07T09:30`: finished_at cut to the minute
    recipe  TEXT    NOT NULL,
    status  TEXT    NOT NULL,                -- succeeded | failed
    n       INTEGER NOT NULL,
    PRIMARY KEY (minute, recipe, status)
) WITHOUT ROWID;

CREATE TRIGGER jobs_count_finished AFTER UPDATE OF status ON jobs
WHEN (NEW.status = 'succeeded' OR NEW.status = 'failed')
     AND OLD.status <> 'succeeded' AND OLD.status <> 'failed'
BEGIN
    INSERT INTO job_minutes (minute, recipe, status, n)
    VALUES (substr(COALESCE(NEW.finished_at, strftime('%Y-%m-%dT%H:%M', 'now')), 1, 16),
            NEW.recipe, NEW.status, 1)
    ON CONFLICT (minute, recipe, status) DO UPDATE SET n = n + 1;
END;

-- The jobs that finished in the last day before this migration, so the page starts right.
INSERT INTO job_minutes (minute, recipe, status, n)
SELECT substr(finished_at, 1, 16), recipe, status, COUNT(*) FROM jobs
WHERE (status = 'succeeded' OR status = 'failed')
  AND finished_at >= strftime('%Y-%m-%dT%H:%M', 'now', '-2 days')
GROUP BY 1, 2, 3;
