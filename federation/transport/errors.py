"""Errors raised by the outbound federation client."""

from __future__ import annotations

from typing import Any


class FederationError(Exception):
    """Base class: a federation request did not produce a usable answer."""


class FederationHttpError(FederationError):
    """The remote server answered with a non-2xx status."""

    def __init__(self, status: int, errcode: str | None, message: str, body: Any) -> None:
        super().__init__(f"HTTP {status} {errcode or ''}: {message}".strip())
        self.status = status
        self.errcode = errcode
        self.message = message
        self.body = body


class FederationUnreachable(FederationError):
    """The remote server could not be reached (discovery, connection, TLS, timeout)."""

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(f"{destination} unreachable: {reason}")
        self.destination = destination
        self.reason = reason


class FederationBadResponse(FederationError):
    """The remote server answered 2xx with something that is not the expected JSON."""

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(f"bad response from {destination}: {reason}")
        self.destination = destination
        self.reason = reason


class FederationResponseTooLarge(FederationBadResponse):
    """The remote server's answer was longer than we accept for this request."""

    def __init__(self, destination: str, max_bytes: int) -> None:
        super().__init__(destination, f"response larger than {max_bytes} bytes")
        self.max_bytes = max_bytes
