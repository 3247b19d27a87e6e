-- spec: application-service-api.md, "Pushing events". What is owed to each application
-- service waits here until the service answers 200: room events, ephemeral events and
-- to-device messages in the order they happened. A transaction is the service's rows up
-- to last_seq; it is recorded before it is sent so that a retry, even after a restart,
-- carries the same txn_id and the same events.
CREATE TABLE appservice_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    as_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    json BLOB NOT NULL
);
CREATE INDEX appservice_queue_by_service ON appservice_queue (as_id, seq);
CREATE TABLE appservice_transactions (
    as_id TEXT PRIMARY KEY,
    txn_id INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);
