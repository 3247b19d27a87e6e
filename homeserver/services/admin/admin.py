"""Server administration: users, rooms and content reports for the admin API.

The shapes follow Synapse's admin API where the two overlap, so existing admin
tools work; handlers in ``homeserver/api/admin`` only parse and serialise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from homeserver.clock import Clock
from homeserver.core.event_format import client_event
from homeserver.errors import forbidden, invalid_param, not_found
from homeserver.services.accounts.accounts import AccountService
from homeserver.services.accounts.auth import AuthService, Requester
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.admin.moderation import ModerationService
from homeserver.services.graph.events import EventService
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.social.presence import PresenceService
from homeserver.services.social.profile import ProfileService
from homeserver.storage.accounts import AccountStore, UserRecord
from homeserver.storage.admin import AdminStore, ContentReport, RoomSummaryRow
from homeserver.storage.events import EventStore

logger = logging.getLogger(__name__)

ROOM_ORDERINGS = (
    "name", "canonical_alias", "joined_members", "joined_local_members", "version", "creator",
    "encryption", "federatable", "public", "join_rules", "guest_access", "history_visibility",
    "state_events",
)


def require_admin(requester: Requester) -> None:
    if not requester.is_admin:
        raise forbidden("You are not a server admin")


def room_summary_json(row: RoomSummaryRow) -> dict[str, Any]:
    return {
        "room_id": row.room_id, "name": row.name, "canonical_alias": row.canonical_alias,
        "joined_members": row.joined_members, "joined_local_members": row.joined_local_members,
        "version": row.version, "creator": row.creator, "encryption": row.encryption,
        "federatable": row.federatable, "public": row.is_public, "join_rules": row.join_rules,
        "guest_access": row.guest_access, "history_visibility": row.history_visibility,
        "state_events": row.state_events, "room_type": row.room_type,
    }


class AdminService:
    def __init__(
        self,
        *,
        store: AdminStore,
        account_store: AccountStore,
        event_store: EventStore,
        events: EventService,
        accounts: AccountService,
        passwords: PasswordHasher,
        auth: AuthService,
        profile: ProfileService,
        presence: PresenceService,
        rooms: RoomService,
        moderation: ModerationService,
        clock: Clock,
        server_name: str,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.account_store = account_store
        self.event_store = event_store
        self.events = events
        self.accounts = accounts
        self.passwords = passwords
        self.auth = auth
        self.profile = profile
        self.presence = presence
        self.rooms = rooms
        self.moderation = moderation
        self.clock = clock
        self.server_name = server_name
        self.is_mine = is_mine

    # --- users -----------------------------------------------------------------------------
    def user_json(self, user: UserRecord) -> dict[str, Any]:
        return {
            "name": user.user_id, "displayname": user.displayname, "avatar_url": user.avatar_url,
            "admin": user.is_admin, "deactivated": user.deactivated, "is_guest": False,
            "user_type": None, "creation_ts": user.created_ts, "locked": False, "shadow_banned": False,
            "erased": False, "threepids": [], "external_ids": [],
        }

    def _presence(self, user_id: str) -> str:
        content = self.presence.presence_of(user_id)
        return str(content["presence"]) if content else "offline"

    async def require_local_user(self, user_id: str) -> UserRecord:
        if not self.is_mine(user_id):
            raise invalid_param("Only local users can be administered")
        user = await self.account_store.get_user(user_id)
        if user is None:
            raise not_found("User not found")
        return user

    async def list_users(
        self, offset: int, limit: int, name: str | None, include_deactivated: bool, admins: bool | None
    ) -> dict[str, Any]:
        users, total = await self.store.list_users(
            offset=offset, limit=limit, name=name, include_deactivated=include_deactivated, admins=admins
        )
        # Beyond Synapse's fields: who is online now (from memory, no query per user).
        listed = [{**self.user_json(u), "presence": self._presence(u.user_id)} for u in users]
        body: dict[str, Any] = {"users": listed, "total": total}
        if offset + len(users) < total:
            body["next_token"] = str(offset + len(users))
        return body

    async def get_user(self, user_id: str) -> dict[str, Any]:
        return self.user_json(await self.require_local_user(user_id))

    async def upsert_user(self, user_id: str, fields: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Create or modify a local user (Synapse: PUT /_synapse/admin/v2/users/<user_id>)."""
        if not self.is_mine(user_id):
            raise invalid_param("Only local users can be created here")
        accounts = self.account_store
        existing = await accounts.get_user(user_id)
        created = False
        if existing is None:
            self.accounts.validate_username(user_id[1:].split(":", 1)[0])
            password = fields.get("password")
            password_hash = await self.passwords.hash(password) if password is not None else None
            created = await accounts.create_user(
                user_id, password_hash, self.clock.time_ms(), fields.get("displayname"),
                is_admin=bool(fields.get("admin", False)),
            )
            if fields.get("deactivated"):
                await self.accounts.deactivate(user_id)
            logger.info("admin created user %s", user_id)
        else:
            reactivate = fields.get("deactivated") is False and existing.deactivated
            if reactivate:
                # The old password hash was wiped on deactivation: a new one is needed.
                if fields.get("password") is None:
                    raise invalid_param("A password is required to reactivate a user")
                await accounts.set_deactivated(user_id, False)
                self.auth.forget_cached(user_id=user_id)
            elif existing.deactivated and fields.get("password") is not None:
                raise invalid_param("Reactivate the user (deactivated: false) to set a password")
            if fields.get("password") is not None:
                await self.accounts.change_password(
                    user_id, fields["password"], logout_devices=bool(fields.get("logout_devices", True)),
                    requester=None,
                )
            for field in ("displayname", "avatar_url"):
                if field in fields and not existing.deactivated:
                    await self.profile.set_field(user_id, user_id, field, fields[field])
            if fields.get("admin") is not None:
                await self.set_admin(user_id, bool(fields["admin"]))
            if fields.get("deactivated") is True and not existing.deactivated:
                await self.accounts.deactivate(user_id)
        return created, await self.get_user(user_id)

    async def set_admin(self, user_id: str, admin: bool) -> None:
        await self.require_local_user(user_id)
        await self.account_store.set_admin(user_id, admin)
        self.auth.forget_cached(user_id=user_id)  # cached requesters carry is_admin
        logger.info("admin flag of %s set to %s", user_id, admin)

    async def reset_password(self, user_id: str, new_password: str, logout_devices: bool) -> None:
        user = await self.require_local_user(user_id)
        if user.deactivated:
            raise invalid_param("The user is deactivated")
        await self.accounts.change_password(user_id, new_password, logout_devices=logout_devices, requester=None)

    async def deactivate(self, user_id: str) -> None:
        """Log out every device, leave every room, block login."""
        await self.require_local_user(user_id)
        await self.accounts.deactivate(user_id)

    # --- rooms -----------------------------------------------------------------------------
    async def list_rooms(
        self, offset: int, limit: int, order_by: str, newest_first: bool, search_term: str | None
    ) -> dict[str, Any]:
        if order_by not in ROOM_ORDERINGS:
            raise invalid_param(f"order_by must be one of {', '.join(ROOM_ORDERINGS)}")
        rooms = [room_summary_json(r) for r in await self.store.room_summaries(self.server_name)]
        if search_term:
            term = search_term.lower()
            rooms = [
                r for r in rooms
                if term in (r["name"] or "").lower() or term in (r["canonical_alias"] or "").lower()
                or term in r["room_id"].lower()
            ]
        # Missing values sort last whichever the direction (Synapse: NULLS LAST).
        present = [r for r in rooms if r[order_by] is not None]
        missing = [r for r in rooms if r[order_by] is None]
        present.sort(key=lambda r: (r[order_by], r["room_id"]), reverse=newest_first)
        if order_by in ("joined_members", "joined_local_members", "state_events") and not newest_first:
            # Synapse lists member counts largest first unless dir=b.
            present.reverse()
        ordered = present + missing
        page = ordered[offset:offset + limit]
        body: dict[str, Any] = {"rooms": page, "offset": offset, "total_rooms": len(ordered)}
        if offset + len(page) < len(ordered):
            body["next_batch"] = offset + len(page)
        if offset > 0:
            body["prev_batch"] = max(0, offset - limit)
        return body

    async def room_details(self, room_id: str) -> dict[str, Any]:
        rows = await self.store.room_summaries(self.server_name, room_id)
        if not rows:
            raise not_found("Room not found")
        body = room_summary_json(rows[0])
        room = await self.events.require_room(room_id)
        body["topic"] = room.state_content("m.room.topic").get("topic")
        body["avatar"] = room.state_content("m.room.avatar").get("url")
        body["blocked"] = room_id in self.moderation.blocked
        return body

    async def room_members(self, room_id: str) -> dict[str, Any]:
        room = await self.events.require_room(room_id)
        members = sorted(room.members_with("join"))
        return {"members": members, "total": len(members)}

    async def room_state(self, room_id: str) -> dict[str, Any]:
        room = await self.events.require_room(room_id)
        return {"state": [client_event(ev) for ev in room.state.values()]}

    async def messages_since(self, room_id: str, since_ts: int, limit: int) -> dict[str, Any]:
        await self.events.require_room(room_id)
        ids = await self.store.event_ids_since(room_id, since_ts, limit)
        events = await self.event_store.get_events(ids)
        return {"chunk": [client_event(events[i]) for i in ids if i in events]}

    async def create_room(self, creator: str, body: dict[str, Any]) -> str:
        if not self.is_mine(creator) or await self.account_store.get_user(creator) is None:
            raise invalid_param("creator must be an existing local user")
        return await self.rooms.create_room(creator, body)

    # --- content reports -------------------------------------------------------------------
    async def report_json(self, report: ContentReport, with_event: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": report.id, "received_ts": report.received_ts, "room_id": report.room_id,
            "event_id": report.event_id, "user_id": report.reporter, "reason": report.reason,
            "score": report.score, "reported_user_id": report.reported_user_id,
        }
        room = await self.events.get_room(report.room_id) if report.room_id else None
        if room is not None:
            body["name"] = room.state_content("m.room.name").get("name")
            body["canonical_alias"] = room.state_content("m.room.canonical_alias").get("alias")
        if report.event_id:
            event = await self.event_store.get_event(report.event_id)
            if event is not None:
                body["sender"] = event.sender
                if with_event:
                    body["event_json"] = event.pdu
        return body

    async def list_reports(self, offset: int, limit: int, newest_first: bool, room_id: str | None,
                           reporter: str | None, events_only: bool) -> tuple[list[dict[str, Any]], int]:
        reports, total = await self.store.list_reports(
            offset=offset, limit=limit, newest_first=newest_first, room_id=room_id, reporter=reporter,
            events_only=events_only,
        )
        return [await self.report_json(r) for r in reports], total

    async def get_report(self, report_id: int) -> dict[str, Any]:
        report = await self.store.get_report(report_id)
        if report is None:
            raise not_found("Report not found")
        return await self.report_json(report, with_event=True)
