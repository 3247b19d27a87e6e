"""Cross-signing keys and signatures (spec: client-server-api/modules/
end_to_end_encryption.md, "Cross-signing"; data/api/client-server/cross_signing.yaml).

A user has a master key, a self-signing key (signs their own devices) and a
user-signing key (signs other users' master keys). The self-signing and
user-signing keys must carry a signature by the master key. Signatures that a
user's user-signing key makes on someone else's master key are visible only to
that user; the user-signing key itself only to its owner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from federation.crypto.signing import decode_verify_key
from homeserver.core.key_signatures import check_signed, device_ed25519_key, signatures_of
from homeserver.core.requester import Requester
from homeserver.errors import MatrixError, bad_json, forbidden, missing_param
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.storage.accounts import AccountStore
from homeserver.storage.e2e_keys import E2EKeyStore, StoredSignature

JsonObject = dict[str, Any]
KEY_FIELDS = {"master_key": "master", "self_signing_key": "self_signing", "user_signing_key": "user_signing"}

# accounts' UiaSession (accounts is above this area): opaque here, only handed back to finish.
PasswordAuthSession = Any


class RequirePasswordAuth(Protocol):
    """``AccountService.require_password_auth``: run UIA with an m.login.password flow."""

    def __call__(
        self, *, action: str, auth: Mapping[str, Any] | None, requester: Requester | None
    ) -> Awaitable[PasswordAuthSession]: ...


# ``AccountService.uia.finish``: forget a session whose operation has been performed.
FinishPasswordAuth = Callable[[PasswordAuthSession], None]


def cross_signing_public_key(key: JsonObject) -> str:
    """The one ed25519 public key of a cross-signing key object."""
    keys = key.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise bad_json("keys must have exactly one property")
    (name, value), = keys.items()
    if not isinstance(name, str) or not isinstance(value, str) or name != f"ed25519:{value}":
        raise bad_json("keys must be {\"ed25519:<public key>\": \"<public key>\"}")
    try:
        decode_verify_key(value)
    except ValueError:
        raise bad_json("the public key is not a base64 Ed25519 key") from None
    return value


async def _no_password_auth(
    *, action: str, auth: Mapping[str, Any] | None, requester: Requester | None
) -> PasswordAuthSession:
    raise RuntimeError("CrossSigningService.use_password_auth was not called")


def _no_finish(session: PasswordAuthSession) -> None:
    raise RuntimeError("CrossSigningService.use_password_auth was not called")


def _without_signatures(obj: JsonObject) -> JsonObject:
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


class CrossSigningService:
    def __init__(
        self,
        store: E2EKeyStore,
        device_lists: DeviceListService,
        account_store: AccountStore,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.device_lists = device_lists
        self.account_store = account_store
        self.is_mine = is_mine
        self._require_password_auth: RequirePasswordAuth = _no_password_auth
        self._finish_password_auth: FinishPasswordAuth = _no_finish

    def use_password_auth(self, require_password_auth: RequirePasswordAuth, finish: FinishPasswordAuth) -> None:
        """How replacing cross-signing keys runs UIA (wired by the accounts area)."""
        self._require_password_auth = require_password_auth
        self._finish_password_auth = finish

    # --- POST /keys/device_signing/upload ---------------------------------------------------
    async def upload_keys(self, requester: Requester, body: JsonObject) -> None:
        user_id = requester.user_id
        new: dict[str, JsonObject] = {}
        for field, usage in KEY_FIELDS.items():
            key = body.get(field)
            if key is None:
                continue
            if not isinstance(key, dict):
                raise bad_json(f"{field} must be an object")
            if key.get("user_id") != user_id:
                raise MatrixError("M_INVALID_PARAM", 400, f"{field}.user_id must be {user_id}")
            usages = key.get("usage")
            if not isinstance(usages, list) or usage not in usages:
                raise MatrixError("M_INVALID_PARAM", 400, f"{field}.usage must include {usage}")
            cross_signing_public_key(key)
            new[usage] = {k: v for k, v in key.items() if k != "unsigned"}
        existing = await self.store.get_cross_signing_keys(user_id)

        # spec (v1.11): UIA unless there is no master key yet, or the request repeats
        # exactly the keys already stored.
        if "master" in existing and any(existing.get(t) != k for t, k in new.items()):
            session = await self._require_password_auth(
                action="device_signing_upload", auth=body.get("auth"), requester=requester
            )
            self._finish_password_auth(session)
        if not new:
            return

        master = new.get("master") or existing.get("master")
        if master is None:
            raise missing_param("No master signing key is available")
        master_public = cross_signing_public_key(master)
        device_ids = {d.device_id for d in await self.account_store.list_devices(user_id)}
        for usage, key in new.items():
            public = cross_signing_public_key(key)
            if public in device_ids:
                raise forbidden("Key ID in use: a cross-signing public key equals a device ID")
            if usage != "master":
                # spec: the self-signing and user-signing keys are signed by the master key.
                check_signed(key, user_id, f"ed25519:{master_public}", master_public)
        await self.store.set_cross_signing_keys(
            user_id, {usage: (cross_signing_public_key(k), k) for usage, k in new.items()}
        )
        await self.device_lists.record_device_change(user_id)

    # --- POST /keys/signatures/upload ---------------------------------------------------------
    async def upload_signatures(self, requester: Requester, body: JsonObject) -> JsonObject:
        """Verify and store each signature; return the ``failures`` map."""
        me = requester.user_id
        mine = await self.store.get_cross_signing_keys(me)
        failures: dict[str, dict[str, JsonObject]] = {}
        accepted: list[StoredSignature] = []
        changed_users: set[str] = set()
        for target_user, by_key in body.items():
            if not isinstance(by_key, dict):
                raise bad_json(f"{target_user} must map key IDs to signed objects")
            for key_id, signed in by_key.items():
                try:
                    if not isinstance(signed, dict):
                        raise bad_json("a signed object is expected")
                    found = await self._check_signature_upload(me, mine, target_user, key_id, signed)
                except MatrixError as e:
                    failures.setdefault(target_user, {})[key_id] = {"errcode": e.errcode, "error": e.message}
                    continue
                accepted.extend(found)
                changed_users.add(target_user)
        if accepted:
            await self.store.add_signatures(accepted)
            for user_id in changed_users:
                if self.is_mine(user_id):
                    await self.device_lists.record_device_change(user_id)
        return failures

    async def _check_signature_upload(
        self, me: str, mine: dict[str, JsonObject], target_user: str, key_id: str, signed: JsonObject
    ) -> list[StoredSignature]:
        all_signatures = signed.get("signatures")
        signatures = all_signatures.get(me) if isinstance(all_signatures, dict) else None
        if not isinstance(signatures, dict) or not signatures:
            raise MatrixError("M_INVALID_SIGNATURE", 400, f"No signature by {me}")
        if target_user == me:
            stored = await self._own_key(me, mine, key_id)
            if stored is None:
                raise MatrixError("M_NOT_FOUND", 404, f"Unknown key {key_id}")
            # The signing key: our self-signing key for a device; a device key for our master key.
            is_device = "device_id" in stored
            if is_device:
                signer = mine.get("self_signing")
                if signer is None:
                    raise MatrixError("M_MISSING_PARAM", 400, "No self-signing key uploaded")
                signer_keys = {f"ed25519:{cross_signing_public_key(signer)}": cross_signing_public_key(signer)}
            else:
                signer_keys = {}
                for device in await self.store.get_device_keys(me):
                    ed = device_ed25519_key(device.keys, device.device_id)
                    if ed is not None:
                        signer_keys[f"ed25519:{device.device_id}"] = ed
        else:
            theirs = await self.store.get_cross_signing_keys(target_user)
            stored = theirs.get("master")
            if stored is None or cross_signing_public_key(stored) != key_id:
                raise MatrixError("M_NOT_FOUND", 404, f"Unknown master key {key_id} of {target_user}")
            signer = mine.get("user_signing")
            if signer is None:
                raise MatrixError("M_MISSING_PARAM", 400, "No user-signing key uploaded")
            signer_keys = {f"ed25519:{cross_signing_public_key(signer)}": cross_signing_public_key(signer)}
        # spec: the signed object must match the stored key apart from its signatures.
        if _without_signatures(signed) != _without_signatures(stored):
            raise MatrixError("M_INVALID_SIGNATURE", 400, "Signed object does not match the stored key")
        out: list[StoredSignature] = []
        for signer_key_id, signature in signatures.items():
            public = signer_keys.get(signer_key_id)
            if public is None or not isinstance(signature, str):
                continue
            check_signed(signed, me, signer_key_id, public)
            out.append(StoredSignature(target_user, key_id, me, signer_key_id, signature))
        if not out:
            raise MatrixError("M_INVALID_SIGNATURE", 400, "No signature by a key allowed to sign this key")
        return out

    async def _own_key(self, me: str, mine: dict[str, JsonObject], key_id: str) -> JsonObject | None:
        master = mine.get("master")
        if master is not None and cross_signing_public_key(master) == key_id:
            return master
        devices = await self.store.get_device_keys(me, [key_id])
        return devices[0].keys if devices else None

    # --- for /keys/query -----------------------------------------------------------------------------
    async def keys_for_query(self, requester_id: str, user_id: str) -> dict[str, JsonObject]:
        """key_type -> key as /keys/query shows it to ``requester_id`` (with visible signatures)."""
        keys = await self.store.get_cross_signing_keys(user_id)
        if not keys:
            return {}
        if user_id != requester_id:
            keys.pop("user_signing", None)
        extra = await self.store.get_signatures(user_id)
        out: dict[str, JsonObject] = {}
        for key_type, key in keys.items():
            public = cross_signing_public_key(key)
            merged = signatures_of(key)
            for sig in extra:
                # Signatures by other users are visible only to the user who made them.
                if sig.target_key_id == public and sig.signer_user_id in (user_id, requester_id):
                    merged.setdefault(sig.signer_user_id, {})[sig.signer_key_id] = sig.signature
            out[key_type] = {**key, "signatures": merged} if merged else dict(key)
        return out
