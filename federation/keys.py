"""Other servers' signing keys: fetch, verify, cache; verify signed JSON and events.

spec: server-server-api.md, "Retrieving server keys" and "Validating hashes
and signatures on received events"; rooms/fragments/v5-signing-requirements.md
(a key's ``valid_until_ts`` must cover the event's ``origin_server_ts``, and
we honour at most 7 days of it).

Keys come from ``GET /_matrix/key/v2/server`` on the server itself or, when
``federation.trusted_key_servers`` is set, from those notaries through
``POST /_matrix/key/v2/query`` (falling back to the server itself). Every
response must be self-signed by the server's own listed keys; notary answers
must also carry the notary's signature. Verified keys and the signed
responses are cached in the database; concurrent fetches for one server share
one request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from federation.clock import Clock
from federation.crypto.base64 import encode_base64
from federation.crypto.signing import (
    ED25519,
    SignatureError,
    SigningKey,
    decode_verify_key,
    verify_json_signature,
)
from federation.rooms.events import Event
from federation.rooms.hashes import event_id_domain
from federation.rooms.redaction import redact_pdu
from federation.transport.client import FederationClient
from federation.transport.errors import FederationError

logger = logging.getLogger(__name__)

__all__ = [
    "KeyRing", "OwnSigningKey", "ServerKeyRepository", "SignatureError", "StoredVerifyKey",
    "TrustedKeyServer", "VerifyKey", "parse_key_response",
]

# rooms/fragments/v5-signing-requirements.md: "the lesser of valid_until_ts and 7 days".
MAX_KEY_VALIDITY_MS = 7 * 24 * 3600 * 1000
KEY_FETCH_TIMEOUT_S = 15.0
MIN_REFETCH_INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class StoredVerifyKey:
    """A verified key of another server as the repository keeps it."""

    server_name: str
    key_id: str
    verify_key: str  # unpadded base64
    valid_until_ts: int
    expired_ts: int | None
    fetched_ts: int


@dataclass(frozen=True, slots=True)
class OwnSigningKey:
    """One of our own signing keys, current (``expired_ts`` None) or earlier."""

    key_id: str
    verify_key: str
    first_used_ts: int
    expired_ts: int | None


class ServerKeyRepository(Protocol):
    """Where the key ring keeps verified keys, signed responses and our key history."""

    async def get_verify_keys(self, server_name: str) -> Mapping[str, StoredVerifyKey]: ...

    async def store_server_keys(
        self, server_name: str, response: dict[str, Any], keys: list[StoredVerifyKey]
    ) -> None: ...

    async def get_key_responses(self, server_name: str) -> list[dict[str, Any]]: ...

    async def get_own_keys(self) -> Sequence[OwnSigningKey]: ...

    async def record_current_own_key(self, key_id: str, verify_key: str, now_ts: int) -> None: ...


@dataclass(frozen=True, slots=True)
class TrustedKeyServer:
    """A notary asked through ``/_matrix/key/v2/query``."""

    server_name: str
    # Pinned keys ("ed25519:abc" -> base64); when set, answers must be signed by one of them.
    verify_keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VerifyKey:
    server_name: str
    key_id: str
    key_bytes: bytes
    valid_until_ts: int  # the response's valid_until_ts, as published
    expired_ts: int | None  # set for keys from old_verify_keys
    fetched_ts: int

    def usable_until(self) -> int:
        """The last millisecond this key may sign things we accept."""
        if self.expired_ts is not None:
            return self.expired_ts
        return min(self.valid_until_ts, self.fetched_ts + MAX_KEY_VALIDITY_MS)

    def to_stored(self) -> StoredVerifyKey:
        return StoredVerifyKey(
            self.server_name, self.key_id, encode_base64(self.key_bytes), self.valid_until_ts,
            self.expired_ts, self.fetched_ts,
        )

    @classmethod
    def from_stored(cls, stored: StoredVerifyKey) -> VerifyKey:
        return cls(
            stored.server_name, stored.key_id, decode_verify_key(stored.verify_key),
            stored.valid_until_ts, stored.expired_ts, stored.fetched_ts,
        )


def parse_key_response(response: Any, server_name: str, now_ts: int) -> list[VerifyKey]:
    """Check a ``/_matrix/key/v2/server`` response and return the keys it lists.

    It must name ``server_name``, carry an integer ``valid_until_ts`` and be
    signed by every one of its ``verify_keys`` (spec: keys_server.yaml,
    "signatures ... signed using the verify_keys").
    """
    if not isinstance(response, dict):
        raise SignatureError("key response is not a JSON object")
    if response.get("server_name") != server_name:
        raise SignatureError(f"key response names {response.get('server_name')!r}, not {server_name!r}")
    valid_until_ts = response.get("valid_until_ts")
    if not isinstance(valid_until_ts, int) or isinstance(valid_until_ts, bool):
        raise SignatureError("key response has no integer valid_until_ts")
    verify_keys = response.get("verify_keys")
    if not isinstance(verify_keys, dict) or not verify_keys:
        raise SignatureError("key response has no verify_keys")
    keys: list[VerifyKey] = []
    for key_id, entry in verify_keys.items():
        key_bytes = _key_bytes(key_id, entry)
        if key_bytes is None:
            continue  # an algorithm we do not know: skipped, not an error
        verify_json_signature(response, server_name, key_id, key_bytes)
        keys.append(VerifyKey(server_name, key_id, key_bytes, valid_until_ts, None, now_ts))
    if not keys:
        raise SignatureError("key response lists no ed25519 key")
    old_verify_keys = response.get("old_verify_keys", {})
    if isinstance(old_verify_keys, dict):
        for key_id, entry in old_verify_keys.items():
            expired_ts = entry.get("expired_ts") if isinstance(entry, dict) else None
            key_bytes = _key_bytes(key_id, entry)
            if key_bytes is None or not isinstance(expired_ts, int) or key_id in verify_keys:
                continue
            keys.append(VerifyKey(server_name, key_id, key_bytes, valid_until_ts, expired_ts, now_ts))
    return keys


def _key_bytes(key_id: str, entry: Any) -> bytes | None:
    if not key_id.startswith(ED25519 + ":"):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise SignatureError(f"key {key_id} has no 'key'")
    return decode_verify_key(entry["key"])


def _responses_cover(responses: list[dict[str, Any]], key_ids: list[str], minimum_valid_until_ts: int) -> bool:
    fresh = [r for r in responses if r.get("valid_until_ts", 0) >= minimum_valid_until_ts]
    if not fresh:
        return False
    listed = {k for r in fresh for k in (*r.get("verify_keys", {}), *r.get("old_verify_keys", {}))}
    return all(k in listed for k in key_ids)


def required_event_signers(event: Event) -> set[str]:
    """Servers whose signature an event needs.

    spec: server-server-api.md, "Validating hashes and signatures on received
    events": the sender's server, and in room versions 1 and 2 also the server
    named in the event ID. Restricted joins (v8+) are also signed by the
    authorising user's server (rooms/v8.md, ``join_authorised_via_users_server``).
    """
    signers = {_server_of(event.sender)}
    version = event.room_version
    if version.event_id_in_pdu:
        signers.add(event_id_domain(event.event_id))
    if (
        version.restricted_join_rule
        and event.type == "m.room.member"
        and event.membership == "join"
    ):
        authoriser = event.content.get("join_authorised_via_users_server")
        if isinstance(authoriser, str) and ":" in authoriser:
            signers.add(_server_of(authoriser))
    return signers


def _server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


class KeyRing:
    """Verify keys of other servers, and signature checks against them."""

    def __init__(
        self,
        store: ServerKeyRepository,
        client: FederationClient,
        clock: Clock,
        server_name: str,
        signing_key: SigningKey,
        trusted_key_servers: Sequence[TrustedKeyServer] = (),
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.server_name = server_name
        self.signing_key = signing_key
        self.trusted_key_servers = tuple(trusted_key_servers)
        self._keys: dict[str, dict[str, VerifyKey]] = {}
        self._in_flight: dict[str, asyncio.Task[dict[str, VerifyKey]]] = {}
        self._own_old_keys: dict[str, VerifyKey] = {}
        # When each server's keys were last fetched successfully (monotonic seconds).
        self._last_fetched: dict[str, float] = {}

    # --- public API -------------------------------------------------------------
    async def verify_json(
        self, server_name: str, obj: dict[str, Any], *, valid_at_ts: int | None = None,
        strict_json: bool = True,
    ) -> None:
        """Check ``server_name``'s signature on ``obj``; raise ``SignatureError``.

        At least one of its ed25519 signatures must come from a key valid at
        ``valid_at_ts`` (default: now; 0 accepts any known key), and every such
        signature must verify. ``strict_json=False`` for events of room versions 1-5.
        """
        signatures = obj.get("signatures")
        by_server = signatures.get(server_name) if isinstance(signatures, dict) else None
        if not isinstance(by_server, dict) or not by_server:
            raise SignatureError(f"not signed by {server_name}")
        key_ids = [k for k in by_server if isinstance(k, str) and k.startswith(ED25519 + ":")]
        if not key_ids:
            raise SignatureError(f"no ed25519 signature from {server_name}")
        at_ts = self.clock.time_ms() if valid_at_ts is None else valid_at_ts
        keys = await self.get_keys(server_name, key_ids, at_ts)
        usable = [keys[k] for k in key_ids if k in keys and keys[k].usable_until() >= at_ts]
        if not usable:
            raise SignatureError(
                f"no key of {server_name} valid at {at_ts} for key IDs {', '.join(sorted(key_ids))}"
            )
        for key in usable:
            verify_json_signature(obj, server_name, key.key_id, key.key_bytes, strict=strict_json)

    async def verify_event_signatures(self, event: Event) -> None:
        """Signature checks of a received PDU; raise ``SignatureError`` if one fails.

        spec: rooms/fragments/v5-signing-requirements.md — from room version 5 a key
        counts only if it was valid at the event's ``origin_server_ts``; in earlier
        versions any known key of the server does.
        """
        version = event.room_version
        redacted = redact_pdu(event.pdu, version)
        valid_at_ts = event.origin_server_ts if version.enforce_key_validity else 0
        for server_name in sorted(required_event_signers(event)):
            if not server_name:
                raise SignatureError("event sender has no server name")
            await self.verify_json(
                server_name, redacted, valid_at_ts=valid_at_ts,
                strict_json=version.strict_canonical_json,
            )

    async def get_verify_key(self, server_name: str, key_id: str, *, valid_at_ts: int | None = None) -> bytes:
        """The public key bytes of ``key_id``, valid at ``valid_at_ts`` (default now)."""
        at_ts = self.clock.time_ms() if valid_at_ts is None else valid_at_ts
        keys = await self.get_keys(server_name, [key_id], at_ts)
        key = keys.get(key_id)
        if key is None:
            raise SignatureError(f"unknown key {key_id} of {server_name}")
        if key.usable_until() < at_ts:
            raise SignatureError(f"key {key_id} of {server_name} is not valid at {at_ts}")
        return key.key_bytes

    async def get_keys(self, server_name: str, key_ids: Iterable[str], valid_at_ts: int) -> dict[str, VerifyKey]:
        """Known keys of a server, fetching when one of ``key_ids`` is missing or too old."""
        wanted = list(key_ids)
        if server_name == self.server_name:
            return self._own_keys()
        keys = await self._cached(server_name)
        if all(k in keys and keys[k].usable_until() >= valid_at_ts for k in wanted):
            return keys
        # An old key (expired_ts) will not become valid again by fetching.
        if all(k in keys and keys[k].expired_ts is not None for k in wanted):
            return keys
        # Requests naming key IDs the server does not publish must not make us
        # re-fetch its keys for every request: one refetch per interval.
        fetched_at = self._last_fetched.get(server_name)
        if fetched_at is not None and self.clock.monotonic() - fetched_at < MIN_REFETCH_INTERVAL_S:
            return keys
        try:
            fetched = await self._fetch_shared(server_name, wanted, valid_at_ts)
        except (FederationError, SignatureError) as e:
            logger.info("could not fetch keys of %s: %s", server_name, e)
            return keys
        return {**keys, **fetched}

    async def stop(self) -> None:
        """Cancel key fetches still in flight (shutdown)."""
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def own_old_keys(self) -> dict[str, VerifyKey]:
        """Our earlier signing keys (``expired_ts`` set), for ``old_verify_keys``."""
        return dict(self._own_old_keys)

    async def notary_responses(
        self, server_name: str, key_ids: list[str], minimum_valid_until_ts: int
    ) -> list[dict[str, Any]]:
        """Signed key responses of another server, as a notary returns them.

        Cached responses are used when they cover ``key_ids`` (all keys when
        empty) until ``minimum_valid_until_ts``; otherwise the keys are fetched
        afresh. If that fails, whatever is cached is returned (spec: notaries
        may answer for offline servers from cache).
        """
        cached = await self.store.get_key_responses(server_name)
        if not _responses_cover(cached, key_ids, minimum_valid_until_ts):
            try:
                await self._fetch_shared(server_name, key_ids, minimum_valid_until_ts)
            except (FederationError, SignatureError) as e:
                logger.info("notary: could not refresh keys of %s: %s", server_name, e)
            cached = await self.store.get_key_responses(server_name)
        return cached

    # --- cache --------------------------------------------------------------------
    async def load(self) -> None:
        """Record our current signing key; earlier ones become old_verify_keys."""
        key = self.signing_key
        await self.store.record_current_own_key(key.key_id, key.verify_key_base64, self.clock.time_ms())
        self._own_old_keys = {
            own.key_id: VerifyKey(
                self.server_name, own.key_id, decode_verify_key(own.verify_key),
                own.expired_ts, own.expired_ts, own.first_used_ts,
            )
            for own in await self.store.get_own_keys()
            if own.expired_ts is not None
        }

    def _own_keys(self) -> dict[str, VerifyKey]:
        key = self.signing_key
        now = self.clock.time_ms()
        current = VerifyKey(self.server_name, key.key_id, key.verify_key_bytes, now + MAX_KEY_VALIDITY_MS, None, now)
        return {**self._own_old_keys, key.key_id: current}

    async def _cached(self, server_name: str) -> dict[str, VerifyKey]:
        keys = self._keys.get(server_name)
        if keys is None:
            stored = await self.store.get_verify_keys(server_name)
            loaded = {key_id: VerifyKey.from_stored(s) for key_id, s in stored.items()}
            # A fetch may have filled the cache while we read: keep what it found (newer
            # than our read) and add the stored keys it did not bring, never the reverse.
            keys = self._keys.setdefault(server_name, {})
            for key_id, key in loaded.items():
                keys.setdefault(key_id, key)
        return keys

    async def _fetch_shared(
        self, server_name: str, key_ids: list[str], minimum_valid_until_ts: int
    ) -> dict[str, VerifyKey]:
        """One fetch per server at a time; concurrent callers wait for the same one."""
        task = self._in_flight.get(server_name)
        if task is None:
            task = asyncio.create_task(
                self._fetch_and_store(server_name, key_ids, minimum_valid_until_ts),
                name=f"fetch-keys:{server_name}",
            )
            self._in_flight[server_name] = task
            task.add_done_callback(lambda _t: self._in_flight.pop(server_name, None))
        return await asyncio.shield(task)

    async def _fetch_and_store(
        self, server_name: str, key_ids: list[str], minimum_valid_until_ts: int
    ) -> dict[str, VerifyKey]:
        responses = await self._fetch_responses(server_name, key_ids, minimum_valid_until_ts)
        now = self.clock.time_ms()
        merged: dict[str, VerifyKey] = {}
        problems: list[str] = []
        for response in responses:
            try:
                keys = parse_key_response(response, server_name, now)
            except SignatureError as e:
                problems.append(str(e))
                continue
            await self.store.store_server_keys(server_name, response, [k.to_stored() for k in keys])
            for key in keys:
                current = merged.get(key.key_id)
                if current is None or key.valid_until_ts >= current.valid_until_ts:
                    merged[key.key_id] = key
        if not merged:
            raise SignatureError(f"no valid key response for {server_name}: {'; '.join(problems)}")
        cache = self._keys.setdefault(server_name, {})
        cache.update(merged)
        self._last_fetched[server_name] = self.clock.monotonic()
        return merged

    # --- fetching -----------------------------------------------------------------
    async def _fetch_responses(
        self, server_name: str, key_ids: list[str], minimum_valid_until_ts: int
    ) -> list[dict[str, Any]]:
        errors: list[str] = []
        for notary in self.trusted_key_servers:
            if notary.server_name == server_name:
                continue
            try:
                responses = await self._query_notary(
                    notary.server_name, notary.verify_keys, server_name, key_ids, minimum_valid_until_ts
                )
            except (FederationError, SignatureError) as e:
                errors.append(f"{notary.server_name}: {e}")
                continue
            if responses:
                return responses
        try:
            response = await self.client.get_json(
                server_name, "/_matrix/key/v2/server", timeout=KEY_FETCH_TIMEOUT_S
            )
        except FederationError as e:
            errors.append(f"{server_name}: {e}")
            raise SignatureError(f"cannot fetch keys of {server_name}: {'; '.join(errors)}") from None
        return [response]

    async def _query_notary(
        self,
        notary: str,
        pinned_keys: Mapping[str, str],
        server_name: str,
        key_ids: list[str],
        minimum_valid_until_ts: int,
    ) -> list[dict[str, Any]]:
        """Ask a notary; each answer must be self-signed and signed by the notary."""
        # minimum_valid_until_ts prompts the notary to refresh (v5 signing requirements).
        criteria = {key_id: {"minimum_valid_until_ts": minimum_valid_until_ts} for key_id in key_ids}
        answer = await self.client.post_json(
            notary,
            "/_matrix/key/v2/query",
            {"server_keys": {server_name: criteria}},
            timeout=KEY_FETCH_TIMEOUT_S,
        )
        server_keys = answer.get("server_keys") if isinstance(answer, dict) else None
        if not isinstance(server_keys, list):
            raise SignatureError(f"notary {notary} answered without a server_keys list")
        responses = []
        for response in server_keys:
            if not isinstance(response, dict) or response.get("server_name") != server_name:
                continue
            await self._check_notary_signature(notary, pinned_keys, response)
            responses.append(response)
        return responses

    async def _check_notary_signature(self, notary: str, pinned_keys: Mapping[str, str], response: dict[str, Any]) -> None:
        if pinned_keys:
            for key_id, key_base64 in pinned_keys.items():
                try:
                    verify_json_signature(response, notary, key_id, decode_verify_key(key_base64))
                    return
                except SignatureError:
                    continue
            raise SignatureError(f"notary answer is not signed by a pinned key of {notary}")
        await self.verify_json(notary, response)

