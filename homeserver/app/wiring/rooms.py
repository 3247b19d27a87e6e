"""rooms: creation, membership, aliases, upgrades, restricted joins."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.rooms.carry_over import SettingsCarryOver
from homeserver.services.rooms.delayed_events import DelayedEventService
from homeserver.services.rooms.directory import RoomDirectoryService
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.rooms.upgrades import RoomUpgradeService
from homeserver.storage.delayed_events import DelayedEventStore


def wire(c: Container) -> None:
    carry_over = SettingsCarryOver(c.events, c.push_settings, c.account_data)
    c.rooms = RoomService(
        events=c.events,
        store=c.room_store,
        account_store=c.account_store,
        federated_membership=c.federated_membership,
        out_of_band=c.out_of_band,
        carry_over=carry_over,
        server_name=c.server_name,
        is_mine=c.is_mine,
        default_room_version=c.config.default_room_version,
        join_policy=c.join_policy,
    )
    c.room_upgrades = RoomUpgradeService(
        events=c.events,
        room_store=c.room_store,
        rooms=c.rooms,
        push_settings=c.push_settings,
        carry_over=carry_over,
        server_name=c.server_name,
        is_mine=c.is_mine,
    )
    c.profile.add_change_listener(c.rooms.update_profile_in_rooms)
    c.spaces.use_room_resolver(c.rooms.resolve_room)
    c.room_directory = RoomDirectoryService(
        c.room_store, c.events, c.federated_membership, c.server_name, c.is_mine
    )
    c.delayed_event_store = DelayedEventStore(c.db)
    c.delayed_events = DelayedEventService(
        c.delayed_event_store, c.events, c.rooms, c.clock, c.config.max_event_delay_duration
    )
    c.events.add_persist_listener(c.delayed_events.on_persisted)
    c.lifecycle.add("delayed_events", start=c.delayed_events.start, stop=c.delayed_events.stop)
