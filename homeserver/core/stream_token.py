"""Sync tokens: one position per stream (spec: "since" and "next_batch" are opaque).

Form: ``s<events>_<account_data>_<receipts>_<to_device>_<device_lists>_<presence>_<typing>``.
A token missing trailing positions (an older format) reads them as 0.

Every /sync parses, clamps and serializes a token, so these avoid
``dataclasses.fields()``/``replace()`` and work on the positions as a tuple.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.errors import MatrixError


@dataclass(frozen=True, slots=True)
class StreamToken:
    events: int = 0
    account_data: int = 0
    receipts: int = 0
    to_device: int = 0
    device_lists: int = 0
    presence: int = 0
    typing: int = 0

    def as_tuple(self) -> tuple[int, int, int, int, int, int, int]:
        return (
            self.events, self.account_data, self.receipts, self.to_device,
            self.device_lists, self.presence, self.typing,
        )

    def serialize(self) -> str:
        return (
            f"s{self.events}_{self.account_data}_{self.receipts}_{self.to_device}"
            f"_{self.device_lists}_{self.presence}_{self.typing}"
        )

    @classmethod
    def parse(cls, raw: str) -> StreamToken:
        if not raw.startswith("s"):
            raise MatrixError("M_INVALID_PARAM", 400, "Unknown token format")
        parts = raw[1:].split("_")
        if len(parts) > len(STREAM_NAMES):
            raise MatrixError("M_INVALID_PARAM", 400, "Unknown token format")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise MatrixError("M_INVALID_PARAM", 400, "Unknown token format") from None
        if any(v < 0 for v in values[1:]):
            raise MatrixError("M_INVALID_PARAM", 400, "Unknown token format")
        return cls(*values)

    def with_position(self, stream: str, value: int) -> StreamToken:
        values = list(self.as_tuple())
        values[_INDEX[stream]] = value
        return StreamToken(*values)

    def position(self, stream: str) -> int:
        return int(getattr(self, stream))

    def advanced_past(self, other: StreamToken) -> bool:
        """True if any position in self is beyond other's."""
        return any(a > b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True))

    def clamp(self, current: StreamToken) -> StreamToken:
        """Positions ahead of the server's (in-memory streams after a restart) fall back."""
        mine, theirs = self.as_tuple(), current.as_tuple()
        if all(a <= b for a, b in zip(mine, theirs, strict=True)):
            return self
        return StreamToken(*(min(a, b) for a, b in zip(mine, theirs, strict=True)))


STREAM_NAMES = (
    "events", "account_data", "receipts", "to_device", "device_lists", "presence", "typing",
)
_INDEX = {name: i for i, name in enumerate(STREAM_NAMES)}
