"""Wire format of server-side search (spec: data/api/client-server/search.yaml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


SearchKey = Literal["content.body", "content.name", "content.topic"]


class EventContext(_Request):
    before_limit: int = Field(default=5, ge=0, le=100)
    after_limit: int = Field(default=5, ge=0, le=100)
    include_profile: bool = False


class Group(_Request):
    key: Literal["room_id", "sender"]


class Groupings(_Request):
    group_by: list[Group] = []


class RoomEventsCriteria(_Request):
    search_term: str
    keys: list[SearchKey] | None = None
    filter: dict[str, Any] | None = None
    order_by: Literal["recent", "rank"] = "rank"
    event_context: EventContext | None = None
    include_state: bool = False
    groupings: Groupings | None = None


class SearchCategories(_Request):
    room_events: RoomEventsCriteria | None = None


class SearchRequest(_Request):
    search_categories: SearchCategories
