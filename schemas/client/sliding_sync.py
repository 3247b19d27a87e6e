"""Wire format of Simplified Sliding Sync (MSC4186), as Synapse serves it at
``POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync``.

Strict types (a string where a list belongs is M_BAD_JSON, never a 500); unknown
fields are ignored, as clients send newer options than a server knows.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_LISTS = 100
MAX_TIMELINE_LIMIT = 1000


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


NonNegative = Annotated[int, Field(ge=0)]
StatePair = Annotated[list[str], Field(min_length=2, max_length=2)]


class RoomParameters(_Request):
    """What to send of each room: shared by lists and room subscriptions."""

    # [[event type, state key]]; "*" as a wildcard, "$ME" and "$LAZY" as state keys.
    required_state: list[StatePair] = []
    timeline_limit: Annotated[int, Field(ge=0, le=MAX_TIMELINE_LIMIT)] = 0


class ListFilters(_Request):
    is_dm: bool | None = None
    spaces: list[str] | None = None
    is_encrypted: bool | None = None
    is_invite: bool | None = None
    # None inside these lists stands for rooms without a type (ordinary rooms).
    room_types: list[str | None] | None = None
    not_room_types: list[str | None] | None = None


class SlidingList(RoomParameters):
    # Inclusive [start, end] index ranges; absent means the whole list.
    ranges: list[Annotated[list[NonNegative], Field(min_length=2, max_length=2)]] | None = None
    filters: ListFilters | None = None

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, ranges: list[list[int]] | None) -> list[list[int]] | None:
        for start, end in ranges or ():
            if start > end:
                raise ValueError("a range's start must not be after its end")
        return ranges


class ToDeviceExtension(_Request):
    enabled: bool | None = False
    limit: Annotated[int, Field(ge=1)] = 100
    since: str | None = None


class E2eeExtension(_Request):
    enabled: bool | None = False


class ScopedExtension(_Request):
    """An extension about rooms: applies to the named lists and subscribed rooms ("*": all)."""

    enabled: bool | None = False
    lists: list[str] | None = ["*"]
    rooms: list[str] | None = ["*"]


class Extensions(_Request):
    to_device: ToDeviceExtension | None = None
    e2ee: E2eeExtension | None = None
    account_data: ScopedExtension | None = None
    receipts: ScopedExtension | None = None
    typing: ScopedExtension | None = None


class SlidingSyncRequest(_Request):
    conn_id: str | None = None
    lists: dict[str, SlidingList] | None = None
    room_subscriptions: dict[str, RoomParameters] | None = None
    extensions: Extensions | None = None

    @field_validator("lists")
    @classmethod
    def _not_too_many(cls, lists: dict[str, SlidingList] | None) -> dict[str, SlidingList] | None:
        if lists is not None and len(lists) > MAX_LISTS:
            raise ValueError(f"at most {MAX_LISTS} lists")
        return lists
