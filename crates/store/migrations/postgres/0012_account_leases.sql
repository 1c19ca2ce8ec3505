-- Which replica reconciles which account (store::leases). `epoch` grows on every change of
-- holder; a pass's writes check holder and epoch in their transaction (the fence).
CREATE TABLE account_leases (
    account TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Every new event wakes event streams on every replica (LISTEN podwarden_events_<schema>: one
-- channel per schema, as installs may share a database): NOTIFY is delivered at commit, so a
-- listener that reads after it sees the row.
CREATE FUNCTION podwarden_event_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('podwarden_events_' || TG_TABLE_SCHEMA, NEW.job_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER job_events_notify AFTER INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION podwarden_event_notify();
