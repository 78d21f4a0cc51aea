-- Each key keeps its values as versions: a rotation adds one and gives the
-- others an expiry, so several can verify at once. `external` and `gitlab`
-- versions keep only `key_digest` (hex SHA-256 of the value); the others
-- keep `secret`. agent_id and api_key_type are copied from the key so the
-- verifier finds live versions with one index.
CREATE TABLE agent_key_versions (
    id TEXT PRIMARY KEY NOT NULL,
    key_id TEXT NOT NULL REFERENCES agent_api_keys(id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL,
    api_key_type TEXT NOT NULL,
    key_digest TEXT,
    secret TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP
);

CREATE INDEX agent_key_versions_key ON agent_key_versions (key_id);
CREATE INDEX agent_key_versions_digest ON agent_key_versions (agent_id, api_key_type, key_digest);

INSERT INTO agent_key_versions (id, key_id, agent_id, api_key_type, key_digest, secret, created_at, expires_at)
SELECT id, id, agent_id, api_key_type, key_digest, secret, created_at, NULL FROM agent_api_keys;

-- Per-key settings of the generic `hmac` type (JSON).
ALTER TABLE agent_api_keys ADD COLUMN config TEXT;

DROP INDEX agent_api_keys_digest;
ALTER TABLE agent_api_keys DROP COLUMN key_digest;
ALTER TABLE agent_api_keys DROP COLUMN secret;
