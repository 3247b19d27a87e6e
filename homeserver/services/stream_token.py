"""Sync tokens: one position per stream (spec: "since" and "next_batch" are opaque).

Form: ``s<events>_<account_data>_<receipts>_<to_device>_<device_lists>_<presence>_<typing>``.
A token missing trailing positions (an older format) reads them as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

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
        names = [f.name for f in fields(cls)]
        if len(parts) > len(names):
            raise MatrixError("M_INVALID_PARAM", 400, "Unknown token format")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise MatrixError("M_INVALID_PARAM", 400, "Unknown token format") from None
        if any(v < 0 for v in values[1:]):
            raise MatrixError("M_INVALID_PARAM", 400, "Unknown token format")
        return cls(**dict(zip(names, values, strict=False)))

    def with_position(self, stream: str, value: int) -> StreamToken:
        return replace(self, **{stream: value})

    def position(self, stream: str) -> int:
        return int(getattr(self, stream))

    def advanced_past(self, other: StreamToken) -> bool:
        """True if any position in self is beyond other's."""
        return any(getattr(self, f.name) > getattr(other, f.name) for f in fields(self))

    def clamp(self, current: StreamToken) -> StreamToken:
        """Positions ahead of the server's (in-memory streams after a restart) fall back."""
        return StreamToken(
            **{
                f.name: min(getattr(self, f.name), getattr(current, f.name))
                for f in fields(self)
            }
        )


STREAM_NAMES = tuple(f.name for f in fields(StreamToken))
