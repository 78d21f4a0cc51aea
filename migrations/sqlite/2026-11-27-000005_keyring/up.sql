-- The data key that seals secrets at rest, itself sealed ("wrapped") under
-- the master key, which is never stored here. One row, id 'data'.
CREATE TABLE hookgate_keyring (
    id TEXT PRIMARY KEY NOT NULL,
    wrapped_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    rewrapped_at TIMESTAMP
);
