DROP TABLE hookgate_keyring;
