-- Parley schema, version 15: notifications stored as one row per event.
--
-- event_push_actions held one row per (notified user, event): at 1,000 members that was
-- ~1,000 rows in four B-trees keyed by long text per message (~25-30 ms of the single
-- writer). Now each notifying event is one row. Members whose rules matched the same way
-- form a group: `actions` is the JSON list of the groups' actions, `notified` the JSON list
-- of the groups' user IDs in the same order ([[user_id, ...], ...]), and `highlighted` the
-- highlighted users (usually []). Both hold only user IDs, so instr() of a quoted user ID
-- finds that user's rows in SQL. `thread_id` is the thread the event is in, else 'main'
-- (spec: client-server-api, "Threaded read receipts").
CREATE TABLE event_notifications (
    stream_ordering INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    actions TEXT NOT NULL,
    notified TEXT NOT NULL,
    highlighted TEXT NOT NULL
);
CREATE INDEX event_notifications_room ON event_notifications (room_id, stream_ordering);
CREATE INDEX event_notifications_event ON event_notifications (event_id);

INSERT OR IGNORE INTO event_notifications
    (stream_ordering, room_id, event_id, sender, thread_id, ts, actions, notified, highlighted)
SELECT g.stream_ordering, g.room_id, g.event_id, g.sender,
       COALESCE((SELECT r.relates_to_id FROM event_relations r
                 WHERE r.event_id = g.event_id AND r.rel_type = 'm.thread'), 'main'),
       MAX(g.ts), json_group_array(json(g.actions)), json_group_array(json(g.users)),
       COALESCE((SELECT json_group_array(h.user_id) FROM event_push_actions h
                 WHERE h.stream_ordering = g.stream_ordering AND h.highlight = 1), '[]')
FROM (
    SELECT stream_ordering, room_id, event_id, sender, MAX(ts) AS ts, actions,
           json_group_array(user_id) AS users
    FROM event_push_actions
    GROUP BY stream_ordering, room_id, event_id, sender, actions, highlight
) AS g
GROUP BY g.stream_ordering;

DROP TABLE event_push_actions;
