"""The encrypted store of Olm/Megolm state: round trips, wrong passphrases, damage."""

from __future__ import annotations

import json
from pathlib import Path

import nacl.pwhash
import pytest

from clients.crypto import (
    CryptoState,
    InboundGroupSession,
    KdfParameters,
    OlmAccount,
    OutboundGroupSession,
    PickleStore,
    PickleStoreError,
    UnsupportedStoreError,
    WrongPassphraseError,
    store_seal,
)

# The cheapest Argon2id parameters libsodium allows, so the tests stay fast.
FAST_KDF = KdfParameters(
    opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN, memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN
)


def populated_state() -> tuple[CryptoState, OlmAccount, OutboundGroupSession]:
    alice, bob = OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(3)
    bob.generate_fallback_key()
    alice_session = alice.create_outbound_session(bob.curve25519_key, next(iter(bob.one_time_keys.values())))
    bob_session, _ = bob.create_inbound_session(alice.curve25519_key, alice_session.encrypt("hi")[1])
    bob_session.encrypt("pending")
    remote_group = OutboundGroupSession()
    inbound = InboundGroupSession(remote_group.session_key)
    inbound.decrypt(remote_group.encrypt("seen"))
    state = CryptoState(
        account=bob,
        olm_sessions={alice.curve25519_key: [bob_session]},
        inbound_group_sessions={("!room:hs", alice.curve25519_key, inbound.session_id): inbound},
        outbound_group_sessions={"!room:hs": OutboundGroupSession()},
    )
    return state, alice, remote_group


def test_missing_store_loads_as_none(tmp_path: Path) -> None:
    assert PickleStore(tmp_path / "crypto.json", "pw", FAST_KDF).load() is None


def test_save_then_load_round_trips_everything(tmp_path: Path) -> None:
    state, alice, remote_group = populated_state()
    PickleStore(tmp_path / "crypto.json", "correct horse", FAST_KDF).save(state)

    loaded = PickleStore(tmp_path / "crypto.json", "correct horse").load()  # KDF params come from the file
    assert loaded is not None
    assert loaded.to_dict() == state.to_dict()
    assert loaded.account.identity_keys == state.account.identity_keys
    (session,) = loaded.olm_sessions[alice.curve25519_key]
    assert session.session_id == state.olm_sessions[alice.curve25519_key][0].session_id
    ((key, inbound),) = loaded.inbound_group_sessions.items()
    assert key[0] == "!room:hs"
    assert inbound.decrypt(remote_group.encrypt("after reload"))[0] == b"after reload"
    assert loaded.outbound_group_sessions["!room:hs"].message_index == 0


def test_store_file_does_not_contain_secrets_in_clear(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    path = tmp_path / "crypto.json"
    PickleStore(path, "pw", FAST_KDF).save(state)
    text = path.read_text()
    envelope = json.loads(text)
    assert envelope["kdf"]["algorithm"] == "argon2id"
    secret = state.account.to_dict()["identity_secret"]
    assert secret not in text
    assert state.account.curve25519_key not in text


def test_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    PickleStore(tmp_path / "crypto.json", "right", FAST_KDF).save(state)
    with pytest.raises(PickleStoreError):
        PickleStore(tmp_path / "crypto.json", "wrong").load()


def test_corrupted_ciphertext_is_refused(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    path = tmp_path / "crypto.json"
    PickleStore(path, "pw", FAST_KDF).save(state)
    envelope = json.loads(path.read_text())
    ciphertext = envelope["ciphertext"]
    envelope["ciphertext"] = ciphertext[:40] + ("A" if ciphertext[40] != "A" else "B") + ciphertext[41:]
    path.write_text(json.dumps(envelope))
    with pytest.raises(PickleStoreError):
        PickleStore(path, "pw").load()


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crypto.json"
    path.write_text("not json")
    with pytest.raises(PickleStoreError):
        PickleStore(path, "pw").load()


def test_saving_again_replaces_the_state(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    store = PickleStore(tmp_path / "crypto.json", "pw", FAST_KDF)
    store.save(state)
    state.outbound_group_sessions["!room:hs"].encrypt("advance")
    state.outbound_group_sessions["!other:hs"] = OutboundGroupSession()
    store.save(state)
    loaded = PickleStore(tmp_path / "crypto.json", "pw").load()
    assert loaded is not None
    assert loaded.outbound_group_sessions["!room:hs"].message_index == 1
    assert set(loaded.outbound_group_sessions) == {"!room:hs", "!other:hs"}
    assert [p.name for p in tmp_path.iterdir()] == ["crypto.json"]  # no temporary files left


async def test_async_save_and_load(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    store = PickleStore(tmp_path / "crypto.json", "pw", FAST_KDF)
    await store.asave(state)
    loaded = await PickleStore(tmp_path / "crypto.json", "pw").aload()
    assert loaded is not None and loaded.to_dict() == state.to_dict()


def test_a_store_sealed_with_a_random_key_round_trips(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    key = PickleStore.new_key()
    PickleStore(tmp_path / "s", key=key).save(state)
    assert store_seal(tmp_path / "s") == "key"
    loaded = PickleStore(tmp_path / "s", key=key).load()
    assert loaded is not None and loaded.account.ed25519_key == state.account.ed25519_key
    assert state.account.curve25519_key.encode() not in (tmp_path / "s").read_bytes()


def test_the_seal_of_a_store_names_what_opens_it(tmp_path: Path) -> None:
    assert store_seal(tmp_path / "missing") is None
    state, _, _ = populated_state()
    PickleStore(tmp_path / "p", "passphrase", FAST_KDF).save(state)
    assert store_seal(tmp_path / "p") == "passphrase"


def test_a_wrong_key_or_the_wrong_kind_of_secret_is_refused(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    PickleStore(tmp_path / "k", key=PickleStore.new_key()).save(state)
    with pytest.raises(WrongPassphraseError, match="wrong key"):
        PickleStore(tmp_path / "k", key=PickleStore.new_key()).load()
    with pytest.raises(WrongPassphraseError, match="key file"):
        PickleStore(tmp_path / "k", "a passphrase").load()
    PickleStore(tmp_path / "p", "passphrase", FAST_KDF).save(state)
    with pytest.raises(WrongPassphraseError, match="sealed with a passphrase"):
        PickleStore(tmp_path / "p", key=PickleStore.new_key()).load()


def test_an_unknown_kdf_or_version_is_reported_as_unsupported(tmp_path: Path) -> None:
    state, _, _ = populated_state()
    path = tmp_path / "s"
    PickleStore(path, key=PickleStore.new_key()).save(state)
    envelope = json.loads(path.read_text())
    path.write_text(json.dumps({**envelope, "kdf": {"algorithm": "scrypt"}}))
    with pytest.raises(UnsupportedStoreError, match="scrypt"):
        store_seal(path)
    path.write_text(json.dumps({**envelope, "version": 99}))
    with pytest.raises(UnsupportedStoreError, match="version 99"):
        PickleStore(path, key=PickleStore.new_key()).load()
