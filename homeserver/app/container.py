"""The container: every store and service of one homeserver, built once and wired.

``Container`` declares what a homeserver is made of; ``homeserver.app.homeserver``
builds it area by area (``homeserver.app.wiring``, in layer order) and registers each
component's start and stop with the ``Lifecycle``. Nothing is a module-level global;
tests build the same object on a temporary directory. Services receive the
collaborators they use, never the container; only the composition root (this package)
and the HTTP handlers (through ``homeserver.api.services.Services``) read it.
"""

from __future__ import annotations

import asyncio
import logging

from federation.crypto.signing import SigningKey
from federation.key_files import read_signing_key_file
from federation.keys import KeyRing
from federation.sender import FederationSender
from federation.transport.client import FederationClient
from homeserver.app.lifecycle import Lifecycle
from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.services.accounts.accounts import AccountService
from homeserver.services.accounts.auth import AuthService
from homeserver.services.accounts.openid import OpenIdService
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.registration_tokens import RegistrationTokenService
from homeserver.services.accounts.turn import TurnService
from homeserver.services.admin.admin import AdminService
from homeserver.services.admin.default_rooms import DefaultRoomsService
from homeserver.services.admin.ip_bans import IpBanService
from homeserver.services.admin.moderation import ModerationService
from homeserver.services.admin.reports import ContentReportService
from homeserver.services.admin.room_purge import RoomPurgeService
from homeserver.services.admin.server_notices import ServerNoticeService
from homeserver.services.admin.shared_secret_registration import SharedSecretRegistration
from homeserver.services.appservice.client import AppServiceClient
from homeserver.services.appservice.registry import AppServiceRegistry
from homeserver.services.appservice.transactions import AppServiceTransactions
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.keys import E2EKeyService
from homeserver.services.federation.edus import FederationEdus
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.federation.history import FederatedHistory
from homeserver.services.federation.membership import FederatedMembershipService
from homeserver.services.federation.openid import OpenIdVerifier
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.federation.receiver import TransactionReceiver
from homeserver.services.federation.resident_membership import ResidentMembershipService
from homeserver.services.graph.events import EventService
from homeserver.services.graph.history_visibility import HistoryVisibilityService
from homeserver.services.graph.join_policy import JoinPolicy
from homeserver.services.graph.notifier import Notifier
from homeserver.services.media.repository import MediaService
from homeserver.services.media.url_preview import UrlPreviewService
from homeserver.services.push.notifications import NotificationService
from homeserver.services.push.settings import PushSettingsService
from homeserver.services.reading.jump_to_date import JumpToDateService
from homeserver.services.reading.pagination import PaginationService
from homeserver.services.reading.relations import RelationsService
from homeserver.services.reading.search import SearchService
from homeserver.services.reading.spaces import SpaceHierarchyService
from homeserver.services.reading.threads import ThreadService
from homeserver.services.rooms.delayed_events import DelayedEventService
from homeserver.services.rooms.directory import RoomDirectoryService
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.rooms.upgrades import RoomUpgradeService
from homeserver.services.social.account_data import AccountDataService
from homeserver.services.social.presence import PresenceService
from homeserver.services.social.profile import ProfileService
from homeserver.services.social.receipts import ReceiptService
from homeserver.services.social.to_device import ToDeviceService
from homeserver.services.social.typing import TypingService
from homeserver.services.social.user_directory import UserDirectoryService
from homeserver.services.sync.filters import SyncFilterService
from homeserver.services.sync.sliding_sync import SlidingSyncService
from homeserver.services.sync.sync import SyncService
from homeserver.services.voice.focus import VoiceFocus
from homeserver.storage.account_data import AccountDataStore
from homeserver.storage.accounts import AccountStore
from homeserver.storage.admin import AdminStore
from homeserver.storage.database import Database
from homeserver.storage.delayed_events import DelayedEventStore
from homeserver.storage.device_lists import DeviceListStore
from homeserver.storage.e2e_keys import E2EKeyStore
from homeserver.storage.events import EventStore
from homeserver.storage.federation_queue import FederationQueueStore
from homeserver.storage.filters import FilterStore
from homeserver.storage.openid import OpenIdTokenStore
from homeserver.storage.presence import PresenceStore
from homeserver.storage.receipts import ReceiptStore
from homeserver.storage.rooms import RoomStore
from homeserver.storage.server_keys import ServerKeyStore
from homeserver.storage.state import StateStore
from homeserver.storage.to_device import ToDeviceStore

