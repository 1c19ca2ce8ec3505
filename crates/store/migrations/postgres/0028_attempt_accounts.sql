-- The account each attempt's pod was made on. A job is on one account at a time (jobs.account),
-- but a queued job may move to another cloud after an earlier pod of it ended there
-- (engine::rehome): that pod's bill is still read from the account that made it.
ALTER TABLE attempts ADD COLUMN account TEXT NOT NULL DEFAULT '';
UPDATE attempts SET account = (SELECT j.account FROM jobs j WHERE j.id = attempts.job_id);
