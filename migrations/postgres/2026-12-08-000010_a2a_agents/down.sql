ALTER TABLE agents DROP COLUMN card_read_at;
ALTER TABLE agents DROP COLUMN a2a_version;
ALTER TABLE agents DROP COLUMN a2a_url;
ALTER TABLE agents DROP COLUMN agent_card_url;
ALTER TABLE agents DROP COLUMN protocol;
