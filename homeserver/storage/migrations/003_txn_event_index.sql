-- Look up the transaction ID of an event (unsigned.transaction_id for the sender's device).
CREATE INDEX event_txn_ids_event ON event_txn_ids (event_id);
