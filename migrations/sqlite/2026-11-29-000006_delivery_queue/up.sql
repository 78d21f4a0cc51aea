-- The queue of task heads (issue #10). A delivery is deliverable when it is
-- its task's head (forward_async deliveries are each their own head): the
-- claim reads only heads, through `deliveries_ready`, so its cost does not
-- grow with the events waiting behind them. A claim stamps claim_token and
-- its lease's end (claimed_until); an outcome is recorded only while the
-- token still holds the row.
ALTER TABLE deliveries ADD COLUMN is_head BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deliveries ADD COLUMN claim_token TEXT;
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
UPDATE deliveries SET is_head = TRUE
WHERE status = 'pending' AND (task_id IS NULL OR sequence_id =
    (SELECT t.head_sequence FROM agent_tasks t WHERE t.id = deliveries.task_id));

DROP INDEX deliveries_pending_due;
CREATE INDEX deliveries_ready ON deliveries (agent_id, next_attempt_at)
    WHERE status = 'pending' AND is_head = TRUE;
-- Listing newest first, and purging finished rows by age.
CREATE INDEX deliveries_newest ON deliveries (created_at, id);
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status <> 'pending';
