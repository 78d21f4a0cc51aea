DROP INDEX deliveries_pending_heads;
DROP INDEX deliveries_pending_due;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
