"""The Megolm ratchet (megolm.md, "The Megolm ratchet algorithm").

Four 256-bit parts R_i,0..R_i,3. Part j changes every 2^(8(3-j)) steps: part
3 every step, part 2 every 2^8, part 1 every 2^16, part 0 every 2^24. When
part j changes, it is hashed with H_j and every lower part k > j is reseeded
with H_k of the *previous* value of part j. Advancing therefore costs at most
255 hashes per part (1020 in all), whatever the distance.
"""

from __future__ import annotations

from dataclasses import dataclass

from clients.crypto.primitives import AesSha2Keys, hmac_sha256, random_bytes

PART_LENGTH = 32
RATCHET_LENGTH = 4 * PART_LENGTH
MAX_INDEX = 2**32 - 1
KEYS_INFO = b"MEGOLM_KEYS"


def hash_part(j: int, value: bytes) -> bytes:
    """H_j(A) = HMAC(A, byte j)  (megolm.md, "Advancing the ratchet")."""
    return hmac_sha256(value, bytes([j]))


@dataclass(frozen=True)
class MegolmRatchet:
    """The ratchet value R_i at counter i. Immutable: advancing returns a new value."""

    index: int
    parts: tuple[bytes, bytes, bytes, bytes]

    @classmethod
    def generate(cls) -> MegolmRatchet:
        """A fresh ratchet: counter 0, 1024 bits of random data."""
        return cls.from_bytes(0, random_bytes(RATCHET_LENGTH))

    @classmethod
    def from_bytes(cls, index: int, data: bytes) -> MegolmRatchet:
        if len(data) != RATCHET_LENGTH:
            raise ValueError(f"a Megolm ratchet is {RATCHET_LENGTH} bytes")
        if not 0 <= index <= MAX_INDEX:
            raise ValueError("Megolm ratchet index must fit in 32 bits")
        return cls(index, (data[0:32], data[32:64], data[64:96], data[96:128]))

    def to_bytes(self) -> bytes:
        return b"".join(self.parts)

    def advance(self) -> MegolmRatchet:
        return self.advance_to(self.index + 1)

    def advance_to(self, target: int) -> MegolmRatchet:
        """R_target from R_index, for target >= index."""
        if target < self.index:
            raise ValueError("the Megolm ratchet cannot be wound backwards")
        if target > MAX_INDEX:
            raise ValueError("Megolm ratchet index must fit in 32 bits")
        parts = list(self.parts)
        current = self.index
        for j in range(4):
            shift = 8 * (3 - j)
            steps = ((target >> shift) - (current >> shift)) & 0xFF
            if steps == 0:
                continue
            # Every step hashes part j; only the last reseed of the lower parts survives.
            for _ in range(steps - 1):
                parts[j] = hash_part(j, parts[j])
            previous = parts[j]
            for k in range(j, 4):
                parts[k] = hash_part(k, previous)
            # The lower counter bits are now zero: continue from this multiple of 2^shift.
            current = target & ~((1 << shift) - 1)
        return MegolmRatchet(target, (parts[0], parts[1], parts[2], parts[3]))

    def message_cipher(self) -> AesSha2Keys:
        """AES key || HMAC key || IV = HKDF(0, R_i, "MEGOLM_KEYS", 80)."""
        return AesSha2Keys.derive(self.to_bytes(), KEYS_INFO)
