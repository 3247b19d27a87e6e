"""media: uploads, downloads, thumbnails, the remote media cache, URL previews."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.media.repository import MediaService
from homeserver.services.media.url_preview import UrlPreviewService


def wire(c: Container) -> None:
    c.media = MediaService(c)
    c.lifecycle.add("media", start=c.media.start, stop=c.media.stop)
    c.url_previews = UrlPreviewService(c)
