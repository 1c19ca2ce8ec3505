-- Invite codes an operator issues: redeeming one (once, before it expires) creates a user with
-- the invite's spend cap. Only the code's SHA-256 is kept.
CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spend_cap_micros BIGINT,
    note TEXT NOT NULL,
    redeemed_by TEXT,
    redeemed_at BIGINT
);
