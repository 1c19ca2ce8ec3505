-- What a queued job holds of its owner's hosted spend cap while it waits (its estimate, at
-- most its budget): set when it is queued, cleared before its next create. NULL holds the
-- whole budget.
ALTER TABLE jobs ADD COLUMN queued_hold_micros BIGINT;
