-- Accounts, as Agentex's deployed mode has them: the root admin token
-- manages them; an account key (stored as its hex SHA-256 only) acts inside
-- its account. Agents belong to one account, or to none (root's).
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE account_api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key_digest TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX account_api_keys_account ON account_api_keys (account_id);

ALTER TABLE agents ADD COLUMN account_id TEXT REFERENCES accounts(id);

CREATE INDEX agents_account ON agents (account_id);
