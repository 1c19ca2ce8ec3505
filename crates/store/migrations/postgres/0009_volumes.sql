-- Network volumes a user made through podwarden, on the RunPod account they compute on.
-- `state`: creating (committed before the provider call, so a crash leaves a trace to
-- adopt by name), ready, deleting, deleted.
CREATE TABLE volumes (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    volume_id TEXT,
    data_center TEXT NOT NULL,
    size_gb BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX volumes_owner ON volumes (owner, name);
