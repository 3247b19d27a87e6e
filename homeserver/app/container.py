"""The Homeserver object: builds every store and service once and wires them.

Nothing is a module-level global; tests build the same object on a temporary
directory. ``start`` opens storage and loads caches; ``stop`` cancels
background tasks and finishes in-flight writes.
"""

from __future__ import annotations

import asyncio
import logging

from federation.crypto.signing import SigningKey, read_signing_key_file
from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.storage.database import Database

logger = logging.getLogger(__name__)


class Homeserver:
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.server_name = config.server_name
        self.clock = clock or Clock()
        self.db = Database(config.resolve(config.database_path))
        self.signing_key: SigningKey = read_signing_key_file(config.resolve(config.signing_key_path))
        self._started = False

    async def start(self) -> None:
        await self.db.open()
        self._build()
        await self.events.load()
        await self.out_of_band.load()
        await self.relations.load()
        await self.threads.load()
        await self.keyring.load()
        for social in (self.account_data, self.receipts, self.to_device, self.device_lists, self.presence):
            await social.load()
        await self.push_settings.load()
        await self.federation_sender.start()
        self.federation_edus.start()
        await self.media.start()
        await self._start_admin()
        self._started = True
        logger.info("homeserver %s started", self.server_name)

    def _build(self) -> None:
        # Imports are local so that building the object is the only wiring point.
        from homeserver.services.accounts.accounts import AccountService
        from homeserver.services.accounts.auth import AuthService
        from homeserver.services.accounts.passwords import PasswordHasher
        from homeserver.services.graph.events import EventService
        from homeserver.services.graph.notifier import Notifier
        from homeserver.services.reading.jump_to_date import JumpToDateService
        from homeserver.services.reading.relations import RelationsService
        from homeserver.services.reading.threads import ThreadService
        from homeserver.services.rooms.rooms import RoomService
        from homeserver.services.rooms.upgrades import RoomUpgradeService
        from homeserver.services.sync.sync import SyncService
        from homeserver.storage.accounts import AccountStore
        from homeserver.storage.events import EventStore
        from homeserver.storage.filters import FilterStore
        from homeserver.storage.rooms import RoomStore
        from homeserver.storage.state import StateStore

        cfg = self.config
        # storage
        self.account_store = AccountStore(self.db)
        self.event_store = EventStore(self.db)
        self.state_store = StateStore(self.db)
        self.room_store = RoomStore(self.db)
        self.filters = FilterStore(self.db)
        # services
        self.notifier = Notifier()
        self.passwords = PasswordHasher(
            cfg.password_hashing.opslimit, cfg.password_hashing.memlimit_kib * 1024
        )
        self.auth = AuthService(
            self.account_store, self.clock, cfg.registration.access_token_lifetime_ms
        )
        self.events = EventService(self)
        self.relations = RelationsService(self)
        self.threads = ThreadService(self)
        self.jump_to_date = JumpToDateService(self)
        self.rooms = RoomService(self)
        self.room_upgrades = RoomUpgradeService(self)
        self.accounts = AccountService(self)
        self.sync = SyncService(self)
        self._build_social()
        self._build_federation_transport()
        self._build_federated_events()
        self._build_e2e()
        self._build_reading()
        self._build_admin()
        self._build_federation_queues()
        self._build_federated_membership()
        self._build_media()

    def _build_federation_transport(self) -> None:
        """Outbound signed federation client, server key storage and the key ring."""
        from federation.keys import KeyRing
        from federation.transport.client import FederationClient
        from homeserver.storage.server_keys import ServerKeyStore

        self.federation_client = FederationClient(self.server_name, self.signing_key, self.config.federation)
        self.server_key_store = ServerKeyStore(self.db)
        self.keyring = KeyRing(self)

    def _build_federated_events(self) -> None:
        """Remote events into room graphs: checks, gaps, state resolution, backfill."""
        from homeserver.services.federation.events import FederatedEventHandler

        self.federation_events = FederatedEventHandler(self)

    def _build_media(self) -> None:
        """The media repository: uploads, downloads, thumbnails, remote media cache, retention."""
        from homeserver.services.media.repository import MediaService
        from homeserver.services.media.url_preview import UrlPreviewService

        self.media = MediaService(self)
        self.url_previews = UrlPreviewService(self)

    def _build_federated_membership(self) -> None:
        """Joins, leaves, knocks and invites across servers; directory and profile queries."""
        from homeserver.services.federation.membership import FederatedMembershipService
        from homeserver.services.federation.out_of_band import OutOfBandMembershipService
        from homeserver.services.federation.resident_membership import ResidentMembershipService

        self.out_of_band = OutOfBandMembershipService(self)
        self.resident_membership = ResidentMembershipService(self)
        self.federated_membership = FederatedMembershipService(self)

    def _build_federation_queues(self) -> None:
        """Outbound transaction queues, inbound /send and EDUs (federation/sender.py, edus.py)."""
        from federation.sender import FederationSender
        from homeserver.services.federation.edus import FederationEdus
        from homeserver.services.federation.receiver import TransactionReceiver
        from homeserver.storage.federation_queue import FederationQueueStore

        self.federation_queue_store = FederationQueueStore(self.db)
        self.federation_sender = FederationSender(self, self.federation_queue_store)
        self.federation_edus = FederationEdus(self, self.federation_sender)
        self.federation_edus.register()
        self.federation_receiver = TransactionReceiver(self, self.federation_queue_store, self.federation_edus)

    def _build_social(self) -> None:
        """Ephemeral and per-user streams: typing, receipts, presence, account data, to-device."""
        from homeserver.services.e2ee.device_lists import DeviceListService
        from homeserver.services.social.account_data import AccountDataService
        from homeserver.services.social.presence import PresenceService
        from homeserver.services.social.profile import ProfileService
        from homeserver.services.social.receipts import ReceiptService
        from homeserver.services.social.to_device import ToDeviceService
        from homeserver.services.social.typing import TypingService
        from homeserver.services.social.user_directory import UserDirectoryService
        from homeserver.storage.account_data import AccountDataStore
        from homeserver.storage.device_lists import DeviceListStore
        from homeserver.storage.presence import PresenceStore
        from homeserver.storage.receipts import ReceiptStore
        from homeserver.storage.to_device import ToDeviceStore
        from homeserver.storage.user_directory import UserDirectoryStore

        self.account_data_store = AccountDataStore(self.db)
        self.receipt_store = ReceiptStore(self.db)
        self.presence_store = PresenceStore(self.db)
        self.to_device_store = ToDeviceStore(self.db)
        self.device_list_store = DeviceListStore(self.db)
        self.account_data = AccountDataService(self, self.account_data_store)
        self._build_push()
        self.receipts = ReceiptService(self, self.receipt_store)
        self.typing = TypingService(self)
        self.presence = PresenceService(self, self.presence_store)
        self.to_device = ToDeviceService(self, self.to_device_store)
        self.device_lists = DeviceListService(self, self.device_list_store)
        self.profile = ProfileService(self)
        self.user_directory = UserDirectoryService(self, UserDirectoryStore(self.db))
        for source in (self.account_data, self.receipts, self.typing, self.presence, self.to_device,
                       self.device_lists):
            self.sync.add_source(source)
        # Events from users in m.ignored_user_list stay out of the ignorer's sync.
        self.sync.hidden_senders = self.account_data.ignored_users

    def _build_push(self) -> None:
        """Push rules, pushers, per-event notifications and the unread counts they feed."""
        from homeserver.services.push.notifications import NotificationService
        from homeserver.services.push.settings import PushSettingsService
        from homeserver.storage.push import PushStore

        push_store = PushStore(self.db)
        self.push_settings = PushSettingsService(self, push_store)
        self.notifications = NotificationService(self, push_store)
        self.events.add_persist_listener(self.notifications.on_event_persisted)
        self.sync.add_source(self.push_settings)

    def _build_reading(self) -> None:
        """Who may read which history, full-text search and space hierarchies."""
        from homeserver.services.graph.history_visibility import HistoryVisibilityService
        from homeserver.services.reading.search import SearchService
        from homeserver.services.reading.spaces import SpaceHierarchyService
        from homeserver.storage.search import SearchStore

        self.history_visibility = HistoryVisibilityService(self)
        self.search = SearchService(self, SearchStore(self.db))
        self.spaces = SpaceHierarchyService(self)

    def _build_e2e(self) -> None:
        """End-to-end encryption: device, one-time and cross-signing keys; key backup."""
        from homeserver.services.e2ee.cross_signing import CrossSigningService
        from homeserver.services.e2ee.key_backup import KeyBackupService
        from homeserver.services.e2ee.keys import E2EKeyService
        from homeserver.storage.e2e_keys import E2EKeyStore
        from homeserver.storage.key_backup import KeyBackupStore

        self.e2e_key_store = E2EKeyStore(self.db)
        self.e2e_keys = E2EKeyService(self, self.e2e_key_store)
        self.cross_signing = CrossSigningService(self, self.e2e_key_store)
        self.key_backup = KeyBackupService(self, KeyBackupStore(self.db))

    def _build_admin(self) -> None:
        """Administration and moderation: admin API, IP bans, server notices, default rooms."""
        from homeserver.services.accounts.registration_tokens import RegistrationTokenService
        from homeserver.services.admin.admin import AdminService
        from homeserver.services.admin.default_rooms import DefaultRoomsService
        from homeserver.services.admin.ip_bans import IpBanService
        from homeserver.services.admin.moderation import ModerationService
        from homeserver.services.admin.reports import ContentReportService
        from homeserver.services.admin.server_notices import ServerNoticeService
        from homeserver.services.admin.shared_secret_registration import SharedSecretRegistration
        from homeserver.storage.admin import AdminStore

        self.admin_store = AdminStore(self.db)
        self.admin = AdminService(self, self.admin_store)
        self.moderation = ModerationService(self, self.admin_store)
        self.ip_bans = IpBanService(self, self.admin_store)
        self.registration_tokens = RegistrationTokenService(self, self.admin_store)
        self.server_notices = ServerNoticeService(self, self.admin_store)
        self.shared_secret_registration = SharedSecretRegistration(self)
        self.default_rooms = DefaultRoomsService(self)
        self.reports = ContentReportService(self, self.admin_store)
        from homeserver.services.admin.room_purge import RoomPurgeService
        from homeserver.storage.room_purge import RoomPurgeStore

        self.room_purge = RoomPurgeService(self, RoomPurgeStore(self.db))
        # Set by the runner; POST /_parley/admin/v1/shutdown sets it.
        self.shutdown_requested: asyncio.Event | None = getattr(self, "shutdown_requested", None)

    async def _start_admin(self) -> None:
        await self.ip_bans.load()
        await self.registration_tokens.load()
        await self.server_notices.start()
        await self.moderation.start()
        await self.default_rooms.ensure_created()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.notifier.shutdown()
        await self.room_purge.stop()
        self.typing.stop()
        await self.presence.stop()
        await self.federation_edus.stop()
        await self.federation_receiver.stop()
        await self.federation_sender.stop()
        await self.keyring.stop()
        await self.federation_client.close()
        await self.notifications.stop()
        await self.media.stop()
        await self.moderation.stop()
        await self.db.close()
        logger.info("homeserver %s stopped", self.server_name)

    def is_mine(self, identifier: str) -> bool:
        return identifier.split(":", 1)[-1] == self.server_name
