-- Each settled pod attempt's cost compared once with the provider's bill for its pod: what
-- podwarden's ledger said, what RunPod billed, and when. A difference was booked to the
-- ledger as an adjustment at `at`.
CREATE TABLE billing_checks (
    attempt_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    pod_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    ours_micros BIGINT NOT NULL,
    theirs_micros BIGINT NOT NULL
);
CREATE INDEX billing_checks_at ON billing_checks (at);
