-- Memberships of local users in rooms this server is not in: invites received over
-- federation, knocks sent through a resident server, and the leaves that reject or
-- retract them (spec: server-server-api.md, "Inviting to a room", "Knocking upon a
-- room", "Leaving Rooms (Rejecting Invites)"). The room's graph is not held here, so
-- the event is kept whole with the stripped state that /sync shows beside it.
CREATE TABLE out_of_band_memberships (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    room_version TEXT NOT NULL,
    -- the server that sent (invite) or relayed (knock, leave) the event
    origin TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    json TEXT NOT NULL,
    stripped_state TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
