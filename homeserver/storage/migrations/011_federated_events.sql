-- Events received over federation.
-- soft_failed: accepted into the graph but failed auth against the room's current
-- state (spec: server-server-api.md, "Soft failure"); kept as an outlier so that it
-- never reaches clients and is never used as a prev_event of our own events.
ALTER TABLE events ADD COLUMN soft_failed INTEGER NOT NULL DEFAULT 0;
-- Serving /backfill and /get_missing_events walks the graph by depth.
CREATE INDEX IF NOT EXISTS events_room_outlier_stream ON events (room_id, outlier, stream_ordering);
