-- spec: client-server-api, "OpenID" (POST /user/{userId}/openid/request_token) and
-- server-server-api, "OpenID" (GET /openid/userinfo). Only SHA-256 hashes of the tokens
-- are stored; a token is good until expires_ts (ms) and expired rows are swept on issue.
CREATE TABLE openid_tokens (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_ts INTEGER NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);
