"""Voice rooms: the in-process media focus (WebRTC via aiortc, server-side mixing)."""
