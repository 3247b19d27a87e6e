"""Megolm group sessions, checked against vodozemac as an oracle."""

from __future__ import annotations

import json

import pytest
import vodozemac

from clients.crypto import (
    DecodeError,
    InboundGroupSession,
    MacMismatchError,
    MegolmIndexError,
    MegolmReplayError,
    OutboundGroupSession,
    SignatureError,
)
from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.megolm_formats import MegolmMessage
from clients.crypto.megolm_ratchet import MegolmRatchet
from clients.crypto.primitives import Ed25519KeyPair

# --- Parley outbound -> vodozemac inbound ----------------------------------------------------


def test_parley_session_key_imports_into_vodozemac() -> None:
    outbound = OutboundGroupSession()
    inbound = vodozemac.InboundGroupSession(vodozemac.SessionKey(outbound.session_key))
    assert inbound.session_id == outbound.session_id
    assert inbound.first_known_index == 0


def test_vodozemac_decrypts_parley_messages_including_after_a_skip() -> None:
    outbound = OutboundGroupSession()
    inbound = vodozemac.InboundGroupSession(vodozemac.SessionKey(outbound.session_key))
    for n in range(5):
        decrypted = inbound.decrypt(vodozemac.MegolmMessage.from_base64(outbound.encrypt(f"msg {n}")))
        assert (decrypted.plaintext, decrypted.message_index) == (f"msg {n}".encode(), n)
    skipped = [outbound.encrypt("unseen") for _ in range(300)]
    late = outbound.encrypt("after the skip")
    decrypted = inbound.decrypt(vodozemac.MegolmMessage.from_base64(late))
    assert (decrypted.plaintext, decrypted.message_index) == (b"after the skip", 305)
    earlier = inbound.decrypt(vodozemac.MegolmMessage.from_base64(skipped[100]))
    assert (earlier.plaintext, earlier.message_index) == (b"unseen", 105)


@pytest.mark.parametrize("index", [255, 256, 2**16 + 17, 2**24 + 3, 0x01020304])
def test_vodozemac_agrees_with_parley_fast_forward_across_reseeding_points(index: int) -> None:
    ratchet = MegolmRatchet.generate()
    signing_key = Ed25519KeyPair.generate()
    inbound = vodozemac.InboundGroupSession(
        vodozemac.SessionKey(OutboundGroupSession(ratchet, signing_key).session_key)
    )
    far_ahead = OutboundGroupSession(ratchet.advance_to(index), signing_key)
    decrypted = inbound.decrypt(vodozemac.MegolmMessage.from_base64(far_ahead.encrypt("far ahead")))
    assert (decrypted.plaintext, decrypted.message_index) == (b"far ahead", index)


def test_message_index_counts_encrypted_messages() -> None:
    outbound = OutboundGroupSession()
    assert outbound.message_index == 0
    outbound.encrypt("a")
    outbound.encrypt("b")
    assert outbound.message_index == 2
    assert vodozemac.InboundGroupSession(vodozemac.SessionKey(outbound.session_key)).first_known_index == 2


# --- vodozemac outbound -> Parley inbound ----------------------------------------------------


def test_parley_decrypts_vodozemac_messages_including_after_a_skip() -> None:
    outbound = vodozemac.GroupSession()
    inbound = InboundGroupSession(outbound.session_key.to_base64())
    assert inbound.session_id == outbound.session_id
    for n in range(5):
        assert inbound.decrypt(outbound.encrypt(f"msg {n}".encode()).to_base64()) == (f"msg {n}".encode(), n)
    skipped = [outbound.encrypt(b"unseen").to_base64() for _ in range(600)]
    late = outbound.encrypt(b"after the skip").to_base64()
    assert inbound.decrypt(late) == (b"after the skip", 605)
    assert inbound.decrypt(skipped[0]) == (b"unseen", 5)  # going back uses the earliest ratchet
    assert inbound.decrypt(skipped[599]) == (b"unseen", 604)


