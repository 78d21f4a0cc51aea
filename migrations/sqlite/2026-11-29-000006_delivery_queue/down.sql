DROP INDEX deliveries_finished;
DROP INDEX deliveries_newest;
CREATE INDEX deliveries_pending_due ON deliveries (next_attempt_at) WHERE status = 'pending';
UPDATE deliveries SET dedup_key = (
    SELECT k.dedup_key FROM delivery_dedup k WHERE k.delivery_id = deliveries.id);
DROP TABLE delivery_dedup;
ALTER TABLE agents DROP COLUMN deliveries_paused_at;
ALTER TABLE agent_tasks DROP COLUMN head_sequence;
ALTER TABLE delivery_attempts DROP COLUMN instance;
ALTER TABLE deliveries DROP COLUMN budget_base;
DROP TABLE delivery_lanes;
