-- How a verified call to one agent path is handled (contract section 5).
CREATE TABLE agent_routes (
    id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    mode TEXT NOT NULL,
    task_key TEXT,
    content TEXT NOT NULL,
    text_template TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (agent_id, path)
);

-- One row per task key: its id is UUIDv5(agent id, key).
CREATE TABLE agent_tasks (
    id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_sequence BIGINT NOT NULL,
    created_on_agent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- The queue: a row is committed before the 202 and claimed for each attempt.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    route_id TEXT,
    mode TEXT NOT NULL,
    task_id TEXT,
    sequence_id BIGINT,
    dedup_key TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    content TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    UNIQUE (agent_id, dedup_key)
);

CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_task_order ON deliveries (task_id, sequence_id);

CREATE TABLE delivery_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT
);

CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, attempt);
