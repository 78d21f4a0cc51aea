ALTER TABLE agent_routes DROP COLUMN missing_task_key;
