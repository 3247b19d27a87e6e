"""Who may enter which room, beyond the room's own rules: checks registered by higher layers.

Local joins, knocks and invites reach the homeserver three ways (``RoomService`` for rooms we
hold, ``FederatedMembershipService`` for remote rooms, ``ResidentMembershipService`` for
invites from other servers); all three ask this one policy. The admin area registers the
blocked-room check (``ModerationService.check_blocked_join``) in its wiring.
"""

from __future__ import annotations

from collections.abc import Callable

# check(room_id, user_id) raises MatrixError to refuse.
JoinCheck = Callable[[str, str], None]


class JoinPolicy:
    def __init__(self) -> None:
        self._checks: list[JoinCheck] = []

    def add_check(self, check: JoinCheck) -> None:
        self._checks.append(check)

    def check(self, room_id: str, user_id: str) -> None:
        """Raise the first refusal for ``user_id`` entering ``room_id``."""
        for check in self._checks:
            check(room_id, user_id)
