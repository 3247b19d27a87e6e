"""sync: /sync and the sources that contribute to it."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.sync.bump_stamps import BumpStamps
from homeserver.services.sync.filters import SyncFilterService
from homeserver.services.sync.sliding_extensions import ExtensionSources, SlidingSyncExtensions
from homeserver.services.sync.sliding_sync import SlidingSyncService
from homeserver.services.sync.sync import SyncService
from homeserver.storage.room_history import RoomHistoryStore


def wire(c: Container) -> None:
    c.sync_filters = SyncFilterService(c.filters)
    c.sync = SyncService(
        events=c.events,
        event_store=c.event_store,
        room_history=RoomHistoryStore(c.db),
        notifier=c.notifier,
        clock=c.clock,
        out_of_band=c.out_of_band,
        history_visibility=c.history_visibility,
        relations=c.relations,
    )
    for source in (c.account_data, c.receipts, c.notifications.unread_counts, c.typing, c.presence,
                   c.to_device, c.device_lists, c.push_settings):
        c.sync.add_source(source)
    # Events from users in m.ignored_user_list stay out of the ignorer's sync.
    c.sync.hidden_senders = c.account_data.ignored_users
    c.e2e_keys.use_current_token(c.sync.current_token)

    # Simplified sliding sync (MSC4186): the same timelines and sources, other shapes.
    bump_stamps = BumpStamps(c.event_store)
    c.events.add_persist_listener(bump_stamps.on_event_persisted)
    c.sliding_sync = SlidingSyncService(
        sync=c.sync,
        events=c.events,
        notifier=c.notifier,
        clock=c.clock,
        out_of_band=c.out_of_band,
        account_data=c.account_data,
        unread_counts=c.notifications.counter.counts,
        bump_stamps=bump_stamps,
        extensions=SlidingSyncExtensions(ExtensionSources(
            to_device=c.to_device,
            device_lists=c.device_lists,
            account_data=c.account_data,
            push_rules=c.push_settings,
            receipts=c.receipts,
            typing=c.typing,
        )),
    )
