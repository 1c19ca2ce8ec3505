-- A job's pod log lines, kept after the pod is gone (`podwarden logs JOB` after teardown).
-- Bounded per job: the store keeps the newest JOB_LOG_LINES_KEPT lines.
CREATE TABLE job_logs (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
