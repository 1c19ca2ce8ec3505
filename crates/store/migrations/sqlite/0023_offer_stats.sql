-- Placement that learns: what podwarden has seen of each offer (provider, GPU type, data
-- center, cloud tier) from its own launches, and the operator's pin or ban of it.
CREATE TABLE offer_stats (
    provider      TEXT NOT NULL,
    gpu_type      TEXT NOT NULL,
    data_center   TEXT NOT NULL,
    cloud         TEXT NOT NULL,
    boots         INTEGER NOT NULL DEFAULT 0,
    boot_ms_total INTEGER NOT NULL DEFAULT 0,
    duds          INTEGER NOT NULL DEFAULT 0,
    losses        INTEGER NOT NULL DEFAULT 0,
    last_dud_at   INTEGER,
    pinned        INTEGER NOT NULL DEFAULT 0,
    banned        INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (provider, gpu_type, data_center, cloud)
);
