-- The dispatcher only ever looks for pending rows: partial indexes keep its
-- two queries (due rows; each task's earliest pending event) small however
-- many delivered rows pile up.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_pending_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_pending_heads ON deliveries (task_id, sequence_id) WHERE status = 'pending';
