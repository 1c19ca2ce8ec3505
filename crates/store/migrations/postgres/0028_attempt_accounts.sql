-- The account each attempt's pod is made on. A job is on one account at a time (jobs.account),
-- but a queued job may move to another cloud after an earlier pod of it ended there
-- (engine::rehome): that pod stays the account's that made it (its engine ends it, its bill is
-- read there).
ALTER TABLE attempts ADD COLUMN account TEXT NOT NULL DEFAULT '';
-- Rows made before: their job's account, unless the attempt's cloud is another's (a job that
-- moved before any pod of it was made: those intents were the other cloud's operator account's).
-- Not announced to the other replicas row by row (0013): no live row's meaning changes.
ALTER TABLE attempts DISABLE TRIGGER attempts_row_notify;
UPDATE attempts SET account = (
    SELECT CASE
        WHEN (attempts.cloud = 'aws') = (j.account LIKE 'aws:%') THEN j.account
        WHEN attempts.cloud = 'aws' THEN 'aws:hosted'
        ELSE 'hosted'
    END
    FROM jobs j WHERE j.id = attempts.job_id
);
ALTER TABLE attempts ENABLE TRIGGER attempts_row_notify;
-- During a rolling upgrade a replica still on the previous version inserts attempts without an
-- account (docs/deployment.md): they take their job's, which is the one making the pod.
CREATE FUNCTION podwarden_attempt_account() RETURNS trigger AS $$
BEGIN
    IF NEW.account = '' THEN
        SELECT account INTO NEW.account FROM jobs WHERE id = NEW.job_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER attempts_account BEFORE INSERT ON attempts
    FOR EACH ROW EXECUTE FUNCTION podwarden_attempt_account();
