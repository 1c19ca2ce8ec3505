-- The provider's figure for a settled pod attempt as last read, until it is trusted. RunPod's
-- billing lags (records appear minutes to days after use), so a figure is booked only when two
-- reads agree, or once the attempt ended longer ago than the settle time; an absent bill
-- (`theirs_micros` NULL) never replaces the ledger's figure.
CREATE TABLE billing_reads (
    attempt_id TEXT PRIMARY KEY,
    read_at BIGINT NOT NULL,
    theirs_micros BIGINT
);
