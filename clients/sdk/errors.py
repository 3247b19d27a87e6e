"""Errors raised by the SDK."""

from __future__ import annotations

from typing import Any


class MatrixRequestError(Exception):
    """The server answered a request with an error (spec: "Standard error response").

    ``status`` is the HTTP status, ``errcode`` the Matrix error code (``M_FORBIDDEN``...),
    ``retry_after_ms`` is set for ``M_LIMIT_EXCEEDED`` (from the body or Retry-After).
    """

    def __init__(
        self,
        status: int,
        errcode: str,
        message: str,
        retry_after_ms: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {errcode}: {message}")
        self.status = status
        self.errcode = errcode
        self.message = message
        self.retry_after_ms = retry_after_ms
        self.body = body

    @property
    def is_transient(self) -> bool:
        """Worth retrying unchanged: rate limits and server-side failures."""
        return self.status == 429 or self.status >= 500 or self.errcode == "M_LIMIT_EXCEEDED"


class TransportError(Exception):
    """The request did not get an answer (connection refused, reset, timeout)."""


class NotLoggedInError(Exception):
    """A call needs an access token and the client has none."""


class UnsupportedAuthFlowError(Exception):
    """The server offers no user-interactive auth flow this client can complete."""

    def __init__(self, flows: list[list[str]]) -> None:
        super().__init__(f"no supported auth flow among {flows}")
        self.flows = flows
