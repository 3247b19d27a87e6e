"""Request bodies for room endpoints (spec: data/api/client-server/*.yaml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class StateEventBody(_Body):
    type: StrictStr
    state_key: StrictStr = ""
    content: dict[str, Any]


class CreateRoomBody(_Body):
    visibility: Literal["public", "private"] = "private"
    room_alias_name: StrictStr | None = None
    name: StrictStr | None = None
    topic: StrictStr | None = None
    invite: list[StrictStr] = []
    invite_3pid: list[dict[str, Any]] = []
    room_version: StrictStr | None = None
    creation_content: dict[str, Any] | None = None
    initial_state: list[StateEventBody] = []
    preset: Literal["private_chat", "public_chat", "trusted_private_chat"] | None = None
    is_direct: StrictBool = False
    power_level_content_override: dict[str, Any] | None = None


class ReasonBody(_Body):
    reason: StrictStr | None = None


class TargetBody(_Body):
    user_id: StrictStr
    reason: StrictStr | None = None


class AliasBody(_Body):
    room_id: StrictStr


class VisibilityBody(_Body):
    visibility: Literal["public", "private"]


class PublicRoomsBody(_Body):
    limit: int | None = None
    since: StrictStr | None = None
    filter: dict[str, Any] | None = None
    include_all_networks: StrictBool = False
    third_party_instance_id: StrictStr | None = None
