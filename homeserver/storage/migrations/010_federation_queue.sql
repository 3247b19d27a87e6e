-- Federation: durable outbound queues and inbound transaction results.
-- spec: server-server-api.md, "Transactions".

-- What is still to be sent to each destination, in the order it was queued.
-- A PDU row names the event (its PDU is read from `events` when sent); an EDU
-- row holds {"edu_type", "content"}. `edu_key` names EDUs that a newer one of
-- the same key replaces (a user's presence, a user's typing in a room), so a
-- long outage does not pile them up. Rows are deleted once the destination
-- answered the transaction carrying them with 200.
CREATE TABLE federation_outbound_queue (
    queue_id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    event_id TEXT,
    edu_json TEXT,
    edu_key TEXT,
    created_ts INTEGER NOT NULL,
    CHECK ((event_id IS NULL) <> (edu_json IS NULL))
);
CREATE INDEX federation_outbound_queue_destination
    ON federation_outbound_queue (destination, queue_id);
CREATE INDEX federation_outbound_queue_edu_key
    ON federation_outbound_queue (destination, edu_key) WHERE edu_key IS NOT NULL;

-- The answer given to each (origin, txnId), so a retried transaction gets the
-- same answer without being processed again.
CREATE TABLE federation_inbound_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response_json TEXT NOT NULL,
    received_ts INTEGER NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
CREATE INDEX federation_inbound_txns_received ON federation_inbound_txns (received_ts);

-- Devices of local users as last announced over federation with
-- m.device_list_update (spec: server-server-api.md, "Device Management"), so a
-- change can be described per device: added, changed (name or keys) or deleted.
-- `fingerprint` is a hash of what was announced (display name and keys).
CREATE TABLE federation_announced_devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE federation_device_list_streams (
    user_id TEXT PRIMARY KEY,
    last_stream_id INTEGER NOT NULL
);
