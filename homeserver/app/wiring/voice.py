"""voice: the media focus of rooms' voice channels (docs/voice.md).

Wired after accounts: the focus is handed the OpenID verifier built there (tokens of this
server checked in its own table, others at their server's /openid/userinfo).
"""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.voice.focus import VoiceFocus


def wire(c: Container) -> None:
    c.voice = VoiceFocus(c.events, c.openid_verifier.verify_token_object, c.clock, c.is_mine)
    c.lifecycle.add("voice", start=c.voice.start, stop=c.voice.stop)
