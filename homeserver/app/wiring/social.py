"""social: account data, typing, receipts, presence, to-device, profiles, user directory."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.social.account_data import AccountDataService
from homeserver.services.social.presence import PresenceService
from homeserver.services.social.profile import ProfileService
from homeserver.services.social.receipts import ReceiptService
from homeserver.services.social.to_device import ToDeviceService
from homeserver.services.social.typing import TypingService
from homeserver.services.social.user_directory import UserDirectoryService
from homeserver.storage.account_data import AccountDataStore
from homeserver.storage.presence import PresenceStore
from homeserver.storage.receipts import ReceiptStore
from homeserver.storage.to_device import ToDeviceStore
from homeserver.storage.user_directory import UserDirectoryStore


def wire(c: Container) -> None:
    c.account_data_store = AccountDataStore(c.db)
    c.receipt_store = ReceiptStore(c.db)
    c.presence_store = PresenceStore(c.db)
    c.to_device_store = ToDeviceStore(c.db)
    c.account_data = AccountDataService(c.account_data_store, c.notifier)
    c.lifecycle.add("account_data", start=c.account_data.load)
    c.receipts = ReceiptService(c.receipt_store, c.events, c.account_data, c.notifier, c.clock, c.is_mine)
    c.lifecycle.add("receipts", start=c.receipts.load)
    c.typing = TypingService(c.events, c.notifier)
    c.lifecycle.add("typing", stop=c.typing.stop)
    c.presence = PresenceService(c.presence_store, c.account_store, c.events, c.notifier, c.clock, c.is_mine)
    c.lifecycle.add("presence", start=c.presence.load, stop=c.presence.stop)
    c.to_device = ToDeviceService(c.to_device_store, c.account_store, c.notifier, c.clock, c.is_mine)
    c.lifecycle.add("to_device", start=c.to_device.load)
    c.profile = ProfileService(c.account_store, c.is_mine, c.federated_membership.query_profile)
    c.user_directory = UserDirectoryService(UserDirectoryStore(c.db), c.config.user_directory)
