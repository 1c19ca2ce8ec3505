-- Storage operations on users' volumes: who, what, when, how many bytes, and how it went.
CREATE TABLE storage_audit (
    id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    op TEXT NOT NULL,
    volume TEXT NOT NULL,
    path TEXT,
    bytes BIGINT,
    result TEXT NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX storage_audit_user ON storage_audit (user_id, at);
