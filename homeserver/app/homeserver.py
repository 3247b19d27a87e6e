"""``Homeserver``: the container built area by area, in layer order."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.app.wiring import (
    accounts,
    admin,
    appservices,
    e2ee,
    edus,
    federation,
    graph,
    media,
    push,
    reading,
    rooms,
    social,
    storage,
    sync,
    transport,
    voice,
)
from homeserver.clock import Clock
from homeserver.config import Config

# Lower layers first: a service is built after everything it is handed.
WIRING_ORDER = (storage, graph, transport, federation, social, reading, push, e2ee, edus, media, rooms,
                sync, accounts, appservices, voice, admin)


class Homeserver(Container):
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        super().__init__(config, clock)
        for area in WIRING_ORDER:
            area.wire(self)
        # Registered last so that it stops first: long-polls return before anything closes.
        self.lifecycle.add("notifier", stop=self.notifier.shutdown)
