"""admin: the admin API's services, moderation, IP bans, server notices, default rooms, purges."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.admin.admin import AdminService
from homeserver.services.admin.default_rooms import DefaultRoomsService
from homeserver.services.admin.ip_bans import IpBanService
from homeserver.services.admin.moderation import ModerationService
from homeserver.services.admin.reports import ContentReportService
from homeserver.services.admin.room_purge import RoomPurgeService
from homeserver.services.admin.server_notices import ServerNoticeService
from homeserver.services.admin.shared_secret_registration import SharedSecretRegistration
from homeserver.storage.room_purge import RoomPurgeStore


def wire(c: Container) -> None:
    c.admin = AdminService(c, c.admin_store)
    c.moderation = ModerationService(c, c.admin_store)
    c.ip_bans = IpBanService(c, c.admin_store)
    c.lifecycle.add("ip_bans", start=c.ip_bans.load)
    c.server_notices = ServerNoticeService(c, c.admin_store)
    c.lifecycle.add("server_notices", start=c.server_notices.start)
    c.lifecycle.add("moderation", start=c.moderation.start, stop=c.moderation.stop)
    c.shared_secret_registration = SharedSecretRegistration(c)
    c.default_rooms = DefaultRoomsService(c)
    c.lifecycle.add("default_rooms", start=c.default_rooms.ensure_created)
    c.reports = ContentReportService(c, c.admin_store)
    c.room_purge = RoomPurgeService(c, RoomPurgeStore(c.db))
    c.lifecycle.add("room_purge", stop=c.room_purge.stop)
