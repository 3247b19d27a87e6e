"""What the HTTP handlers may use of a homeserver: its services and a few plain values.

The handlers are given the composition root's container (``homeserver.app.web`` stores it
under ``HOMESERVER_KEY``) but see it only through this protocol, so the API layer never
imports ``homeserver.app`` and mypy checks that the container provides every member.
Handlers reach services only; stores stay behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio

    from federation.crypto.signing import SigningKey
    from federation.keys import KeyRing
    from federation.sender import FederationSender
    from homeserver.clock import Clock
    from homeserver.config import Config
    from homeserver.services.accounts.accounts import AccountService
    from homeserver.services.accounts.auth import AuthService
    from homeserver.services.accounts.openid import OpenIdService
    from homeserver.services.accounts.registration_tokens import RegistrationTokenService
    from homeserver.services.accounts.turn import TurnService
    from homeserver.services.admin.admin import AdminService
    from homeserver.services.admin.ip_bans import IpBanService
    from homeserver.services.admin.moderation import ModerationService
    from homeserver.services.admin.reports import ContentReportService
    from homeserver.services.admin.room_purge import RoomPurgeService
    from homeserver.services.admin.server_notices import ServerNoticeService
    from homeserver.services.admin.shared_secret_registration import SharedSecretRegistration
    from homeserver.services.appservice.registry import AppServiceRegistry
    from homeserver.services.e2ee.cross_signing import CrossSigningService
    from homeserver.services.e2ee.key_backup import KeyBackupService
    from homeserver.services.e2ee.keys import E2EKeyService
    from homeserver.services.federation.history import FederatedHistory
    from homeserver.services.federation.membership import FederatedMembershipService
    from homeserver.services.federation.receiver import TransactionReceiver
    from homeserver.services.federation.resident_membership import ResidentMembershipService
    from homeserver.services.graph.events import EventService
    from homeserver.services.media.repository import MediaService
    from homeserver.services.media.url_preview import UrlPreviewService
    from homeserver.services.push.notifications import NotificationService
    from homeserver.services.push.settings import PushSettingsService
    from homeserver.services.reading.jump_to_date import JumpToDateService
    from homeserver.services.reading.pagination import PaginationService
    from homeserver.services.reading.search import SearchService
    from homeserver.services.reading.spaces import SpaceHierarchyService
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


class Services(Protocol):
    """The members of the homeserver that the handlers in ``homeserver.api`` use."""

    # plain values
    config: Config
    clock: Clock
    server_name: str
    signing_key: SigningKey
    # Set by the runner; POST /_parley/admin/v1/shutdown sets it.
    shutdown_requested: asyncio.Event | None

    def is_mine(self, identifier: str) -> bool: ...

    # graph
    events: EventService
    # federation
    keyring: KeyRing
    federation_sender: FederationSender
    federation_receiver: TransactionReceiver
    federated_history: FederatedHistory
    federated_membership: FederatedMembershipService
    resident_membership: ResidentMembershipService
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
    pagination: PaginationService
    jump_to_date: JumpToDateService
    search: SearchService
    spaces: SpaceHierarchyService
    # e2ee
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
    room_directory: RoomDirectoryService
    room_upgrades: RoomUpgradeService
    delayed_events: DelayedEventService
    # sync
    sync: SyncService
    sync_filters: SyncFilterService
    sliding_sync: SlidingSyncService
    # accounts
    auth: AuthService
    accounts: AccountService
    registration_tokens: RegistrationTokenService
    openid: OpenIdService
    turn: TurnService
    # appservice
    appservices: AppServiceRegistry
    # admin
    admin: AdminService
    moderation: ModerationService
    ip_bans: IpBanService
    server_notices: ServerNoticeService
    shared_secret_registration: SharedSecretRegistration
    reports: ContentReportService
    room_purge: RoomPurgeService
