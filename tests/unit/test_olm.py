"""Olm accounts and sessions, checked against vodozemac (the Rust reference
implementation) as an oracle in both directions."""

from __future__ import annotations

import json
import random

import pytest
import vodozemac

from clients.crypto import (
    NORMAL_MESSAGE_TYPE,
    PRE_KEY_MESSAGE_TYPE,
    DecodeError,
    KeyAgreementError,
    MacMismatchError,
    OlmAccount,
    OlmSession,
    OlmSessionError,
    UnknownOneTimeKeyError,
    verify_signature,
)
from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.olm_messages import OlmMessage, PreKeyMessage
from clients.crypto.olm_session import MAX_MESSAGE_GAP

# --- adapters between Matrix-style (type, base64 body) and vodozemac objects ---------------


def to_vodozemac(message: tuple[int, str]) -> vodozemac.AnyOlmMessage:
    message_type, body = message
    return vodozemac.AnyOlmMessage.from_parts(message_type, decode_base64(body))


def from_vodozemac(message: vodozemac.AnyOlmMessage) -> tuple[int, str]:
    message_type, raw = message.to_parts()
    return message_type, encode_base64(raw)


def vodozemac_one_time_key(account: vodozemac.Account) -> str:
    account.generate_one_time_keys(1)
    key = next(iter(account.one_time_keys.values())).to_base64()
    account.mark_keys_as_published()
    return key


def curve(key: str) -> vodozemac.Curve25519PublicKey:
    return vodozemac.Curve25519PublicKey.from_base64(key)


def parley_to_vodozemac_pair() -> tuple[OlmSession, vodozemac.Session]:
    """Parley (Alice) starts a session; vodozemac (Bob) answers it."""
    alice = OlmAccount.create()
    bob = vodozemac.Account()
    session = alice.create_outbound_session(bob.curve25519_key.to_base64(), vodozemac_one_time_key(bob))
    first = session.encrypt("hello bob")
    pre_key = to_vodozemac(first).to_pre_key()
    assert pre_key is not None
    bob_session, plaintext = bob.create_inbound_session(curve(alice.curve25519_key), pre_key)
    assert plaintext == b"hello bob"
    return session, bob_session


def vodozemac_to_parley_pair() -> tuple[vodozemac.Session, OlmSession, OlmAccount]:
    """vodozemac (Alice) starts a session; Parley (Bob) answers it."""
    alice = vodozemac.Account()
    bob = OlmAccount.create()
    bob.generate_one_time_keys(1)
    key_id, one_time_key = next(iter(bob.one_time_keys.items()))
    alice_session = alice.create_outbound_session(curve(bob.curve25519_key), curve(one_time_key))
    message_type, body = from_vodozemac(alice_session.encrypt(b"hello parley"))
    assert message_type == PRE_KEY_MESSAGE_TYPE
    session, plaintext = bob.create_inbound_session(alice.curve25519_key.to_base64(), body)
    assert plaintext == b"hello parley"
    return alice_session, session, bob


# --- cross-implementation: Parley starts --------------------------------------------------


def test_parley_outbound_session_id_matches_vodozemac() -> None:
    session, bob_session = parley_to_vodozemac_pair()
    assert session.session_id == bob_session.session_id


def test_parley_keeps_sending_pre_key_messages_until_it_hears_back() -> None:
    session, bob_session = parley_to_vodozemac_pair()
    for n in range(3):
        message = session.encrypt(f"again {n}")
        assert message[0] == PRE_KEY_MESSAGE_TYPE
        assert bob_session.decrypt(to_vodozemac(message)) == f"again {n}".encode()


def test_conversation_started_by_parley_turns_the_ratchet_both_ways() -> None:
    session, bob_session = parley_to_vodozemac_pair()
    for round_ in range(4):
        for n in range(3):
            reply = from_vodozemac(bob_session.encrypt(f"bob {round_}.{n}".encode()))
            assert reply[0] == NORMAL_MESSAGE_TYPE
            assert session.decrypt(*reply) == f"bob {round_}.{n}".encode()
        for n in range(3):
            message = session.encrypt(f"alice {round_}.{n}")
            assert message[0] == NORMAL_MESSAGE_TYPE
            assert bob_session.decrypt(to_vodozemac(message)) == f"alice {round_}.{n}".encode()


