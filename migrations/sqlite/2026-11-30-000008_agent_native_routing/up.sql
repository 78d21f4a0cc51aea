-- Agent-native routing. Route conditions (JSON lists): `filter` keeps a
-- call only when all hold, `ignore` drops it when any holds; fields a route
-- removes before storing or delivering (JSON list); the agent that also
-- gets every event (shadow). An agent's own
-- identities (JSON list of `provider:id`), for the loop guard.
ALTER TABLE agent_routes ADD COLUMN filter_conditions TEXT;
ALTER TABLE agent_routes ADD COLUMN ignore_conditions TEXT;
ALTER TABLE agent_routes ADD COLUMN redact_fields TEXT;
ALTER TABLE agent_routes ADD COLUMN shadow_agent_id TEXT;
ALTER TABLE agents ADD COLUMN identities TEXT;
-- The loop breaker: more than `loop_limit` events of one task within
-- `loop_window_secs` holds the task's further events until it is released.
ALTER TABLE agent_routes ADD COLUMN loop_limit INTEGER;
ALTER TABLE agent_routes ADD COLUMN loop_window_secs INTEGER;
ALTER TABLE agent_tasks ADD COLUMN held_since TIMESTAMP;
-- Coalescing: events of one task arriving within `coalesce_window_ms` of
-- each other (at most `coalesce_max_wait_ms` after the first) go out as one.
ALTER TABLE agent_routes ADD COLUMN coalesce_window_ms INTEGER;
ALTER TABLE agent_routes ADD COLUMN coalesce_max_wait_ms INTEGER;
-- Replays: the agent's answer to each attempt (at most 4 KiB), and which
-- delivery re-delivered which, to compare them side by side.
ALTER TABLE delivery_attempts ADD COLUMN response TEXT;
CREATE TABLE replays (
    id TEXT PRIMARY KEY NOT NULL,
    from_agent_id TEXT NOT NULL,
    to_agent_id TEXT NOT NULL,
    route_id TEXT,
    since TIMESTAMP NOT NULL,
    until TIMESTAMP NOT NULL,
    total BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE replay_items (
    replay_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    original_id TEXT NOT NULL,
    replayed_id TEXT NOT NULL,
    PRIMARY KEY (replay_id, position)
);
