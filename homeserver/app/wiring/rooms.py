"""rooms: creation, membership, aliases, upgrades, restricted joins."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.rooms.upgrades import RoomUpgradeService


def wire(c: Container) -> None:
    c.rooms = RoomService(c)
    c.room_upgrades = RoomUpgradeService(c)
    # Registered here on branch readinge2ee (its tests need it); the same line as the
    # "after merge:" one of branch top: keep one.
    c.spaces.use_room_resolver(c.rooms.resolve_room)