def test_session_key_shared_mid_session_cannot_decrypt_earlier_messages() -> None:
    outbound = vodozemac.GroupSession()
    early = outbound.encrypt(b"before").to_base64()
    inbound = InboundGroupSession(outbound.session_key.to_base64())
    assert inbound.first_known_index == 1
    with pytest.raises(MegolmIndexError):
        inbound.decrypt(early)
    assert inbound.decrypt(outbound.encrypt(b"after").to_base64()) == (b"after", 1)


# --- session export (version 1) ----------------------------------------------------------------


def test_parley_export_imports_into_vodozemac_at_that_index() -> None:
    outbound = OutboundGroupSession()
    inbound = InboundGroupSession(outbound.session_key)
    messages = [outbound.encrypt(f"m{n}") for n in range(10)]
    exported = inbound.export_at(4)
    assert exported is not None
    assert decode_base64(exported)[0] == 1 and len(decode_base64(exported)) == 165
    theirs = vodozemac.InboundGroupSession.import_session(vodozemac.ExportedSessionKey(exported))
    assert theirs.first_known_index == 4
    assert theirs.decrypt(vodozemac.MegolmMessage.from_base64(messages[7])).plaintext == b"m7"


def test_vodozemac_export_imports_into_parley() -> None:
    outbound = vodozemac.GroupSession()
    theirs = vodozemac.InboundGroupSession(outbound.session_key)
    messages = [outbound.encrypt(f"m{n}".encode()).to_base64() for n in range(10)]
    exported = theirs.export_at(3)
    assert exported is not None
    ours = InboundGroupSession.import_session(exported.to_base64())
    assert (ours.first_known_index, ours.session_id, ours.is_verified) == (3, outbound.session_id, False)
    assert ours.decrypt(messages[9]) == (b"m9", 9)
    with pytest.raises(MegolmIndexError):
        ours.decrypt(messages[2])


def test_export_import_round_trip_and_export_before_first_index() -> None:
    outbound = OutboundGroupSession()
    outbound.encrypt("skip me")
    inbound = InboundGroupSession(outbound.session_key)
    assert inbound.is_verified
    assert inbound.export_at(0) is None
    message = outbound.encrypt("hello")
    copy = InboundGroupSession.import_session(inbound.export_at_first_known_index())
    assert copy.first_known_index == 1
    assert copy.decrypt(message) == (b"hello", 1)
    later = InboundGroupSession.import_session(inbound.export_at(2) or "")
    with pytest.raises(MegolmIndexError):
        later.decrypt(message)


def test_vodozemac_session_key_matches_parley_export_at_same_index() -> None:
    outbound = OutboundGroupSession()
    for _ in range(3):
        outbound.encrypt("x")
    shared = decode_base64(outbound.session_key)
    exported = decode_base64(InboundGroupSession(outbound.session_key).export_at(3) or "")
    # export = sharing format without signature, with version 1 instead of 2
    assert shared[0] == 2 and exported[0] == 1
    assert shared[1:165] == exported[1:]
    assert shared[1:5] == (3).to_bytes(4, "big")


# --- integrity ----------------------------------------------------------------------------------


def known_key_session() -> tuple[OutboundGroupSession, Ed25519KeyPair, InboundGroupSession]:
    signing_key = Ed25519KeyPair.generate()
    outbound = OutboundGroupSession(signing_key=signing_key)
    return outbound, signing_key, InboundGroupSession(outbound.session_key)


def resign(raw: bytes, signing_key: Ed25519KeyPair) -> str:
    signed = raw[:-64]
    return encode_base64(signed + signing_key.sign(signed))


def test_tampered_ciphertext_with_valid_signature_fails_mac() -> None:
    outbound, signing_key, inbound = known_key_session()
    raw = bytearray(decode_base64(outbound.encrypt("genuine")))
    raw[-(64 + 8 + 1)] ^= 0x01  # last ciphertext byte
    with pytest.raises(MacMismatchError):
        inbound.decrypt(resign(bytes(raw), signing_key))


