"""Application service registrations and what each service is interested in (pure).

spec: application-service-api.md, "Registration" and "Pushing events". The YAML
format is Synapse's: ``id``, ``url`` (null: the service receives nothing),
``as_token``, ``hs_token``, ``sender_localpart``, ``namespaces`` (users, aliases,
rooms: lists of ``{exclusive, regex}``), ``rate_limited``, ``protocols``, and the
opt-ins for ephemeral events (MSC2409) and to-device messages (MSC2409/MSC3202).

Regexes match from the start of the ID, as Synapse's ``re.match`` does, so a
registration written for Synapse behaves the same here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class RegistrationError(ValueError):
    """A registration file that cannot be used, phrased for the operator."""


class NamespaceEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    exclusive: bool = False
    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"{v!r} is not a valid regular expression ({e})") from None
        return v


class Namespaces(BaseModel):
    model_config = ConfigDict(extra="allow")

    users: list[NamespaceEntry] = []
    aliases: list[NamespaceEntry] = []
    rooms: list[NamespaceEntry] = []


class RegistrationFile(BaseModel):
    """One registration YAML file as written (Synapse's keys, unstable ones included)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1)
    url: str | None
    as_token: str = Field(min_length=1)
    hs_token: str = Field(min_length=1)
    sender_localpart: str = Field(min_length=1)
    namespaces: Namespaces = Namespaces()
    rate_limited: bool = True
    protocols: list[str] = []
    receive_ephemeral: bool | None = None
    push_ephemeral: bool = Field(default=False, alias="de.sorunome.msc2409.push_ephemeral")
    msc3202: bool = Field(default=False, alias="org.matrix.msc3202")
    push_to_device: bool = False
    msc2409_push_to_device: bool = Field(default=False, alias="de.sorunome.msc2409.push_to_device")


@dataclass(frozen=True, slots=True)
class Namespace:
    exclusive: bool
    regex: re.Pattern[str]

    def matches(self, value: str) -> bool:
        return self.regex.match(value) is not None


@dataclass(frozen=True, slots=True)
class AppService:
    """A parsed registration: identity, tokens, namespaces and opt-ins."""

    id: str
    url: str | None
    as_token: str
    hs_token: str
    sender: str  # the full user ID of sender_localpart
    users: tuple[Namespace, ...]
    aliases: tuple[Namespace, ...]
    rooms: tuple[Namespace, ...]
    rate_limited: bool
    protocols: tuple[str, ...]
    receive_ephemeral: bool
    receive_to_device: bool

    # --- namespaces ------------------------------------------------------------
    def is_user_in_namespace(self, user_id: str) -> bool:
        """The sender itself, or a user matched by a users namespace (exclusive or not)."""
        return user_id == self.sender or any(n.matches(user_id) for n in self.users)

    def is_exclusive_user(self, user_id: str) -> bool:
        return user_id == self.sender or any(n.exclusive and n.matches(user_id) for n in self.users)

    def is_alias_in_namespace(self, alias: str) -> bool:
        return any(n.matches(alias) for n in self.aliases)

    def is_exclusive_alias(self, alias: str) -> bool:
        return any(n.exclusive and n.matches(alias) for n in self.aliases)

    def is_room_in_namespace(self, room_id: str) -> bool:
        return any(n.matches(room_id) for n in self.rooms)

    # --- interest --------------------------------------------------------------
    def is_interested_in_room(self, room_id: str, aliases: Iterable[str], members: Iterable[str]) -> bool:
        """spec: "Pushing events" — the room's ID or one of its aliases is in a namespace,
        or one of its members is in the users namespace."""
        return (
            self.is_room_in_namespace(room_id)
            or any(self.is_alias_in_namespace(a) for a in aliases)
            or any(self.is_user_in_namespace(m) for m in members)
        )

    def is_interested_in_event(
        self,
        *,
        sender: str,
        state_key: str | None,
        event_type: str,
        room_id: str,
        aliases: Iterable[str],
        members: Iterable[str],
    ) -> bool:
        if self.is_user_in_namespace(sender):
            return True
        if event_type == "m.room.member" and state_key is not None and self.is_user_in_namespace(state_key):
            return True
        return self.is_interested_in_room(room_id, aliases, members)


def room_aliases(canonical_alias_content: dict[str, Any], local_aliases: Sequence[str] = ()) -> list[str]:
    """The aliases a room is known by: its canonical and alternative aliases, and local ones."""
    out = list(local_aliases)
    alias = canonical_alias_content.get("alias")
    if isinstance(alias, str):
        out.append(alias)
    alt = canonical_alias_content.get("alt_aliases")
    if isinstance(alt, list):
        out.extend(a for a in alt if isinstance(a, str))
    return out


def parse_registration(data: Any, server_name: str, source: str) -> AppService:
    """One registration file's content, or a RegistrationError naming the file and key."""
    if not isinstance(data, dict):
        raise RegistrationError(f"{source}: the top level must be a mapping of keys to values")
    try:
        reg = RegistrationFile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RegistrationError(f"{source}: {where}: {first['msg']}") from None
    if reg.url is not None and not reg.url.startswith(("http://", "https://")):
        raise RegistrationError(f"{source}: url must be an http(s) URL or null")

    def compiled(entries: list[NamespaceEntry]) -> tuple[Namespace, ...]:
        return tuple(Namespace(e.exclusive, re.compile(e.regex)) for e in entries)

    ephemeral = reg.receive_ephemeral if reg.receive_ephemeral is not None else reg.push_ephemeral
    return AppService(
        id=reg.id,
        url=reg.url.rstrip("/") if reg.url else None,
        as_token=reg.as_token,
        hs_token=reg.hs_token,
        sender=f"@{reg.sender_localpart}:{server_name}",
        users=compiled(reg.namespaces.users),
        aliases=compiled(reg.namespaces.aliases),
        rooms=compiled(reg.namespaces.rooms),
        rate_limited=reg.rate_limited,
        protocols=tuple(reg.protocols),
        receive_ephemeral=ephemeral,
        receive_to_device=reg.msc3202 or reg.push_to_device or reg.msc2409_push_to_device,
    )


def check_unique(services: Sequence[tuple[str, AppService]]) -> None:
    """Refuse two registrations sharing an id, an as_token, an hs_token or a sender."""
    seen: dict[tuple[str, str], str] = {}
    for source, service in services:
        for field, value in (("id", service.id), ("as_token", service.as_token),
                             ("hs_token", service.hs_token), ("sender_localpart", service.sender)):
            other = seen.get((field, value))
            if other is not None:
                raise RegistrationError(f"{source}: {field} is the same as in {other}; each must be unique")
            seen[(field, value)] = source
