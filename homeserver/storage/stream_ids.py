"""Positions of a persisted stream (account data, receipts, to-device, ...).

A position is allocated *inside* the write transaction: the single batching
writer runs transactions one after another, so positions commit in order.
``current`` moves only once a write has committed, which is what sync reads
up to; a position is never visible before the row it numbers.
"""

from __future__ import annotations


class StreamIdGenerator:
    def __init__(self) -> None:
        self._next = 1
        self.current = 0

    def start_at(self, max_persisted: int) -> None:
        self._next = max_persisted + 1
        self.current = max_persisted

    def allocate(self) -> int:
        """Call from inside a write transaction."""
        position = self._next
        self._next += 1
        return position

    def committed(self, position: int) -> None:
        if position > self.current:
            self.current = position
