-- The RunPod account an endpoint and a serverless job live on ('hosted' or 'byok:<user id>'),
-- like jobs.account: a BYOK user's copy of a published endpoint is on their own account.
ALTER TABLE endpoints ADD COLUMN account TEXT NOT NULL DEFAULT 'hosted';
ALTER TABLE requests ADD COLUMN account TEXT NOT NULL DEFAULT 'hosted';