def test_parley_decrypts_vodozemac_messages_out_of_order_within_a_chain() -> None:
    session, bob_session = parley_to_vodozemac_pair()
    replies = [from_vodozemac(bob_session.encrypt(f"r{n}".encode())) for n in range(5)]
    for n in (3, 0, 4, 1, 2):
        assert session.decrypt(*replies[n]) == f"r{n}".encode()


def test_vodozemac_decrypts_parley_messages_out_of_order_within_a_chain() -> None:
    session, bob_session = parley_to_vodozemac_pair()
    session.decrypt(*from_vodozemac(bob_session.encrypt(b"ack")))
    messages = [session.encrypt(f"m{n}") for n in range(5)]
    for n in (4, 2, 0, 3, 1):
        assert bob_session.decrypt(to_vodozemac(messages[n])) == f"m{n}".encode()


def test_parley_decrypts_a_late_message_from_an_earlier_chain() -> None:
    session, bob_session = parley_to_vodozemac_pair()
    late = from_vodozemac(bob_session.encrypt(b"from chain 1, delivered late"))
    session.decrypt(*from_vodozemac(bob_session.encrypt(b"from chain 1")))
    bob_session.decrypt(to_vodozemac(session.encrypt("turn")))
    session.decrypt(*from_vodozemac(bob_session.encrypt(b"from chain 3")))
    assert session.decrypt(*late) == b"from chain 1, delivered late"


# --- cross-implementation: vodozemac starts ------------------------------------------------


def test_vodozemac_outbound_session_id_matches_parley() -> None:
    alice_session, session, _ = vodozemac_to_parley_pair()
    assert session.session_id == alice_session.session_id


def test_conversation_started_by_vodozemac_turns_the_ratchet_both_ways() -> None:
    alice_session, session, _ = vodozemac_to_parley_pair()
    for round_ in range(4):
        for n in range(3):
            message = session.encrypt(f"parley {round_}.{n}")
            assert message[0] == NORMAL_MESSAGE_TYPE  # Bob has received, so no pre-key wrapper
            assert alice_session.decrypt(to_vodozemac(message)) == f"parley {round_}.{n}".encode()
        for n in range(3):
            reply = from_vodozemac(alice_session.encrypt(f"vodozemac {round_}.{n}".encode()))
            assert session.decrypt(*reply) == f"vodozemac {round_}.{n}".encode()


def test_parley_inbound_session_decrypts_further_pre_key_messages() -> None:
    alice_session, session, _ = vodozemac_to_parley_pair()
    for n in range(3):
        message = from_vodozemac(alice_session.encrypt(f"pre-key {n}".encode()))
        assert message[0] == PRE_KEY_MESSAGE_TYPE
        assert session.matches(message[1])
        assert session.decrypt(*message) == f"pre-key {n}".encode()


def test_out_of_order_both_ways_in_a_vodozemac_started_session() -> None:
    alice_session, session, _ = vodozemac_to_parley_pair()
    ours = [session.encrypt(f"p{n}") for n in range(4)]
    for n in (2, 3, 0, 1):
        assert alice_session.decrypt(to_vodozemac(ours[n])) == f"p{n}".encode()
    theirs = [from_vodozemac(alice_session.encrypt(f"v{n}".encode())) for n in range(4)]
    for n in (3, 1, 0, 2):
        assert session.decrypt(*theirs[n]) == f"v{n}".encode()


