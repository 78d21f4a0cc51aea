CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    acp_url TEXT,
    acp_type TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    registration_metadata TEXT,
    agent_input_type TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    registered_at TIMESTAMP
);

-- One row per key or signing secret. `external` keys keep only `key_digest`
-- (hex SHA-256 of the value); signing secrets and internal keys keep `secret`.
CREATE TABLE agent_api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    api_key_type TEXT NOT NULL,
    key_digest TEXT,
    secret TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (agent_id, name, api_key_type)
);

CREATE INDEX agent_api_keys_digest ON agent_api_keys (agent_id, key_digest);
