"""push: push rules and pushers, per-event notifications and the unread counts they feed."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.push.notifications import NotificationService
from homeserver.services.push.settings import PushSettingsService
from homeserver.storage.push import PushStore


def wire(c: Container) -> None:
    push_store = PushStore(c.db)
    c.push_settings = PushSettingsService(
        push_store, c.account_data, c.account_data_store, c.account_store, c.clock
    )
    c.lifecycle.add("push_settings", start=c.push_settings.load)
    c.notifications = NotificationService(
        push_store, c.push_settings, c.account_data, c.receipts, c.events, c.event_store, c.clock, c.is_mine
    )
    c.lifecycle.add("notifications", stop=c.notifications.stop)
    c.events.add_persist_listener(c.notifications.on_event_persisted)
    # A local user's own receipt moves their unread counts.
    c.receipts.add_own_receipt_listener(c.notifications.counter.receipt_moved)
