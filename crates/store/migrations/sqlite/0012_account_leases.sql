-- Which replica reconciles which account (store::leases). `epoch` grows on every change of
-- holder; a pass's writes check holder and epoch in their transaction (the fence).
CREATE TABLE account_leases (
    account TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
