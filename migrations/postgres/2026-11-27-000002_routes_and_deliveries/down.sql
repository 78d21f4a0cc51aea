DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE agent_tasks;
DROP TABLE agent_routes;
