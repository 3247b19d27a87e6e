"""graph: the event pipeline, the notifier and history visibility."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.graph.events import EventService
from homeserver.services.graph.history_visibility import HistoryVisibilityService
from homeserver.services.graph.notifier import Notifier


def wire(c: Container) -> None:
    c.notifier = Notifier()
    c.events = EventService(c)
    c.lifecycle.add("events", start=c.events.load)
    c.history_visibility = HistoryVisibilityService(c)
