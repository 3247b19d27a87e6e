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
    c.moderation = ModerationService(c.admin_store, c.events, c.account_store, c.clock, c.is_mine)
    c.admin = AdminService(
        store=c.admin_store,
        account_store=c.account_store,
        event_store=c.event_store,
        events=c.events,
        accounts=c.accounts,
        passwords=c.passwords,
        auth=c.auth,
        profile=c.profile,
        presence=c.presence,
        rooms=c.rooms,
        moderation=c.moderation,
        clock=c.clock,
        server_name=c.server_name,
        is_mine=c.is_mine,
    )
    c.ip_bans = IpBanService(c.admin_store, c.clock, c.config.trusted_proxies)
    c.lifecycle.add("ip_bans", start=c.ip_bans.load)
    c.server_notices = ServerNoticeService(
        c.admin_store,
        config=c.config.server_notices,
        events=c.events,
        event_store=c.event_store,
        account_store=c.account_store,
        account_data=c.account_data,
        rooms=c.rooms,
        clock=c.clock,
        server_name=c.server_name,
        is_mine=c.is_mine,
    )
    c.lifecycle.add("server_notices", start=c.server_notices.start)
    c.lifecycle.add("moderation", start=c.moderation.start, stop=c.moderation.stop)
    c.default_rooms = DefaultRoomsService(
        aliases=c.config.default_rooms,
        owner=c.server_notices.system_user_id,
        rooms=c.rooms,
        room_store=c.room_store,
        is_mine=c.is_mine,
    )
    c.shared_secret_registration = SharedSecretRegistration(
        registration=c.config.registration,
        accounts=c.accounts,
        account_store=c.account_store,
        passwords=c.passwords,
        default_rooms=c.default_rooms,
        clock=c.clock,
    )
    c.lifecycle.add("default_rooms", start=c.default_rooms.ensure_created)
    c.reports = ContentReportService(
        c.admin_store,
        events=c.events,
        event_store=c.event_store,
        account_store=c.account_store,
        clock=c.clock,
        is_mine=c.is_mine,
    )
    c.room_purge = RoomPurgeService(
        RoomPurgeStore(c.db),
        events=c.events,
        event_store=c.event_store,
        state_store=c.state_store,
        room_store=c.room_store,
        account_store=c.account_store,
        rooms=c.rooms,
        moderation=c.moderation,
        server_notices=c.server_notices,
        federation_sender=c.federation_sender,
        federation_events=c.federation_events,
        notifier=c.notifier,
        history_visibility=c.history_visibility,
        typing=c.typing,
        notifications=c.notifications,
        relations=c.relations,
        threads=c.threads,
        search=c.search,
        spaces=c.spaces,
        server_name=c.server_name,
        is_mine=c.is_mine,
    )
    c.lifecycle.add("room_purge", stop=c.room_purge.stop)

    # Lower layers reach admin only through what is registered here.
    # Send checks in the order their services used to register them when started.
    c.events.add_send_check(c.server_notices.check_notice_room_leave)
    c.events.add_send_check(c.moderation.check_blocked_room)
    # A blocked room stays blocked even once no local member is left to refuse the join,
    # for local rooms, remote rooms and invites from other servers alike.
    c.join_policy.add_check(c.moderation.check_blocked_join)
    c.sync.use_purged_leave_sections(c.room_purge.leave_sections)
    c.accounts.add_registration_listener(c.default_rooms.join_new_user)
