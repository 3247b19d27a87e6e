"""IP bans: addresses and CIDR ranges whose requests are refused with 403 M_FORBIDDEN.

The banned set lives in memory (loaded at start, persisted on change) so the
check on every request is one set lookup, plus a walk over the banned ranges
when there are any. Behind a reverse proxy, the client
address comes from ``X-Forwarded-For`` only when the peer is listed in
``trusted_proxies``; otherwise the header is ignored, so clients cannot spoof it.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from homeserver.clock import Clock
from homeserver.errors import invalid_param, not_found
from homeserver.storage.admin import AdminStore

logger = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class IpBan:
    address: str
    reason: str | None
    created_ts: int


def normalise_ban_target(raw: str) -> str | None:
    """An address (as ``normalise_address``) or a CIDR range (``10.0.0.0/8``), or None.

    A range's host bits must be zero; a single-address range (/32, /128) is the address.
    """
    text = raw.strip()
    if "/" not in text:
        return normalise_address(text)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None
    if network.num_addresses == 1:
        return normalise_address(str(network.network_address))
    return str(network)


def normalise_address(raw: str) -> str | None:
    """The canonical text of an IP address (IPv4-mapped IPv6 as IPv4), or None."""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class IpBanService:
    def __init__(self, store: AdminStore, clock: Clock, trusted_proxies: list[str]) -> None:
        self.clock = clock
        self.store = store
        self._banned: dict[str, IpBan] = {}
        self._banned_ranges: list[IpNetwork] = []
        self._trusted_proxies: list[IpNetwork] = [
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        ]

    async def load(self) -> None:
        self._banned = {a: IpBan(a, r, ts) for a, r, ts in await self.store.ip_bans()}
        self._index_ranges()

    def _index_ranges(self) -> None:
        self._banned_ranges = [ipaddress.ip_network(a) for a in self._banned if "/" in a]

    @property
    def has_bans(self) -> bool:
        return bool(self._banned)

    def is_banned(self, address: str) -> bool:
        if address in self._banned:
            return True
        if not self._banned_ranges:
            return False
        ip = ipaddress.ip_address(address)
        return any(ip in network for network in self._banned_ranges)

    def _is_trusted_proxy(self, address: str) -> bool:
        if not self._trusted_proxies:
            return False
        ip = ipaddress.ip_address(address)
        return any(ip in net for net in self._trusted_proxies)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The requesting client's address, honouring X-Forwarded-For from trusted proxies only."""
        address = normalise_address(peer) if peer else None
        if address is None or forwarded_for is None or not self._is_trusted_proxy(address):
            return address
        # Walk the chain from the nearest hop; the first untrusted hop is the client.
        for hop in reversed(forwarded_for.split(",")):
            hop_address = normalise_address(hop)
            if hop_address is None:
                break
            address = hop_address
            if not self._is_trusted_proxy(hop_address):
                break
        return address

    def banned(self) -> list[IpBan]:
        return sorted(self._banned.values(), key=lambda b: b.address)

    async def ban(self, raw_address: str, reason: str | None) -> IpBan:
        address = normalise_ban_target(raw_address)
        if address is None:
            raise invalid_param(f"Not an IP address or CIDR range: {raw_address!r}")
        ban = IpBan(address, reason, self.clock.time_ms())
        await self.store.add_ip_ban(address, reason, ban.created_ts)
        self._banned[address] = ban
        self._index_ranges()
        logger.info("banned IP address %s", address)
        return ban

    async def unban(self, raw_address: str) -> None:
        address = normalise_ban_target(raw_address)
        if address is None:
            raise invalid_param(f"Not an IP address or CIDR range: {raw_address!r}")
        if address not in self._banned:
            raise not_found("That address is not banned")
        await self.store.remove_ip_ban(address)
        del self._banned[address]
        self._index_ranges()
        logger.info("unbanned IP address %s", address)
