-- Serverless endpoints podwarden owns: one row per deployed endpoint (its template and its
-- endpoint at the provider share the row). The row is committed before anything is created.
CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    spec TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    generation BIGINT NOT NULL,
    resource_name TEXT NOT NULL,
    template_id TEXT,
    endpoint_id TEXT,
    reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX endpoints_owner_name_live ON endpoints (owner, name) WHERE state <> 'deleted';
CREATE INDEX endpoints_state ON endpoints (state);