def test_pickled_session_continues_with_vodozemac() -> None:
    session, bob_session = parley_to_vodozemac_pair()
    session.decrypt(*from_vodozemac(bob_session.encrypt(b"one")))
    restored = OlmSession.from_dict(json.loads(json.dumps(session.to_dict())))
    assert bob_session.decrypt(to_vodozemac(restored.encrypt("two"))) == b"two"
    assert restored.decrypt(*from_vodozemac(bob_session.encrypt(b"three"))) == b"three"


# --- Parley with itself: long randomised conversation ----------------------------------------


def test_long_conversation_with_random_turns_and_reordering() -> None:
    rng = random.Random(1234)
    alice, bob = OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(1)
    a = alice.create_outbound_session(bob.curve25519_key, next(iter(bob.one_time_keys.values())))
    b, first = bob.create_inbound_session(alice.curve25519_key, a.encrypt("start")[1])
    assert first == b"start"
    sides = {"a": (a, b), "b": (b, a)}
    for turn in range(30):
        sender, receiver = sides[rng.choice("ab")]
        batch = [(f"{turn}.{n}", sender.encrypt(f"{turn}.{n}")) for n in range(rng.randint(1, 4))]
        rng.shuffle(batch)
        for text, message in batch:
            assert receiver.decrypt(*message) == text.encode()


# --- integrity and misuse ----------------------------------------------------------------------


def established_pair() -> tuple[OlmSession, OlmSession]:
    alice, bob = OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(1)
    a = alice.create_outbound_session(bob.curve25519_key, next(iter(bob.one_time_keys.values())))
    b, _ = bob.create_inbound_session(alice.curve25519_key, a.encrypt("hi")[1])
    return a, b


def flip(body: str, position: int) -> str:
    raw = bytearray(decode_base64(body))
    raw[position] ^= 0x01
    return encode_base64(bytes(raw))


def test_tampered_ciphertext_fails_mac_and_leaves_session_usable() -> None:
    a, b = established_pair()
    message_type, body = b.encrypt("genuine")
    with pytest.raises(MacMismatchError):
        a.decrypt(message_type, flip(body, -10))  # inside the ciphertext
    assert a.decrypt(message_type, body) == b"genuine"


def test_tampered_mac_fails() -> None:
    a, b = established_pair()
    message_type, body = b.encrypt("genuine")
    with pytest.raises(MacMismatchError):
        a.decrypt(message_type, flip(body, -1))  # last byte of the 8-byte MAC


def test_tampered_chain_index_fails() -> None:
    a, b = established_pair()
    message = OlmMessage.from_bytes(decode_base64(b.encrypt("genuine")[1]))
    forged = OlmMessage(message.ratchet_key, message.chain_index + 1, message.ciphertext, message.mac)
    with pytest.raises(MacMismatchError):
        a.decrypt(NORMAL_MESSAGE_TYPE, encode_base64(forged.to_bytes()))


def test_replayed_message_is_rejected_because_its_key_was_used() -> None:
    a, b = established_pair()
    message = b.encrypt("once")
    assert a.decrypt(*message) == b"once"
    with pytest.raises(OlmSessionError):
        a.decrypt(*message)


def test_replayed_out_of_order_message_is_rejected_because_its_skipped_key_was_used() -> None:
    a, b = established_pair()
    late = b.encrypt("delivered late")
    a.decrypt(*b.encrypt("delivered first"))
    assert a.decrypt(*late) == b"delivered late"
    with pytest.raises(OlmSessionError):
        a.decrypt(*late)


def ratchet_key_of(message: tuple[int, str]) -> bytes:
    raw = decode_base64(message[1])
    if message[0] == PRE_KEY_MESSAGE_TYPE:
        return PreKeyMessage.from_bytes(raw).message.ratchet_key
    return OlmMessage.from_bytes(raw).ratchet_key


def test_sender_starts_a_new_ratchet_key_after_each_reply() -> None:
    # spec: "If the receiver created a new receiver chain then they discard their
    # current sender chain so that they will create a new chain when they next send"
    a, b = established_pair()
    seen: set[bytes] = set()
    for _ in range(3):
        a.decrypt(*b.encrypt("reply"))
        first, second = a.encrypt("one"), a.encrypt("two")
        assert ratchet_key_of(first) == ratchet_key_of(second)
        assert ratchet_key_of(first) not in seen
        seen.add(ratchet_key_of(first))
        b.decrypt(*first)
        b.decrypt(*second)


