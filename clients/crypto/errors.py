"""Exceptions raised by the Olm/Megolm implementation.

Every failure the caller can act on has its own type so that the SDK can
tell "this message was tampered with" apart from "I do not have the key".
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for every error raised by `clients.crypto`."""


class DecodeError(CryptoError):
    """A message, key or export could not be parsed (bad base64, bad framing, wrong version)."""


class MacMismatchError(CryptoError):
    """The message authentication code did not verify: the ciphertext was tampered with
    or was encrypted with a different key."""


class SignatureError(CryptoError):
    """An Ed25519 signature did not verify."""


class KeyAgreementError(CryptoError):
    """X25519 produced an all-zero shared secret (the peer sent a low-order point)."""


class OlmSessionError(CryptoError):
    """An Olm message cannot be decrypted by this session (unknown chain, key already
    used, gap too large) or a session cannot be created from a pre-key message."""


class UnknownOneTimeKeyError(OlmSessionError):
    """A pre-key message names a one-time key that this account does not hold
    (never generated, or already used)."""


class MegolmIndexError(CryptoError):
    """A Megolm message index lies before the first index this inbound session knows."""


class MegolmReplayError(CryptoError):
    """A Megolm message index was seen before with different content: a replay attack
    (spec: megolm.md, "Message Replays")."""


class PickleStoreError(CryptoError):
    """The encrypted store could not be opened (wrong passphrase or corrupted file)."""


class WrongPassphraseError(PickleStoreError):
    """The store's seal did not open with the passphrase or key given (or the file was altered)."""


class UnsupportedStoreError(PickleStoreError):
    """The store file is not a Parley crypto store, or uses a format or KDF this version does not know."""


class AttachmentError(CryptoError):
    """An encrypted attachment cannot be decrypted: its `file` object is malformed or
    uses an algorithm or version this client does not support."""


class AttachmentHashMismatchError(AttachmentError):
    """The downloaded ciphertext's SHA-256 differs from the one in the event: it was
    altered (or is another file), so it is not decrypted."""
