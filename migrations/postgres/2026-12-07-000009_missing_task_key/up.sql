-- A route's policy for a call its task_key cannot be rendered for:
-- NULL or 'reject' (422), 'ignore' (200 ignored, never delivered).
ALTER TABLE agent_routes ADD COLUMN missing_task_key TEXT;