def test_gap_beyond_limit_is_refused() -> None:
    a, b = established_pair()
    for _ in range(MAX_MESSAGE_GAP + 1):
        b.encrypt("lost")
    with pytest.raises(OlmSessionError):
        a.decrypt(*b.encrypt("too far ahead"))


def test_wrong_version_and_unknown_type_are_decode_errors() -> None:
    a, b = established_pair()
    message_type, body = b.encrypt("x")
    raw = bytearray(decode_base64(body))
    raw[0] = 2
    with pytest.raises(DecodeError):
        a.decrypt(message_type, encode_base64(bytes(raw)))
    with pytest.raises(DecodeError):
        a.decrypt(7, body)


def test_pre_key_message_matching() -> None:
    alice, bob = OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(2)
    key_1, key_2 = bob.one_time_keys.values()
    first = alice.create_outbound_session(bob.curve25519_key, key_1)
    second = alice.create_outbound_session(bob.curve25519_key, key_2)
    body_1, body_2 = first.encrypt("1")[1], second.encrypt("2")[1]
    session, _ = bob.create_inbound_session(alice.curve25519_key, body_1)
    assert session.matches(body_1)
    assert session.matches(body_1, alice.curve25519_key)
    assert not session.matches(body_1, bob.curve25519_key)
    assert not session.matches(body_2)
    with pytest.raises(OlmSessionError):
        session.decrypt(PRE_KEY_MESSAGE_TYPE, body_2)


def test_pre_key_message_from_unexpected_identity_is_refused() -> None:
    alice, bob, mallory = OlmAccount.create(), OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(1)
    session = alice.create_outbound_session(bob.curve25519_key, next(iter(bob.one_time_keys.values())))
    with pytest.raises(OlmSessionError):
        bob.create_inbound_session(mallory.curve25519_key, session.encrypt("hi")[1])


def test_low_order_one_time_key_is_refused() -> None:
    alice, bob = OlmAccount.create(), OlmAccount.create()
    with pytest.raises(KeyAgreementError):
        alice.create_outbound_session(bob.curve25519_key, encode_base64(bytes(32)))


# --- account ---------------------------------------------------------------------------------


def test_one_time_keys_are_listed_until_published() -> None:
    account = OlmAccount.create()
    account.generate_one_time_keys(5)
    keys = account.one_time_keys
    assert len(keys) == 5 and len(set(keys)) == 5
    assert all(len(decode_base64(key)) == 32 for key in keys.values())
    account.mark_keys_as_published()
    assert account.one_time_keys == {}
    account.generate_one_time_keys(2)
    assert len(account.one_time_keys) == 2 and not set(account.one_time_keys) & set(keys)


def test_one_time_key_is_consumed_by_inbound_session() -> None:
    alice, bob = OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(1)
    one_time_key = next(iter(bob.one_time_keys.values()))
    body = alice.create_outbound_session(bob.curve25519_key, one_time_key).encrypt("hi")[1]
    bob.create_inbound_session(alice.curve25519_key, body)
    assert bob.one_time_keys == {}
    with pytest.raises(UnknownOneTimeKeyError):
        bob.create_inbound_session(alice.curve25519_key, body)


def test_failed_pre_key_message_does_not_consume_the_one_time_key() -> None:
    alice, bob = OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(1)
    one_time_key = next(iter(bob.one_time_keys.values()))
    body = alice.create_outbound_session(bob.curve25519_key, one_time_key).encrypt("hi")[1]
    with pytest.raises(MacMismatchError):
        bob.create_inbound_session(alice.curve25519_key, flip(body, -1))
    assert bob.one_time_keys == {"AAAAAQ": one_time_key}
    bob.create_inbound_session(alice.curve25519_key, body)


