-- Audit ids come from the database, not `MAX(id) + 1` under one process's lock: two replicas
-- writing at once collided on the key and entries were lost.
CREATE SEQUENCE storage_audit_id_seq OWNED BY storage_audit.id;
SELECT setval('storage_audit_id_seq', COALESCE((SELECT MAX(id) FROM storage_audit), 0) + 1, false);
ALTER TABLE storage_audit ALTER COLUMN id SET DEFAULT nextval('storage_audit_id_seq');
