-- Parley schema, version 2: social and ephemeral streams.

-- High-water marks of streams whose rows get deleted (to-device), so a
-- restart never hands out a position a client has already acknowledged.
CREATE TABLE stream_positions (
    stream TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);

-- Transaction IDs of /sendToDevice, for idempotent retries (per device).
CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);

CREATE INDEX device_list_changes_user ON device_list_changes (user_id, stream_id);
CREATE INDEX receipts_user ON receipts (user_id, room_id);
