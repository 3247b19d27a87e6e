"""User profiles: display name and avatar URL of local users.

spec: client-server-api/_index.md, "Profiles"; data/api/client-server/profile.yaml.
A change is sent on as fresh ``m.room.member`` events in every joined room
(spec: "Events on Change of Profile Information").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.storage.accounts import AccountStore

FIELDS = ("displayname", "avatar_url")
# A remote user's profile from their server: user_id -> profile (federation's /query/profile).
RemoteProfileQuery = Callable[[str], Awaitable[dict[str, Any]]]
# Awaited with the user ID after a local user's profile changed (e.g. rooms re-sends their
# m.room.member events).
ProfileChangeListener = Callable[[str], Awaitable[None]]
MAX_DISPLAYNAME = 256
MAX_AVATAR_URL = 1000


class ProfileService:
    def __init__(
        self, account_store: AccountStore, is_mine: Callable[[str], bool], query_remote: RemoteProfileQuery
    ) -> None:
        self.account_store = account_store
        self.is_mine = is_mine
        self.query_remote = query_remote
        self._change_listeners: list[ProfileChangeListener] = []
        self._unknown_user_query: Callable[[str], Awaitable[bool]] | None = None

    def use_unknown_user_query(self, query: Callable[[str], Awaitable[bool]]) -> None:
        """Asked about an unknown local user (an application service may create it)."""
        self._unknown_user_query = query

    def add_change_listener(self, listener: ProfileChangeListener) -> None:
        self._change_listeners.append(listener)

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        if not self.is_mine(user_id):
            # spec: server-server-api.md, "Querying for information" — /query/profile.
            return await self.query_remote(user_id)
        user = await self.account_store.get_user(user_id)
        if user is None and self._unknown_user_query is not None and await self._unknown_user_query(user_id):
            user = await self.account_store.get_user(user_id)
        if user is None or user.deactivated:
            raise not_found("Profile not found")
        out: dict[str, Any] = {}
        if user.displayname is not None:
            out["displayname"] = user.displayname
        if user.avatar_url is not None:
            out["avatar_url"] = user.avatar_url
        return out

    async def get_field(self, user_id: str, field: str) -> dict[str, Any]:
        check_field(field)
        profile = await self.get_profile(user_id)
        if field not in profile:
            raise not_found(f"No {field} for this user")
        return {field: profile[field]}

    async def set_field(self, requester: str, user_id: str, field: str, value: Any) -> None:
        check_field(field)
        if requester != user_id:
            raise forbidden("You cannot change another user's profile")
        if value is not None:
            if not isinstance(value, str):
                raise MatrixError("M_BAD_JSON", 400, f"{field} must be a string")
            if field == "displayname" and len(value) > MAX_DISPLAYNAME:
                raise MatrixError("M_INVALID_PARAM", 400, f"displayname is longer than {MAX_DISPLAYNAME}")
            if field == "avatar_url":
                if len(value) > MAX_AVATAR_URL:
                    raise MatrixError("M_INVALID_PARAM", 400, "avatar_url is too long")
                if value and not value.startswith("mxc://"):
                    # spec: profile.yaml — avatar_url MUST be an MXC URI.
                    raise MatrixError("M_INVALID_PARAM", 400, "avatar_url must be an mxc:// URI")
                if value == "":
                    value = None
        user = await self.account_store.get_user(user_id)
        if user is None or user.deactivated:
            raise not_found("Profile not found")
        if getattr(user, field) == value:
            return
        await self.account_store.set_profile_field(user_id, field, value)
        for listener in self._change_listeners:
            await listener(user_id)


def check_field(field: str) -> None:
    if field not in FIELDS:
        # Custom profile fields (spec v1.16) are not stored yet.
        raise MatrixError("M_NOT_FOUND", 404, f"Unsupported profile field {field!r}")
