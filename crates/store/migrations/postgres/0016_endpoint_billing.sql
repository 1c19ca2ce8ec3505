-- Serverless endpoints' bills, hour by hour: every UTC hour before `booked_through` agrees with
-- RunPod's bill for the endpoint (its workers bill from start until they fully stop: boots,
-- idle time and active workers beyond what podwarden charged its jobs). The head hour's last
-- read waits here until it is trusted (two reads agree, or it is older than the settle time);
-- an absent bill (`theirs_micros` NULL) never replaces the ledger's figure.
CREATE TABLE endpoint_billing (
    endpoint_id TEXT PRIMARY KEY,
    booked_through BIGINT NOT NULL,
    read_at BIGINT,
    theirs_micros BIGINT
);
-- Endpoints that exist now start at this hour: their past was never compared with the bill,
-- and billing it all at once would land months of overhead in their owners' spend.
INSERT INTO endpoint_billing (endpoint_id, booked_through)
SELECT id, (CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) / 3600) * 3600000 FROM endpoints;
