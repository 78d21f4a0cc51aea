ALTER TABLE agent_api_keys ADD COLUMN key_digest TEXT;
ALTER TABLE agent_api_keys ADD COLUMN secret TEXT;
-- The newest version of each key becomes its value again.
UPDATE agent_api_keys SET
    key_digest = (SELECT v.key_digest FROM agent_key_versions v WHERE v.key_id = agent_api_keys.id ORDER BY v.created_at DESC LIMIT 1),
    secret = (SELECT v.secret FROM agent_key_versions v WHERE v.key_id = agent_api_keys.id ORDER BY v.created_at DESC LIMIT 1);
CREATE INDEX agent_api_keys_digest ON agent_api_keys (agent_id, key_digest);
ALTER TABLE agent_api_keys DROP COLUMN config;
DROP TABLE agent_key_versions;
