-- Parley schema, version 4: the media repository.
-- Files live on disk named by their SHA-256 (one file per distinct content);
-- a file is deleted only when no row below references its hash.

-- Media uploaded to this server. sha256 IS NULL while an ID from
-- POST /_matrix/media/v1/create waits for its upload (until unused_expires_at).
CREATE TABLE local_media (
    media_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    content_type TEXT,
    upload_name TEXT,
    size INTEGER,
    sha256 TEXT,
    created_ts INTEGER NOT NULL,
    last_access_ts INTEGER NOT NULL,
    unused_expires_at INTEGER
);
CREATE INDEX local_media_user ON local_media (user_id);
CREATE INDEX local_media_sha256 ON local_media (sha256);
CREATE INDEX local_media_last_access ON local_media (last_access_ts);

-- Media of other servers, fetched over federation and cached here.
CREATE TABLE remote_media_cache (
    origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    content_type TEXT,
    upload_name TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    last_access_ts INTEGER NOT NULL,
    PRIMARY KEY (origin, media_id)
);
CREATE INDEX remote_media_sha256 ON remote_media_cache (sha256);
CREATE INDEX remote_media_last_access ON remote_media_cache (last_access_ts);

-- Thumbnails, keyed by the content they were made from (same bytes, same thumbnails).
CREATE TABLE media_thumbnails (
    source_sha256 TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    method TEXT NOT NULL,
    animated INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (source_sha256, width, height, method, animated)
);
CREATE INDEX media_thumbnails_sha256 ON media_thumbnails (sha256);
