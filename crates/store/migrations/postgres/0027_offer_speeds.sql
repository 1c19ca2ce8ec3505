-- How fast a user's job (by name and image) ran on each GPU type and count: the
-- samples_per_second its metrics report (one report per metrics batch, its mean). A sample is
-- the job's own unit, comparable only within one workload, so per user, job name and image
-- (one user's figures never rank another's jobs); the ranking takes a GPU half as fast as the
-- fastest seen to take twice as long.
CREATE TABLE offer_speeds (
    owner      TEXT NOT NULL,
    job_name   TEXT NOT NULL,
    image      TEXT NOT NULL,
    provider   TEXT NOT NULL,
    gpu_type   TEXT NOT NULL,
    gpu_count  BIGINT NOT NULL,
    reports    BIGINT NOT NULL DEFAULT 0,
    sps_total  DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner, job_name, image, provider, gpu_type, gpu_count)
);
