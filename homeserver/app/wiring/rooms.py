"""rooms: creation, membership, aliases, upgrades, restricted joins."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.rooms.directory import RoomDirectoryService
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.rooms.upgrades import RoomUpgradeService


def wire(c: Container) -> None:
    c.rooms = RoomService(c)
    c.room_upgrades = RoomUpgradeService(c)

    # --- api engineer: alias and directory-visibility reads ----------------------------
    c.room_directory = RoomDirectoryService(
        c.room_store, c.events, c.federated_membership, c.server_name, c.is_mine
    )
