"""End-to-end encryption for Parley clients: Olm and Megolm from the Matrix spec.

Public API:

* `OlmAccount` — identity keys, one-time and fallback keys, signing,
  creating `OlmSession`s.
* `OlmSession` — the Olm double ratchet (m.olm.v1.curve25519-aes-sha2).
* `OutboundGroupSession` / `InboundGroupSession` — Megolm (m.megolm.v1.aes-sha2).
* `PickleStore` / `CryptoState` — an Argon2id + SecretBox encrypted store.
* `encrypt_attachment` / `decrypt_attachment` — AES-256-CTR encrypted attachments (files in encrypted rooms).
* `encrypt_key_export` / `decrypt_key_export` — the room key export file.
* Exceptions in `clients.crypto.errors`, all derived from `CryptoError`.
"""

from clients.crypto.attachments import EncryptedAttachment, decrypt_attachment, encrypt_attachment
from clients.crypto.errors import (
    AttachmentError,
    AttachmentHashMismatchError,
    CryptoError,
    DecodeError,
    KeyAgreementError,
    MacMismatchError,
    MegolmIndexError,
    MegolmReplayError,
    OlmSessionError,
    PickleStoreError,
    SignatureError,
    UnknownOneTimeKeyError,
    UnsupportedStoreError,
    WrongPassphraseError,
)
from clients.crypto.key_export import decrypt_key_export, encrypt_key_export, exported_session_data
from clients.crypto.megolm import InboundGroupSession, OutboundGroupSession
from clients.crypto.olm_account import MEGOLM_ALGORITHM, OLM_ALGORITHM, OlmAccount
from clients.crypto.olm_messages import NORMAL_MESSAGE_TYPE, PRE_KEY_MESSAGE_TYPE
from clients.crypto.olm_session import OlmSession
from clients.crypto.pickle_store import CryptoState, KdfParameters, PickleStore, store_seal
from clients.crypto.signed_json import verify_signature

__all__ = [
    "AttachmentError",
    "AttachmentHashMismatchError",
    "EncryptedAttachment",
    "UnsupportedStoreError",
    "WrongPassphraseError",
    "decrypt_attachment",
    "encrypt_attachment",
    "MEGOLM_ALGORITHM",
    "NORMAL_MESSAGE_TYPE",
    "OLM_ALGORITHM",
    "PRE_KEY_MESSAGE_TYPE",
    "CryptoError",
    "CryptoState",
    "DecodeError",
    "InboundGroupSession",
    "KdfParameters",
    "KeyAgreementError",
    "MacMismatchError",
    "MegolmIndexError",
    "MegolmReplayError",
    "OlmAccount",
    "OlmSession",
    "OlmSessionError",
    "OutboundGroupSession",
    "PickleStore",
    "PickleStoreError",
    "SignatureError",
    "UnknownOneTimeKeyError",
    "decrypt_key_export",
    "encrypt_key_export",
    "exported_session_data",
    "store_seal",
    "verify_signature",
]
