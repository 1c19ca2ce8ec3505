-- Placement that learns: what podwarden has seen of each offer (provider, GPU type, data
-- center, cloud tier) from its own launches, and the operator's pin or ban of it.
CREATE TABLE offer_stats (
    provider      TEXT NOT NULL,
    gpu_type      TEXT NOT NULL,
    data_center   TEXT NOT NULL,
    cloud         TEXT NOT NULL,
    boots         BIGINT NOT NULL DEFAULT 0,
    boot_ms_total BIGINT NOT NULL DEFAULT 0,
    duds          BIGINT NOT NULL DEFAULT 0,
    losses        BIGINT NOT NULL DEFAULT 0,
    last_dud_at   BIGINT,
    pinned        BOOLEAN NOT NULL DEFAULT FALSE,
    banned        BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (provider, gpu_type, data_center, cloud)
);
