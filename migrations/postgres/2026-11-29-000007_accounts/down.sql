DROP INDEX agents_account;
ALTER TABLE agents DROP COLUMN account_id;
DROP TABLE account_api_keys;
DROP TABLE accounts;
