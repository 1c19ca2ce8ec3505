-- Serverless jobs ("requests"): one row per job sent to an endpoint. The row is committed
-- before the provider's /run; the provider's job id is recorded when it answers.
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    endpoint_name TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    provider_job_id TEXT,
    state TEXT NOT NULL,
    generation BIGINT NOT NULL,
    spec TEXT NOT NULL,
    output TEXT,
    reason TEXT,
    gpu TEXT NOT NULL,
    price_micros_per_hour BIGINT NOT NULL,
    estimate_micros BIGINT NOT NULL,
    cost_micros BIGINT NOT NULL,
    delay_ms BIGINT,
    execution_ms BIGINT,
    idle_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_owner ON requests (owner, id);
