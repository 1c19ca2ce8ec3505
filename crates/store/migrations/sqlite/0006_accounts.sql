-- Which RunPod account a job runs on, fixed at submit: 'hosted' (the operator's key) or
-- 'byok:<user id>' (the owner's own key). A key change never moves a running job's pods.
ALTER TABLE jobs ADD COLUMN account TEXT NOT NULL DEFAULT 'hosted';
-- The operator's per-user cap on hosted spend (micro-USD; NULL: no cap).
ALTER TABLE users ADD COLUMN spend_cap_micros BIGINT;
