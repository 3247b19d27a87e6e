-- Server signing keys (spec: server-server-api.md, "Retrieving server keys").

-- Verify keys of other servers, from self-signed /_matrix/key/v2/server responses
-- (fetched directly or through a notary). Keys from old_verify_keys carry expired_ts.
CREATE TABLE server_verify_keys (
    server_name    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    verify_key     TEXT NOT NULL,      -- unpadded base64 Ed25519 public key
    valid_until_ts INTEGER NOT NULL,   -- the response's valid_until_ts
    expired_ts     INTEGER,            -- set for keys listed in old_verify_keys
    fetched_ts     INTEGER NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

-- The signed responses themselves, served again when we answer /_matrix/key/v2/query.
CREATE TABLE server_key_responses (
    server_name    TEXT NOT NULL,
    key_id         TEXT NOT NULL,      -- one row per key ID the response lists
    valid_until_ts INTEGER NOT NULL,
    response_json  TEXT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

-- Our own signing keys over time: a replaced key is published in old_verify_keys.
CREATE TABLE own_signing_keys (
    key_id        TEXT PRIMARY KEY,
    verify_key    TEXT NOT NULL,
    first_used_ts INTEGER NOT NULL,
    expired_ts    INTEGER             -- NULL while it is the current key
);
