"""e2ee: device lists, device/one-time/cross-signing keys, key backup."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.key_counts import SyncKeyCounts
from homeserver.services.e2ee.keys import E2EKeyService
from homeserver.storage.device_lists import DeviceListStore
from homeserver.storage.e2e_keys import E2EKeyStore
from homeserver.storage.key_backup import KeyBackupStore


def wire(c: Container) -> None:
    c.device_list_store = DeviceListStore(c.db)
    c.e2e_key_store = E2EKeyStore(c.db)
    key_counts = SyncKeyCounts(c.e2e_key_store)
    c.device_lists = DeviceListService(c.device_list_store, key_counts, c.events, c.event_store, c.notifier)
    c.lifecycle.add("device_lists", start=c.device_lists.load)
    c.cross_signing = CrossSigningService(c.e2e_key_store, c.device_lists, c.account_store, c.is_mine)
    c.e2e_keys = E2EKeyService(
        c.e2e_key_store, key_counts, c.device_lists, c.cross_signing, c.account_store, c.events,
        c.federation_client, c.config.federation, c.is_mine,
    )
    c.key_backup = KeyBackupService(KeyBackupStore(c.db))
