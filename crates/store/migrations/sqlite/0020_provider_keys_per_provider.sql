-- A user keeps one key per provider (their RunPod key and their AWS key pair, issue 28): the
-- key is (user_id, provider). SQLite cannot change a primary key in place: copy, swap.
CREATE TABLE provider_keys_new (
    user_id TEXT NOT NULL REFERENCES users (id),
    provider TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    last4 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider)
);
INSERT INTO provider_keys_new (user_id, provider, key_id, nonce, ciphertext, last4, created_at)
    SELECT user_id, provider, key_id, nonce, ciphertext, last4, created_at FROM provider_keys;
DROP TABLE provider_keys;
ALTER TABLE provider_keys_new RENAME TO provider_keys;
