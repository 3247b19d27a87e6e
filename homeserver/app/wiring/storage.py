"""Repositories shared by several areas (an area's own stores are built in its module)."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.storage.accounts import AccountStore
from homeserver.storage.events import EventStore
from homeserver.storage.filters import FilterStore
from homeserver.storage.rooms import RoomStore
from homeserver.storage.state import StateStore


def wire(c: Container) -> None:
    c.lifecycle.add("database", start=c.db.open, stop=c.db.close)
    c.account_store = AccountStore(c.db)
    c.event_store = EventStore(c.db)
    c.state_store = StateStore(c.db)
    c.room_store = RoomStore(c.db)
    c.filters = FilterStore(c.db)
