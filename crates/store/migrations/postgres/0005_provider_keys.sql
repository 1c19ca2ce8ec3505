-- A user's own RunPod key (BYOK), encrypted with AES-256-GCM under the server secret:
-- key_id names the secret (for rotation), a fresh nonce per encryption. Never stored in clear.
CREATE TABLE provider_keys (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    provider TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    last4 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
