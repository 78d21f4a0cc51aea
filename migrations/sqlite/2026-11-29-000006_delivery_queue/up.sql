-- The queue of lanes (issue #10). A lane is a task with pending events, or
-- one pending forward_async delivery; its row names the delivery at its head
-- and when that is due. Claims read and stamp only lane rows, through
-- `delivery_lanes_ready` (agent, due time), so a claim costs the same however
-- many events wait behind heads, and a delivery row is written once per
-- attempt. An outcome is recorded only while the claim's token still holds
-- the lane.
CREATE TABLE delivery_lanes (
    id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    head_id TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    claim_token TEXT,
    claimed_by TEXT,
    claimed_until TIMESTAMP
);
CREATE INDEX delivery_lanes_ready ON delivery_lanes (agent_id, due_at);
CREATE INDEX delivery_lanes_head ON delivery_lanes (head_id);

-- Attempts made before the last manual retry: each retry starts a fresh budget.
ALTER TABLE deliveries ADD COLUMN budget_base INTEGER NOT NULL DEFAULT 0;
-- Which hookgate process made an attempt (its claims' owner id).
ALTER TABLE delivery_attempts ADD COLUMN instance TEXT;
-- The sequence number of the task's head, NULL when nothing is pending.
ALTER TABLE agent_tasks ADD COLUMN head_sequence BIGINT;
-- Set while an operator holds the agent's deliveries (intake goes on).
ALTER TABLE agents ADD COLUMN deliveries_paused_at TIMESTAMP;

-- Provider redelivery ids, kept apart from the deliveries so that purging a
-- delivered row does not reopen its dedup window.
CREATE TABLE delivery_dedup (
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    dedup_key TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    task_id TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (agent_id, dedup_key)
);
INSERT INTO delivery_dedup (agent_id, dedup_key, delivery_id, task_id, created_at)
SELECT agent_id, dedup_key, id, task_id, created_at FROM deliveries WHERE dedup_key IS NOT NULL;
UPDATE deliveries SET dedup_key = NULL;
CREATE INDEX delivery_dedup_age ON delivery_dedup (created_at);

UPDATE agent_tasks SET head_sequence = (
    SELECT MIN(d.sequence_id) FROM deliveries d
    WHERE d.task_id = agent_tasks.id AND d.status = 'pending');
INSERT INTO delivery_lanes (id, agent_id, head_id, due_at)
SELECT d.task_id, d.agent_id, d.id, d.next_attempt_at
FROM deliveries d JOIN agent_tasks t ON t.id = d.task_id AND d.sequence_id = t.head_sequence
WHERE d.status = 'pending';
INSERT INTO delivery_lanes (id, agent_id, head_id, due_at)
SELECT id, agent_id, id, next_attempt_at FROM deliveries
WHERE status = 'pending' AND task_id IS NULL;

-- Claims live in delivery_lanes now.
DROP INDEX deliveries_pending_due;
-- Listing newest first, and purging finished rows by age.
CREATE INDEX deliveries_newest ON deliveries (created_at, id);
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status <> 'pending';
