-- The highest stream position of a local event whose outbound queue rows are committed.
-- An event committed after it (a crash between the event's commit and its queue rows)
-- is queued again at start-up (federation/sender.py, catch_up).
CREATE TABLE federation_pdu_watermark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stream_ordering INTEGER NOT NULL
);
