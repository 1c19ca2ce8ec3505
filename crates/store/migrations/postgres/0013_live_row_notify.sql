-- Every write of a job or an attempt tells the other replicas which row changed (store::notify;
-- channel podwarden_rows_<schema>):
-- "<job|attempt> <id> <writer>", the writer being the connection's application_name, so a
-- replica skips its own. Delivered at commit, in commit order.
CREATE FUNCTION podwarden_row_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('podwarden_rows_' || TG_TABLE_SCHEMA, TG_ARGV[0] || ' ' || NEW.id || ' ' || current_setting('application_name'));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_row_notify AFTER INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION podwarden_row_notify('job');
CREATE TRIGGER attempts_row_notify AFTER INSERT OR UPDATE ON attempts
    FOR EACH ROW EXECUTE FUNCTION podwarden_row_notify('attempt');
