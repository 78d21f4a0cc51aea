-- Route conditions (JSON lists): `filter` keeps a call only when all hold,
-- `ignore` drops it when any holds. An agent's own identities (JSON list of
-- `provider:id`), for the loop guard.
ALTER TABLE agent_routes ADD COLUMN filter_conditions TEXT;
ALTER TABLE agent_routes ADD COLUMN ignore_conditions TEXT;
ALTER TABLE agents ADD COLUMN identities TEXT;
