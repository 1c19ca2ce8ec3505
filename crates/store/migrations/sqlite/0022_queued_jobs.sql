-- A job that waits for capacity (state `queued`) keeps since when, for `ps`, the API and its
-- `start_within` deadline; cleared once a pod is made for it.
ALTER TABLE jobs ADD COLUMN queued_at INTEGER;
