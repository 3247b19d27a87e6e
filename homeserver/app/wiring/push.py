"""push: push rules and pushers, per-event notifications and the unread counts they feed."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.push.notifications import NotificationService
from homeserver.services.push.settings import PushSettingsService
from homeserver.storage.push import PushStore


def wire(c: Container) -> None:
    push_store = PushStore(c.db)
    c.push_settings = PushSettingsService(c, push_store)
    c.lifecycle.add("push_settings", start=c.push_settings.load)
    c.notifications = NotificationService(c, push_store)
    c.lifecycle.add("notifications", stop=c.notifications.stop)
    c.events.add_persist_listener(c.notifications.on_event_persisted)
