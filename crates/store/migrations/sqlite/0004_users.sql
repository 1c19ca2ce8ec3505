-- Users and their API tokens (stored as SHA-256 hashes; a token is shown once, at creation).
-- The admin created at first start has the id 'local', so rows of a single-user install
-- (owner 'local') stay its own.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    is_admin BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE INDEX jobs_owner ON jobs (owner, id);
