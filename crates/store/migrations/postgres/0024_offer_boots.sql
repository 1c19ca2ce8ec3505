-- A boot deadline per attempt: how each image booted on each offer (create to RUNNING), so a
-- pod that takes far longer than its image ever did there is found out as a dud before the
-- job's own boot_timeout. Per image: a boot's time is mostly the image's pull.
CREATE TABLE offer_boots (
    provider      TEXT NOT NULL,
    gpu_type      TEXT NOT NULL,
    data_center   TEXT NOT NULL,
    cloud         TEXT NOT NULL,
    image         TEXT NOT NULL,
    boots         BIGINT NOT NULL DEFAULT 0,
    boot_ms_total BIGINT NOT NULL DEFAULT 0,
    boot_ms_max   BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (provider, gpu_type, data_center, cloud, image)
);
