"""graph: the event pipeline, the notifier and history visibility."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.graph.events import EventService
from homeserver.services.graph.history_visibility import HistoryVisibilityService
from homeserver.services.graph.join_policy import JoinPolicy
from homeserver.services.graph.notifier import Notifier
from homeserver.storage.room_history import RoomHistoryStore


def wire(c: Container) -> None:
    c.notifier = Notifier()
    c.events = EventService(
        c.event_store, c.state_store, c.room_store, c.notifier, c.clock, c.server_name, c.signing_key
    )
    c.lifecycle.add("events", start=c.events.load)
    c.history_visibility = HistoryVisibilityService(RoomHistoryStore(c.db))
    c.events.add_persist_listener(c.history_visibility.on_persisted)
    c.join_policy = JoinPolicy()
