-- Parley schema, version 5: push rules, notifications (push actions) and pushers.

-- One document per user who changed their push rules: their own rules and their
-- changes to the server defaults (services/push_ruleset.py, UserPushRules).
CREATE TABLE push_rules_by_user (
    user_id TEXT PRIMARY KEY,
    rules TEXT NOT NULL
);

-- One row per (user, event) that notified the user: /notifications and the unread
-- counts in /sync (events after the user's read receipt).
CREATE TABLE event_push_actions (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    actions TEXT NOT NULL,
    highlight INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, stream_ordering)
);
CREATE INDEX event_push_actions_room ON event_push_actions (user_id, room_id, stream_ordering);
CREATE INDEX event_push_actions_event ON event_push_actions (event_id);

CREATE TABLE pushers (
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    pushkey TEXT NOT NULL,
    kind TEXT NOT NULL,
    app_display_name TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag TEXT,
    lang TEXT NOT NULL,
    data TEXT NOT NULL,
    -- The device (access token) that set the pusher: the pusher goes with it.
    device_id TEXT,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (app_id, pushkey, user_id)
);
CREATE INDEX pushers_user ON pushers (user_id);
