ALTER TABLE agent_tasks DROP COLUMN held_since;
ALTER TABLE agent_routes DROP COLUMN loop_window_secs;
ALTER TABLE agent_routes DROP COLUMN loop_limit;
ALTER TABLE agents DROP COLUMN identities;
ALTER TABLE agent_routes DROP COLUMN shadow_agent_id;
ALTER TABLE agent_routes DROP COLUMN redact_fields;
ALTER TABLE agent_routes DROP COLUMN ignore_conditions;
ALTER TABLE agent_routes DROP COLUMN filter_conditions;