def test_fallback_key_serves_several_sessions_and_survives_one_rotation() -> None:
    bob = OlmAccount.create()
    bob.generate_fallback_key()
    fallback = next(iter(bob.fallback_key.values()))
    bob.mark_keys_as_published()
    assert bob.fallback_key == {}
    for text in ("first", "second"):
        alice = vodozemac.Account()
        alice_session = alice.create_outbound_session(curve(bob.curve25519_key), curve(fallback))
        body = from_vodozemac(alice_session.encrypt(text.encode()))[1]
        assert bob.create_inbound_session(alice.curve25519_key.to_base64(), body)[1] == text.encode()
    bob.generate_fallback_key()
    alice = OlmAccount.create()
    body = alice.create_outbound_session(bob.curve25519_key, fallback).encrypt("old key")[1]
    assert bob.create_inbound_session(alice.curve25519_key, body)[1] == b"old key"
    bob.forget_old_fallback_key()
    body = alice.create_outbound_session(bob.curve25519_key, fallback).encrypt("too old")[1]
    with pytest.raises(UnknownOneTimeKeyError):
        bob.create_inbound_session(alice.curve25519_key, body)


def test_account_signature_verifies_with_vodozemac() -> None:
    account = OlmAccount.create()
    signature = account.sign("a message")
    vodozemac.Ed25519PublicKey.from_base64(account.ed25519_key).verify_signature(
        b"a message", vodozemac.Ed25519Signature.from_base64(signature)
    )


def test_device_keys_and_one_time_keys_are_signed_json() -> None:
    account = OlmAccount.create()
    account.generate_one_time_keys(2)
    account.generate_fallback_key()
    device_keys = account.device_keys("@alice:example.org", "DEVICE")
    assert device_keys["keys"] == {
        "curve25519:DEVICE": account.curve25519_key,
        "ed25519:DEVICE": account.ed25519_key,
    }
    assert device_keys["algorithms"] == ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]
    signed = [
        device_keys,
        *account.signed_one_time_keys("@alice:example.org", "DEVICE").values(),
        *account.signed_fallback_keys("@alice:example.org", "DEVICE").values(),
    ]
    assert len(signed) == 4
    for obj in signed:
        verify_signature(obj, "@alice:example.org", "ed25519:DEVICE", account.ed25519_key)
    assert [o.get("fallback") for o in signed[1:]] == [None, None, True]


def test_account_pickle_round_trip_keeps_keys_and_sessions_working() -> None:
    bob = OlmAccount.create()
    bob.generate_one_time_keys(3)
    bob.generate_fallback_key()
    restored = OlmAccount.from_dict(json.loads(json.dumps(bob.to_dict())))
    assert restored.identity_keys == bob.identity_keys
    assert restored.one_time_keys == bob.one_time_keys
    assert restored.fallback_key == bob.fallback_key
    alice = vodozemac.Account()
    one_time_key = next(iter(restored.one_time_keys.values()))
    alice_session = alice.create_outbound_session(curve(restored.curve25519_key), curve(one_time_key))
    body = from_vodozemac(alice_session.encrypt(b"to the restored account"))[1]
    assert restored.create_inbound_session(None, body)[1] == b"to the restored account"


def test_pre_key_message_layout_matches_olm_md() -> None:
    alice, bob = OlmAccount.create(), OlmAccount.create()
    bob.generate_one_time_keys(1)
    one_time_key = next(iter(bob.one_time_keys.values()))
    session = alice.create_outbound_session(bob.curve25519_key, one_time_key)
    raw = decode_base64(session.encrypt("x")[1])
    assert raw[0] == 3  # version byte
    assert raw[1:3] == b"\x0a\x20" and raw[3:35] == decode_base64(one_time_key)
    parsed = PreKeyMessage.from_bytes(raw)
    assert parsed.identity_key == decode_base64(alice.curve25519_key)
    assert parsed.message.chain_index == 0
    assert len(parsed.message.mac) == 8
