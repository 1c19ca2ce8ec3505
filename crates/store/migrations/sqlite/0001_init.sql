-- Append-only: never edit a migration that has shipped; add a new file.
-- Times are integer milliseconds since the Unix epoch; money is integer micro-dollars.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    owner           TEXT NOT NULL,
    spec            TEXT NOT NULL,
    state           TEXT NOT NULL,
    outcome         TEXT,
    reason          TEXT,
    generation      BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    started_at      BIGINT,
    deadline_at     BIGINT,
    teardown_at     BIGINT,
    next_attempt_at BIGINT,
    attempts_made   INTEGER NOT NULL DEFAULT 0,
    budget_micros   BIGINT,
    spent_micros    BIGINT NOT NULL DEFAULT 0,
    alert_pct       INTEGER NOT NULL DEFAULT 0,
    exit_code       INTEGER,
    token_hash      TEXT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state);

CREATE TABLE attempts (
    id                    TEXT PRIMARY KEY,
    job_id                TEXT NOT NULL REFERENCES jobs (id),
    seq                   INTEGER NOT NULL,
    state                 TEXT NOT NULL,
    generation            BIGINT NOT NULL DEFAULT 0,
    pod_name              TEXT NOT NULL UNIQUE,
    pod_id                TEXT,
    gpu_type              TEXT NOT NULL,
    gpu_count             INTEGER NOT NULL,
    cloud                 TEXT NOT NULL,
    data_center           TEXT,
    price_micros_per_hour BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    booted_at             BIGINT,
    ended_at              BIGINT,
    billed_until          BIGINT,
    cost_micros           BIGINT NOT NULL DEFAULT 0,
    reason                TEXT
);
CREATE INDEX attempts_by_job ON attempts (job_id);
CREATE INDEX attempts_by_state ON attempts (state);

CREATE TABLE job_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL,
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    data    TEXT
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);

CREATE TABLE metrics (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    at     BIGINT NOT NULL,
    data   TEXT NOT NULL
);
CREATE INDEX metrics_by_job ON metrics (job_id, id);

CREATE TABLE cost_ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id        TEXT NOT NULL,
    attempt_id    TEXT NOT NULL,
    from_ms       BIGINT NOT NULL,
    to_ms         BIGINT NOT NULL,
    amount_micros BIGINT NOT NULL,
    gpu_type      TEXT NOT NULL
);
CREATE INDEX cost_ledger_by_job ON cost_ledger (job_id);
