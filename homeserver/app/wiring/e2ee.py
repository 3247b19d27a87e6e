"""e2ee: device lists, device/one-time/cross-signing keys, key backup."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.keys import E2EKeyService
from homeserver.storage.device_lists import DeviceListStore
from homeserver.storage.e2e_keys import E2EKeyStore
from homeserver.storage.key_backup import KeyBackupStore


def wire(c: Container) -> None:
    c.device_list_store = DeviceListStore(c.db)
    c.device_lists = DeviceListService(c, c.device_list_store)
    c.lifecycle.add("device_lists", start=c.device_lists.load)
    c.e2e_key_store = E2EKeyStore(c.db)
    c.e2e_keys = E2EKeyService(c, c.e2e_key_store)
    c.cross_signing = CrossSigningService(c, c.e2e_key_store)
    c.key_backup = KeyBackupService(c, KeyBackupStore(c.db))
