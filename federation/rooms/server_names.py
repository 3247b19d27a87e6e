"""Server names: the grammar of appendices.md, "Server Name", split into host and port (pure)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from schemas.identifiers import is_valid_server_name

__all__ = ["ServerAddress", "ServerNameError", "is_ip_literal", "parse_server_name"]


class ServerNameError(ValueError):
    """The string is not a server name (spec: appendices.md, "Server Name")."""


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """A server name split into host (IPv6 without brackets) and optional port."""

    host: str
    port: int | None

    @property
    def is_ip_literal(self) -> bool:
        return is_ip_literal(self.host)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_server_name(name: str) -> ServerAddress:
    """Split ``host[:port]``; IPv6 literals come in brackets (``[::1]:8448``)."""
    if not isinstance(name, str) or not is_valid_server_name(name):
        raise ServerNameError(f"not a server name: {name!r}")
    if name.startswith("["):
        host, _, rest = name[1:].partition("]")
        if not is_ip_literal(host) or ":" not in host:
            raise ServerNameError(f"not an IPv6 literal: {name!r}")
        port_text = rest[1:] if rest.startswith(":") else None
    else:
        host, sep, port_text_or_empty = name.partition(":")
        port_text = port_text_or_empty if sep else None
    port: int | None = None
    if port_text is not None:
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ServerNameError(f"port out of range in {name!r}")
    return ServerAddress(host=host, port=port)
