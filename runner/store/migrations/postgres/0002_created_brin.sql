-- The overview (runner.ui) counts the jobs of the last hours and filters jobs by creation time.
-- Jobs are inserted in creation order, so a BRIN index (a few pages for millions of rows, next to
-- nothing per insert) narrows `created_at >= ...` to the table's last blocks, where a B-tree on a
-- text column would cost every webhook an index write.
CREATE INDEX jobs_created_brin ON jobs USING brin (created_at);
