"""An Olm session: the double ratchet between two devices (olm.md, "The Olm Protocol").

Sessions are created by `OlmAccount.create_outbound_session` (we are Alice) or
`OlmAccount.create_inbound_session` (we are Bob, from a pre-key message).
State changes only after a message authenticates, so a forged or corrupted
message leaves the session untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from clients.crypto import olm_ratchet as ratchet
from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import DecodeError, OlmSessionError
from clients.crypto.olm_messages import (
    NORMAL_MESSAGE_TYPE,
    PRE_KEY_MESSAGE_TYPE,
    OlmMessage,
    PreKeyMessage,
)
from clients.crypto.primitives import Curve25519KeyPair, sha256

# Largest forward jump within one chain that we will compute keys for.
MAX_MESSAGE_GAP = 2000
# How many skipped message keys we keep for out-of-order messages.
MAX_SKIPPED_MESSAGE_KEYS = 40
# How many of the peer's ratchet chains we remember.
MAX_RECEIVER_CHAINS = 5

PICKLE_VERSION = 1


@dataclass
class SenderChain:
    ratchet: Curve25519KeyPair
    chain_key: bytes
    index: int


@dataclass
class ReceiverChain:
    ratchet_key: bytes
    chain_key: bytes
    index: int


@dataclass(frozen=True)
class SkippedMessageKey:
    ratchet_key: bytes
    index: int
    key: bytes


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def _parse_pre_key(message: str | bytes | PreKeyMessage) -> PreKeyMessage:
    if isinstance(message, PreKeyMessage):
        return message
    raw = decode_base64(message) if isinstance(message, str) else message
    return PreKeyMessage.from_bytes(raw)


class OlmSession:
    """One Olm session with another device.

    `encrypt` returns `(message_type, base64_body)` ready for an
    m.olm.v1.curve25519-aes-sha2 `ciphertext` entry; `decrypt` takes the same.
    """

    def __init__(
        self,
        *,
        alice_identity_key: bytes,
        alice_base_key: bytes,
        bob_one_time_key: bytes,
        their_identity_key: bytes,
        root_key: bytes,
        sender_chain: SenderChain | None,
        receiver_chains: list[ReceiverChain],
        skipped_message_keys: list[SkippedMessageKey] | None = None,
        received_message: bool,
    ) -> None:
        self._alice_identity_key = alice_identity_key
        self._alice_base_key = alice_base_key
        self._bob_one_time_key = bob_one_time_key
        self._their_identity_key = their_identity_key
        self._root_key = root_key
        self._sender_chain = sender_chain
        self._receiver_chains = receiver_chains
        self._skipped = skipped_message_keys or []
        self._received_message = received_message

    # --- creation -------------------------------------------------------------

    @classmethod
    def create_outbound(
        cls, our_identity: Curve25519KeyPair, their_identity_key: bytes, their_one_time_key: bytes
    ) -> OlmSession:
        """Alice's side: 3DH with a fresh base key E_A, then a fresh ratchet key T_0."""
        base = Curve25519KeyPair.generate()
        shared = ratchet.triple_dh_alice(
            our_identity.secret, base.secret, their_identity_key, their_one_time_key
        )
        root_key, chain_key = ratchet.initial_root_and_chain(shared)
        return cls(
            alice_identity_key=our_identity.public,
            alice_base_key=base.public,
            bob_one_time_key=their_one_time_key,
            their_identity_key=their_identity_key,
            root_key=root_key,
            sender_chain=SenderChain(Curve25519KeyPair.generate(), chain_key, 0),
            receiver_chains=[],
            received_message=False,
        )

    @classmethod
    def create_inbound(
        cls, our_identity: Curve25519KeyPair, our_one_time: Curve25519KeyPair, pre_key: PreKeyMessage
    ) -> tuple[OlmSession, bytes]:
        """Bob's side: rebuild R_0 and C_00 from the pre-key message, keep T_0 as the
        first receiver chain and decrypt the embedded message.
        Raises MacMismatchError if the message does not authenticate."""
        if pre_key.one_time_key != our_one_time.public:
            raise OlmSessionError("pre-key message is for a different one-time key")
        shared = ratchet.triple_dh_bob(
            our_identity.secret, our_one_time.secret, pre_key.identity_key, pre_key.base_key
        )
        root_key, chain_key = ratchet.initial_root_and_chain(shared)
        session = cls(
            alice_identity_key=pre_key.identity_key,
            alice_base_key=pre_key.base_key,
            bob_one_time_key=pre_key.one_time_key,
            their_identity_key=pre_key.identity_key,
            root_key=root_key,
            sender_chain=None,
            receiver_chains=[ReceiverChain(pre_key.message.ratchet_key, chain_key, 0)],
            received_message=False,
        )
        plaintext = session._decrypt_message(pre_key.message)
        return session, plaintext

    # --- identity -------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """SHA-256(I_A || E_A || E_B), unpadded base64 — the same on both sides."""
        return encode_base64(
            sha256(self._alice_identity_key + self._alice_base_key + self._bob_one_time_key)
        )

    @property
    def their_identity_key(self) -> str:
        """The other device's Curve25519 identity key (base64)."""
        return encode_base64(self._their_identity_key)

    @property
    def has_received_message(self) -> bool:
        """True once the peer has replied; from then on we send normal messages."""
        return self._received_message

    def matches(self, pre_key_message: str | bytes | PreKeyMessage, their_identity_key: str | None = None) -> bool:
        """Whether a pre-key message (base64 body, raw bytes or parsed) belongs to this
        session: same one-time key, base key and sender identity key."""
        try:
            pre_key = _parse_pre_key(pre_key_message)
            if their_identity_key is not None and decode_base64(their_identity_key) != pre_key.identity_key:
                return False
        except DecodeError:
            return False
        return (
            pre_key.one_time_key == self._bob_one_time_key
            and pre_key.base_key == self._alice_base_key
            and pre_key.identity_key == self._alice_identity_key
        )

    # --- encryption -----------------------------------------------------------

    def encrypt(self, plaintext: str | bytes) -> tuple[int, str]:
        """Encrypt with the next message key of our sender chain, ratcheting first if
        we have no sender chain. Returns (0, body) until the peer has replied, then (1, body)."""
        chain = self._sender_chain or self._start_sender_chain()
        key = ratchet.message_key(chain.chain_key)
        index = chain.index
        chain.chain_key = ratchet.next_chain_key(chain.chain_key)
        chain.index += 1

        cipher = ratchet.message_cipher(key)
        message = OlmMessage(chain.ratchet.public, index, cipher.encrypt(_as_bytes(plaintext)))
        message = replace(message, mac=cipher.mac(message.authenticated_bytes()))
        if self._received_message:
            return NORMAL_MESSAGE_TYPE, encode_base64(message.to_bytes())
        pre_key = PreKeyMessage(
            one_time_key=self._bob_one_time_key,
            base_key=self._alice_base_key,
            identity_key=self._alice_identity_key,
            message=message,
        )
        return PRE_KEY_MESSAGE_TYPE, encode_base64(pre_key.to_bytes())

    def _start_sender_chain(self) -> SenderChain:
        # spec: "If the chain key doesn't exist then a new ratchet key T_i is generated"
        if not self._receiver_chains:
            raise OlmSessionError("cannot ratchet: no ratchet key received from the peer")
        new_ratchet = Curve25519KeyPair.generate()
        self._root_key, chain_key = ratchet.advance_root(
            self._root_key, new_ratchet.secret, self._receiver_chains[0].ratchet_key
        )
        self._sender_chain = SenderChain(new_ratchet, chain_key, 0)
        return self._sender_chain

    # --- decryption -----------------------------------------------------------

    def decrypt(self, message_type: int, body: str | bytes) -> bytes:
        """Decrypt a message of Matrix type 0 (pre-key) or 1 (normal); `body` is the
        unpadded base64 string (or raw bytes). Returns the plaintext bytes."""
        raw = decode_base64(body) if isinstance(body, str) else body
        if message_type == PRE_KEY_MESSAGE_TYPE:
            pre_key = PreKeyMessage.from_bytes(raw)
            if not self.matches(pre_key):
                raise OlmSessionError("pre-key message belongs to a different session")
            message = pre_key.message
        elif message_type == NORMAL_MESSAGE_TYPE:
            message = OlmMessage.from_bytes(raw)
        else:
            raise DecodeError(f"unknown Olm message type {message_type}")
        return self._decrypt_message(message)

    def _decrypt_message(self, message: OlmMessage) -> bytes:
        chain = next((c for c in self._receiver_chains if c.ratchet_key == message.ratchet_key), None)
        if chain is None:
            plaintext = self._decrypt_in_new_chain(message)
        elif message.chain_index < chain.index:
            plaintext = self._decrypt_with_skipped_key(message)
        else:
            plaintext = self._decrypt_ahead(chain, message, commit_root=None)
        self._received_message = True
        return plaintext

    def _decrypt_in_new_chain(self, message: OlmMessage) -> bytes:
        # spec: "If the chain doesn't exist then they compute a new root key R_i and a
        # new receiver chain" from R_{i-1}, our T_{i-1} and their T_i.
        if self._sender_chain is None:
            raise OlmSessionError("message uses an unknown ratchet key")
        root_key, chain_key = ratchet.advance_root(
            self._root_key, self._sender_chain.ratchet.secret, message.ratchet_key
        )
        chain = ReceiverChain(message.ratchet_key, chain_key, 0)
        return self._decrypt_ahead(chain, message, commit_root=root_key)

    def _decrypt_ahead(self, chain: ReceiverChain, message: OlmMessage, commit_root: bytes | None) -> bytes:
        """Decrypt a message at or after the chain's current index, storing the keys
        we skip over. `commit_root` is set when `chain` is a new chain."""
        gap = message.chain_index - chain.index
        if gap > MAX_MESSAGE_GAP:
            raise OlmSessionError(f"message is {gap} messages ahead of the chain; limit is {MAX_MESSAGE_GAP}")
        chain_key = chain.chain_key
        skipped: list[SkippedMessageKey] = []
        for index in range(chain.index, message.chain_index):
            skipped.append(SkippedMessageKey(chain.ratchet_key, index, ratchet.message_key(chain_key)))
            chain_key = ratchet.next_chain_key(chain_key)
        plaintext = self._open(ratchet.message_key(chain_key), message)

        # authenticated: commit
        chain.chain_key = ratchet.next_chain_key(chain_key)
        chain.index = message.chain_index + 1
        if commit_root is not None:
            self._root_key = commit_root
            self._receiver_chains.insert(0, chain)
            del self._receiver_chains[MAX_RECEIVER_CHAINS:]
            self._sender_chain = None  # next send starts a new chain
        self._skipped.extend(skipped)
        del self._skipped[: max(0, len(self._skipped) - MAX_SKIPPED_MESSAGE_KEYS)]
        return plaintext

    def _decrypt_with_skipped_key(self, message: OlmMessage) -> bytes:
        for position, stored in enumerate(self._skipped):
            if stored.ratchet_key == message.ratchet_key and stored.index == message.chain_index:
                plaintext = self._open(stored.key, message)
                del self._skipped[position]  # each message key is used once
                return plaintext
        raise OlmSessionError(
            f"no message key for chain index {message.chain_index}: already used or discarded"
        )

    @staticmethod
    def _open(message_key: bytes, message: OlmMessage) -> bytes:
        cipher = ratchet.message_cipher(message_key)
        cipher.verify_mac(message.authenticated_bytes(), message.mac)
        return cipher.decrypt(message.ciphertext)

    # --- persistence ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of the session, secrets included."""
        b64 = encode_base64
        return {
            "version": PICKLE_VERSION,
            "alice_identity_key": b64(self._alice_identity_key),
            "alice_base_key": b64(self._alice_base_key),
            "bob_one_time_key": b64(self._bob_one_time_key),
            "their_identity_key": b64(self._their_identity_key),
            "root_key": b64(self._root_key),
            "sender_chain": None
            if self._sender_chain is None
            else {
                "ratchet_secret": b64(self._sender_chain.ratchet.secret),
                "chain_key": b64(self._sender_chain.chain_key),
                "index": self._sender_chain.index,
            },
            "receiver_chains": [
                {"ratchet_key": b64(c.ratchet_key), "chain_key": b64(c.chain_key), "index": c.index}
                for c in self._receiver_chains
            ],
            "skipped_message_keys": [
                {"ratchet_key": b64(k.ratchet_key), "index": k.index, "key": b64(k.key)}
                for k in self._skipped
            ],
            "received_message": self._received_message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OlmSession:
        if data.get("version") != PICKLE_VERSION:
            raise DecodeError(f"unsupported Olm session pickle version {data.get('version')}")
        d = decode_base64
        try:
            sender = data["sender_chain"]
            return cls(
                alice_identity_key=d(data["alice_identity_key"]),
                alice_base_key=d(data["alice_base_key"]),
                bob_one_time_key=d(data["bob_one_time_key"]),
                their_identity_key=d(data["their_identity_key"]),
                root_key=d(data["root_key"]),
                sender_chain=None
                if sender is None
                else SenderChain(
                    Curve25519KeyPair.from_secret(d(sender["ratchet_secret"])),
                    d(sender["chain_key"]),
                    int(sender["index"]),
                ),
                receiver_chains=[
                    ReceiverChain(d(c["ratchet_key"]), d(c["chain_key"]), int(c["index"]))
                    for c in data["receiver_chains"]
                ],
                skipped_message_keys=[
                    SkippedMessageKey(d(k["ratchet_key"]), int(k["index"]), d(k["key"]))
                    for k in data["skipped_message_keys"]
                ],
                received_message=bool(data["received_message"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"malformed Olm session pickle: {exc}") from exc
