-- A user keeps one key per provider (their RunPod key and their AWS key pair, issue 28): the
-- key is (user_id, provider).
ALTER TABLE provider_keys DROP CONSTRAINT provider_keys_pkey;
ALTER TABLE provider_keys ADD PRIMARY KEY (user_id, provider);
