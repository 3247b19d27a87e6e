"""The Olm double ratchet's key schedule (olm.md, "The Olm Algorithm").

Pure functions only: the session object in `olm_session.py` owns the state.
"""

from __future__ import annotations

from clients.crypto.primitives import AesSha2Keys, hkdf_sha256, hmac_sha256, x25519

ROOT_INFO = b"OLM_ROOT"
RATCHET_INFO = b"OLM_RATCHET"
KEYS_INFO = b"OLM_KEYS"


def triple_dh_alice(
    our_identity_secret: bytes,
    our_base_secret: bytes,
    their_identity_key: bytes,
    their_one_time_key: bytes,
) -> bytes:
    """S = ECDH(I_A, E_B) || ECDH(E_A, I_B) || ECDH(E_A, E_B), computed by Alice."""
    return (
        x25519(our_identity_secret, their_one_time_key)
        + x25519(our_base_secret, their_identity_key)
        + x25519(our_base_secret, their_one_time_key)
    )


def triple_dh_bob(
    our_identity_secret: bytes,
    our_one_time_secret: bytes,
    their_identity_key: bytes,
    their_base_key: bytes,
) -> bytes:
    """The same S computed by Bob from his private keys and Alice's public keys."""
    return (
        x25519(our_one_time_secret, their_identity_key)
        + x25519(our_identity_secret, their_base_key)
        + x25519(our_one_time_secret, their_base_key)
    )


def initial_root_and_chain(shared_secret: bytes) -> tuple[bytes, bytes]:
    """R_0 || C_00 = HKDF(0, S, "OLM_ROOT", 64)."""
    okm = hkdf_sha256(None, shared_secret, ROOT_INFO, 64)
    return okm[:32], okm[32:]


def advance_root(root_key: bytes, our_ratchet_secret: bytes, their_ratchet_key: bytes) -> tuple[bytes, bytes]:
    """R_i || C_i0 = HKDF(R_{i-1}, ECDH(T_{i-1}, T_i), "OLM_RATCHET", 64)."""
    okm = hkdf_sha256(root_key, x25519(our_ratchet_secret, their_ratchet_key), RATCHET_INFO, 64)
    return okm[:32], okm[32:]


def next_chain_key(chain_key: bytes) -> bytes:
    """C_i,j+1 = HMAC(C_ij, "\\x02")."""
    return hmac_sha256(chain_key, b"\x02")


def message_key(chain_key: bytes) -> bytes:
    """M_ij = HMAC(C_ij, "\\x01")."""
    return hmac_sha256(chain_key, b"\x01")


def message_cipher(message_key_bytes: bytes) -> AesSha2Keys:
    """AES key || HMAC key || IV = HKDF(0, M_ij, "OLM_KEYS", 80)."""
    return AesSha2Keys.derive(message_key_bytes, KEYS_INFO)
