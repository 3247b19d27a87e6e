"""Parley's async Matrix client SDK.

Sans-I/O core: ``api`` builds requests, ``responses`` parses answers, ``state`` /
``rooms`` / ``timeline`` keep the local model from /sync, ``content`` builds event
content. ``transport`` is the only module doing network I/O; ``AsyncClient`` ties them
together with retries and the sync loop.
"""

from clients.sdk.backoff import Backoff
from clients.sdk.client import AsyncClient
from clients.sdk.encryption import EncryptionUnavailableError, EventCrypto, NoEncryption
from clients.sdk.errors import (
    MatrixRequestError,
    NotLoggedInError,
    TransportError,
    UnsupportedAuthFlowError,
)
from clients.sdk.friends import Friend
from clients.sdk.responses import Session
from clients.sdk.rooms import Member, Room
from clients.sdk.state import ClientState, SyncUpdate
from clients.sdk.store import JsonFileSyncStore, MemorySyncStore, SyncStore
from clients.sdk.timeline import Timeline, TimelineItem

__all__ = [
    "AsyncClient", "Backoff", "ClientState", "EncryptionUnavailableError", "EventCrypto",
    "Friend", "JsonFileSyncStore", "MatrixRequestError", "Member", "MemorySyncStore",
    "NoEncryption", "NotLoggedInError", "Room", "Session", "SyncStore", "SyncUpdate",
    "Timeline", "TimelineItem", "TransportError", "UnsupportedAuthFlowError",
]
