-- spec: client-server-api, "Refreshing access tokens". Only SHA-256 hashes are stored.
-- An access token issued with a refresh token expires (expires_ts, ms) and names that
-- refresh token; a refresh token that was used names its successor (replaced_by) and
-- stays valid until the successor's access token is first used.
ALTER TABLE access_tokens ADD COLUMN expires_ts INTEGER;
ALTER TABLE access_tokens ADD COLUMN refresh_token_hash BLOB;
CREATE INDEX access_tokens_refresh ON access_tokens (refresh_token_hash)
    WHERE refresh_token_hash IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    replaced_by BLOB
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id, device_id);
CREATE INDEX refresh_tokens_replaced_by ON refresh_tokens (replaced_by) WHERE replaced_by IS NOT NULL;
