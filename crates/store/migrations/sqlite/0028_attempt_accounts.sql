-- The account each attempt's pod is made on. A job is on one account at a time (jobs.account),
-- but a queued job may move to another cloud after an earlier pod of it ended there
-- (engine::rehome): that pod stays the account's that made it (its engine ends it, its bill is
-- read there).
ALTER TABLE attempts ADD COLUMN account TEXT NOT NULL DEFAULT '';
-- Rows made before: their job's account, unless the attempt's cloud is another's (a job that
-- moved before any pod of it was made: those intents were the other cloud's operator account's).
UPDATE attempts SET account = (
    SELECT CASE
        WHEN (attempts.cloud = 'aws') = (j.account LIKE 'aws:%') THEN j.account
        WHEN attempts.cloud = 'aws' THEN 'aws:hosted'
        ELSE 'hosted'
    END
    FROM jobs j WHERE j.id = attempts.job_id
);
