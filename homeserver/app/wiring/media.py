"""media: uploads, downloads, thumbnails, the remote media cache, URL previews."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.media.files import MediaFiles
from homeserver.services.media.remote import RemoteMediaFetcher, max_remote_bytes
from homeserver.services.media.repository import MediaService
from homeserver.services.media.url_preview import UrlPreviewService
from homeserver.storage.media import MediaStore


def wire(c: Container) -> None:
    cfg = c.config
    store = MediaStore(c.db)
    files = MediaFiles(cfg.resolve(cfg.media.store_path))
    remote = RemoteMediaFetcher(
        store, files, max_remote_bytes(cfg.media, cfg.limits), c.federation_client, cfg.federation, c.clock
    )
    c.media = MediaService(cfg.media, cfg.limits, store, files, remote, c.clock, c.server_name)
    c.lifecycle.add("media", start=c.media.start, stop=c.media.stop)
    c.url_previews = UrlPreviewService(cfg.media, c.media)
