-- Full-text index over the searchable keys of room events (spec: modules/search.md).
-- rowid = events.stream_ordering; one row per event; `key` is the searched key.
CREATE VIRTUAL TABLE event_search USING fts5(
    value,
    key UNINDEXED,
    room_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO event_search (rowid, value, key, room_id)
SELECT stream_ordering, json_extract(json, '$.content.body'), 'content.body', room_id
FROM events
WHERE type = 'm.room.message' AND outlier = 0 AND rejected IS NULL AND redacted_by IS NULL
  AND json_type(json, '$.content.body') = 'text';

INSERT INTO event_search (rowid, value, key, room_id)
SELECT stream_ordering, json_extract(json, '$.content.name'), 'content.name', room_id
FROM events
WHERE type = 'm.room.name' AND state_key = '' AND outlier = 0 AND rejected IS NULL
  AND redacted_by IS NULL AND json_type(json, '$.content.name') = 'text';

INSERT INTO event_search (rowid, value, key, room_id)
SELECT stream_ordering, json_extract(json, '$.content.topic'), 'content.topic', room_id
FROM events
WHERE type = 'm.room.topic' AND state_key = '' AND outlier = 0 AND rejected IS NULL
  AND redacted_by IS NULL AND json_type(json, '$.content.topic') = 'text';

-- History visibility reads the changes of one state key in a room.
CREATE INDEX IF NOT EXISTS events_room_state_key ON events (room_id, type, state_key, stream_ordering);