def test_tampered_mac_with_valid_signature_fails_mac() -> None:
    outbound, signing_key, inbound = known_key_session()
    raw = bytearray(decode_base64(outbound.encrypt("genuine")))
    raw[-(64 + 1)] ^= 0x01  # last MAC byte
    with pytest.raises(MacMismatchError):
        inbound.decrypt(resign(bytes(raw), signing_key))


def test_tampered_message_without_the_signing_key_fails_signature() -> None:
    outbound, _, inbound = known_key_session()
    raw = bytearray(decode_base64(outbound.encrypt("genuine")))
    raw[-(64 + 8 + 1)] ^= 0x01
    with pytest.raises(SignatureError):
        inbound.decrypt(encode_base64(bytes(raw)))


def test_message_from_another_session_fails_signature() -> None:
    _, _, inbound = known_key_session()
    with pytest.raises(SignatureError):
        inbound.decrypt(OutboundGroupSession().encrypt("elsewhere"))


def test_session_key_with_bad_signature_is_refused() -> None:
    raw = bytearray(decode_base64(OutboundGroupSession().session_key))
    raw[10] ^= 0x01
    with pytest.raises(SignatureError):
        InboundGroupSession(encode_base64(bytes(raw)))


def test_malformed_inputs_are_decode_errors() -> None:
    with pytest.raises(DecodeError):
        InboundGroupSession(OutboundGroupSession().session_key[:100])
    with pytest.raises(DecodeError):
        InboundGroupSession.import_session(OutboundGroupSession().session_key)  # version 2, not 1
    _, _, inbound = known_key_session()
    with pytest.raises(DecodeError):
        inbound.decrypt("AwgA")


def test_same_message_decrypts_again_but_different_content_at_same_index_is_a_replay() -> None:
    outbound, _, inbound = known_key_session()
    twin = OutboundGroupSession.from_dict(outbound.to_dict())  # same ratchet and key
    genuine, forged = outbound.encrypt("genuine"), twin.encrypt("forged")
    assert MegolmMessage.from_bytes(decode_base64(forged)).message_index == 0
    assert inbound.decrypt(genuine) == (b"genuine", 0)
    assert inbound.decrypt(genuine) == (b"genuine", 0)  # re-reading history is fine
    with pytest.raises(MegolmReplayError):
        inbound.decrypt(forged)


def test_replay_tracking_survives_pickling() -> None:
    outbound, _, inbound = known_key_session()
    twin = OutboundGroupSession.from_dict(outbound.to_dict())
    inbound.decrypt(outbound.encrypt("genuine"))
    restored = InboundGroupSession.from_dict(json.loads(json.dumps(inbound.to_dict())))
    with pytest.raises(MegolmReplayError):
        restored.decrypt(twin.encrypt("forged"))


# --- pickling ------------------------------------------------------------------------------------


def test_outbound_pickle_round_trip_continues_the_ratchet() -> None:
    outbound = OutboundGroupSession()
    inbound = vodozemac.InboundGroupSession(vodozemac.SessionKey(outbound.session_key))
    outbound.encrypt("one")
    restored = OutboundGroupSession.from_dict(json.loads(json.dumps(outbound.to_dict())))
    assert (restored.session_id, restored.message_index) == (outbound.session_id, 1)
    decrypted = inbound.decrypt(vodozemac.MegolmMessage.from_base64(restored.encrypt("two")))
    assert (decrypted.plaintext, decrypted.message_index) == (b"two", 1)


def test_inbound_pickle_round_trip_keeps_first_known_index() -> None:
    outbound = vodozemac.GroupSession()
    inbound = InboundGroupSession(outbound.session_key.to_base64())
    first = outbound.encrypt(b"first").to_base64()
    inbound.decrypt(outbound.encrypt(b"second").to_base64())
    restored = InboundGroupSession.from_dict(json.loads(json.dumps(inbound.to_dict())))
    assert (restored.session_id, restored.first_known_index, restored.is_verified) == (
        outbound.session_id,
        0,
        True,
    )
    assert restored.decrypt(first) == (b"first", 0)
