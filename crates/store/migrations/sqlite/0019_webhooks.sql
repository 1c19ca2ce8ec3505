-- Per-user notification webhooks (issue 26): where a user's job events are POSTed. The signing
-- secret is derived from the server's token secret and the URL, never stored.
CREATE TABLE webhooks (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    url TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- How far the notifier has read `job_events` (one row, `webhooks`); a replica claims a batch
-- by moving it, so each event is sent by one replica.
CREATE TABLE event_cursors (
    name TEXT PRIMARY KEY,
    last_event_id BIGINT NOT NULL
);
