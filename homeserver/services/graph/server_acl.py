"""Applying a room's m.room.server_acl to a request or transaction from another server.

spec: server-server-api.md, "Server Access Control Lists (ACLs)". The decision is the
pure ``federation.rooms.server_acl.room_allows_server``; this loads the room.
"""

from __future__ import annotations

from federation.rooms.server_acl import room_allows_server
from homeserver.errors import MatrixError
from homeserver.services.graph.events import EventService


async def check_server_acl(events: EventService, origin: str, room_id: str) -> None:
    """403 M_FORBIDDEN when the room's server ACL denies ``origin``.

    Rooms we do not know have no ACL we could apply.
    """
    room = await events.get_room(room_id)
    if room is not None and not room_allows_server(room.state, origin):
        raise MatrixError("M_FORBIDDEN", 403, f"Server {origin} is denied by the room's server ACL")
