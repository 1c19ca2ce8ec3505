-- Audit ids come from the database (a rowid alias), not `MAX(id) + 1` under one process's lock,
-- as on Postgres where two replicas collided on the key and lost entries.
CREATE TABLE storage_audit_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    op TEXT NOT NULL,
    volume TEXT NOT NULL,
    path TEXT,
    bytes BIGINT,
    result TEXT NOT NULL
);
INSERT INTO storage_audit_new (id, at, user_id, op, volume, path, bytes, result)
SELECT id, at, user_id, op, volume, path, bytes, result FROM storage_audit;
DROP TABLE storage_audit;
ALTER TABLE storage_audit_new RENAME TO storage_audit;
CREATE INDEX storage_audit_user ON storage_audit (user_id, at);
