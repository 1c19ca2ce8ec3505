-- How fast each image's jobs ran on each GPU type and count: the samples_per_second their
-- metrics report (one report per metrics batch, its mean). Comparable within an image only,
-- so per image; the ranking takes a GPU half as fast as the fastest seen to take twice as long.
CREATE TABLE offer_speeds (
    provider   TEXT NOT NULL,
    gpu_type   TEXT NOT NULL,
    gpu_count  INTEGER NOT NULL,
    image      TEXT NOT NULL,
    reports    INTEGER NOT NULL DEFAULT 0,
    sps_total  REAL NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (provider, gpu_type, gpu_count, image)
);
