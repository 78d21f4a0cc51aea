-- Agents of either protocol: 'acp' (delivered to acp_url) or 'a2a'
-- (registered from the Agent Card at agent_card_url; delivered to the
-- card's JSON-RPC interface, a2a_url, speaking a2a_version).
ALTER TABLE agents ADD COLUMN protocol TEXT NOT NULL DEFAULT 'acp';
ALTER TABLE agents ADD COLUMN agent_card_url TEXT;
ALTER TABLE agents ADD COLUMN a2a_url TEXT;
ALTER TABLE agents ADD COLUMN a2a_version TEXT;
ALTER TABLE agents ADD COLUMN card_read_at TIMESTAMP;
