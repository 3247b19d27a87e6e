"""Voice: WebRTC audio with aiortc — 1:1 calls and voice rooms (through a homeserver's focus)."""