logger = logging.getLogger(__name__)


class Container:
    """What a homeserver is made of (built by ``homeserver.app.homeserver.Homeserver``)."""

    # storage (homeserver.app.wiring.storage)
    account_store: AccountStore
    event_store: EventStore
    state_store: StateStore
    room_store: RoomStore
    filters: FilterStore
    account_data_store: AccountDataStore
    receipt_store: ReceiptStore
    presence_store: PresenceStore
    to_device_store: ToDeviceStore
    device_list_store: DeviceListStore
    e2e_key_store: E2EKeyStore
    admin_store: AdminStore
    server_key_store: ServerKeyStore
    federation_queue_store: FederationQueueStore
    # graph
    notifier: Notifier
    events: EventService
    history_visibility: HistoryVisibilityService
    join_policy: JoinPolicy
    # federation
    federation_client: FederationClient
    keyring: KeyRing
    federation_sender: FederationSender
    federation_events: FederatedEventHandler
    federated_history: FederatedHistory
    out_of_band: OutOfBandMembershipService
    resident_membership: ResidentMembershipService
    federated_membership: FederatedMembershipService
    federation_edus: FederationEdus
    federation_receiver: TransactionReceiver
    # social
    account_data: AccountDataService
    receipts: ReceiptService
    typing: TypingService
    presence: PresenceService
    to_device: ToDeviceService
    profile: ProfileService
    user_directory: UserDirectoryService
    # push
    push_settings: PushSettingsService
    notifications: NotificationService
    # reading
    relations: RelationsService
    threads: ThreadService
    jump_to_date: JumpToDateService
    search: SearchService
    spaces: SpaceHierarchyService
    pagination: PaginationService
    # e2ee
    device_lists: DeviceListService
    e2e_keys: E2EKeyService
    cross_signing: CrossSigningService
    key_backup: KeyBackupService
    # media
    media: MediaService
    url_previews: UrlPreviewService
    # voice
    voice: VoiceFocus
    # rooms
    rooms: RoomService
    room_upgrades: RoomUpgradeService
    delayed_event_store: DelayedEventStore
    delayed_events: DelayedEventService
    room_directory: RoomDirectoryService
    # sync
    sync: SyncService
    sync_filters: SyncFilterService
    sliding_sync: SlidingSyncService
    # accounts
    passwords: PasswordHasher
    auth: AuthService
    accounts: AccountService
    registration_tokens: RegistrationTokenService
    openid_store: OpenIdTokenStore
    openid: OpenIdService
    openid_verifier: OpenIdVerifier
    turn: TurnService
    # appservice
    appservice_client: AppServiceClient
    appservices: AppServiceRegistry
    appservice_transactions: AppServiceTransactions
    # admin
    admin: AdminService
    moderation: ModerationService
    ip_bans: IpBanService
    server_notices: ServerNoticeService
    shared_secret_registration: SharedSecretRegistration
    default_rooms: DefaultRoomsService
    reports: ContentReportService
    room_purge: RoomPurgeService

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.server_name = config.server_name
        self.clock = clock or Clock()
        self.db = Database(config.resolve(config.database_path))
        self.signing_key: SigningKey = read_signing_key_file(config.resolve(config.signing_key_path))
        self.lifecycle = Lifecycle()
        # Set by the runner; POST /_parley/admin/v1/shutdown sets it.
        self.shutdown_requested: asyncio.Event | None = None

    async def start(self) -> None:
        await self.lifecycle.start()
        logger.info("homeserver %s started", self.server_name)

    async def stop(self) -> None:
        if not self.lifecycle.started:
            return
        await self.lifecycle.stop()
        logger.info("homeserver %s stopped", self.server_name)

    def is_mine(self, identifier: str) -> bool:
        return identifier.split(":", 1)[-1] == self.server_name
