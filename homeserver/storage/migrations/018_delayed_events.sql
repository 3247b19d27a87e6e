-- MSC4140 delayed events: events a client scheduled to be sent after a delay unless it
-- restarts or cancels them (Element Call's "leave the call if I vanish"). A row lives
-- until the event is sent or cancelled; send_ts = last (re)start + delay_ms, so a restart
-- postpones it and a restart of the server fires whatever came due while it was down.
CREATE TABLE delayed_events (
    delay_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT,
    room_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- NULL for a message event, the state key (possibly "") for a state event.
    state_key TEXT,
    content TEXT NOT NULL,
    delay_ms INTEGER NOT NULL,
    send_ts INTEGER NOT NULL
);
CREATE INDEX delayed_events_send_ts ON delayed_events (send_ts);
CREATE INDEX delayed_events_user ON delayed_events (user_id);
CREATE INDEX delayed_events_state ON delayed_events (room_id, event_type, state_key);
