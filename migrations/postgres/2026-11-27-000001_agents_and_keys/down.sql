DROP TABLE agent_api_keys;
DROP TABLE agents;
