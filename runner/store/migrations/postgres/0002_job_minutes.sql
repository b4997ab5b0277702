-- Finished jobs counted per recipe, minute and outcome, for the overview page (runner.ui): its
-- 24-hour counts and its chart then read at most a day of minute rows, not the jobs of the day.
-- A trigger keeps the counts, so every way a job finishes is counted once; `prune` drops rows
-- older than two days.
CREATE TABLE job_minutes (
    minute  text   NOT NULL,                 -- `2026-12-07T09:30`: finished_at cut to the minute
    recipe  text   NOT NULL,
    status  text   NOT NULL,                 -- succeeded | failed
    n       bigint NOT NULL,
    PRIMARY KEY (minute, recipe, status)
);

CREATE FUNCTION count_finished_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_minutes (minute, recipe, status, n)
    VALUES (substr(COALESCE(NEW.finished_at,
                            to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI')), 1, 16),
            NEW.recipe, NEW.status, 1)
    ON CONFLICT (minute, recipe, status) DO UPDATE SET n = job_minutes.n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_count_finished AFTER UPDATE OF status ON jobs FOR EACH ROW
WHEN (NEW.status IN ('succeeded', 'failed') AND OLD.status NOT IN ('succeeded', 'failed'))
EXECUTE FUNCTION count_finished_job();

INSERT INTO job_minutes (minute, recipe, status, n)
SELECT substr(finished_at, 1, 16), recipe, status, count(*) FROM jobs
WHERE status IN ('succeeded', 'failed')
  AND finished_at >= to_char(now() AT TIME ZONE 'UTC' - interval '2 days', 'YYYY-MM-DD"T"HH24:MI')
GROUP BY 1, 2, 3;
