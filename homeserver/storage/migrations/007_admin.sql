-- Moderation and server administration (admin API, parleyd admin).
-- users.is_admin already exists (001_initial.sql).

-- Registration tokens created through the admin API; used alongside the
-- tokens listed in the config (registration.tokens).
CREATE TABLE registration_tokens (
    token TEXT PRIMARY KEY,
    uses_allowed INTEGER,
    completed INTEGER NOT NULL DEFAULT 0,
    expiry_time INTEGER
);

-- spec: client-server-api "Reporting content": events, rooms and users.
CREATE TABLE content_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ts INTEGER NOT NULL,
    reporter TEXT NOT NULL,
    room_id TEXT,
    event_id TEXT,
    reported_user_id TEXT,
    reason TEXT,
    score INTEGER
);
CREATE INDEX content_reports_room ON content_reports (room_id);

-- Rooms local users may no longer join (admin block / delete).
CREATE TABLE blocked_rooms (
    room_id TEXT PRIMARY KEY,
    blocked_by TEXT NOT NULL,
    blocked_ts INTEGER NOT NULL
);

CREATE TABLE ip_bans (
    address TEXT PRIMARY KEY,
    reason TEXT,
    created_ts INTEGER NOT NULL
);

-- Temporary kicks: a room ban that the server lifts at expires_ts.
CREATE TABLE temporary_bans (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    banned_by TEXT NOT NULL,
    reason TEXT,
    expires_ts INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX temporary_bans_expiry ON temporary_bans (expires_ts);

-- spec: "Server Notices": exactly one server notices room per user.
CREATE TABLE server_notice_rooms (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL
);
