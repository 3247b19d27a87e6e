"""voice: the media focus of rooms' voice channels (docs/voice.md)."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.voice.focus import VoiceFocus
from homeserver.services.voice.openid import FederatedOpenIdVerifier


def wire(c: Container) -> None:
    verify = FederatedOpenIdVerifier(c.federation_client)
    c.voice = VoiceFocus(c.events, verify, c.clock, c.is_mine)
    c.lifecycle.add("voice", start=c.voice.start, stop=c.voice.stop)
