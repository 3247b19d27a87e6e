"""Request bodies of the admin API (Synapse's shapes where they overlap)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class UserUpsertBody(_Body):
    password: StrictStr | None = None
    logout_devices: StrictBool = True
    displayname: StrictStr | None = None
    avatar_url: StrictStr | None = None
    admin: StrictBool | None = None
    deactivated: StrictBool | None = None


class ResetPasswordBody(_Body):
    new_password: StrictStr
    logout_devices: StrictBool = True


class AdminFlagBody(_Body):
    admin: StrictBool


class DeactivateBody(_Body):
    erase: StrictBool = False


class DeleteRoomBody(_Body):
    block: StrictBool = False
    purge: StrictBool = True
    message: StrictStr | None = None
    new_room_user_id: StrictStr | None = None
    room_name: StrictStr | None = None
    force_purge: StrictBool = False


class BlockRoomBody(_Body):
    block: StrictBool


class NewRegistrationTokenBody(_Body):
    token: StrictStr | None = None
    uses_allowed: StrictInt | None = None
    expiry_time: StrictInt | None = None
    length: StrictInt = 16


class ServerNoticeBody(_Body):
    user_id: StrictStr
    content: dict[str, Any]


class TemporaryBanBody(_Body):
    user_id: StrictStr
    # One of the two: minutes (as `parleyd admin kick --minutes`) or milliseconds.
    minutes: float | None = Field(default=None, gt=0)
    duration_ms: StrictInt | None = Field(default=None, gt=0)
    reason: StrictStr | None = None


class RoomBanBody(_Body):
    user_id: StrictStr
    reason: StrictStr | None = None


class IpBanBody(_Body):
    address: StrictStr
    reason: StrictStr | None = None


class AdminCreateRoomBody(_Body):
    # The local user who creates and owns the room; the server-notices system user if omitted.
    creator: StrictStr | None = None
