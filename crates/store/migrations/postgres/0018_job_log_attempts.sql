-- Each kept log line says which attempt's pod wrote it: a relaunched job's second pod resumes
-- its own stream (not from the first pod's last line), and `logs` shows attempts apart.
-- Lines kept before this migration have none.
ALTER TABLE job_logs ADD COLUMN attempt_id TEXT;
