"""The one error type handlers and services raise; a middleware renders it.

spec: client-server-api/_index.md, "Standard error response" and "Common error codes".
"""

from __future__ import annotations

from typing import Any


class MatrixError(Exception):
    """An error that reaches the client as ``{"errcode": ..., "error": ...}``."""

    def __init__(
        self,
        errcode: str,
        status: int,
        message: str,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.status = status
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errcode": self.errcode, "error": self.message}
        body.update(self.extra)
        return body

    def __repr__(self) -> str:
        return f"MatrixError({self.errcode!r}, {self.status}, {self.message!r})"


# Shorthands for the common cases, so call sites read like the spec.
def forbidden(message: str = "Forbidden") -> MatrixError:
    return MatrixError("M_FORBIDDEN", 403, message)


def not_found(message: str = "Not found") -> MatrixError:
    return MatrixError("M_NOT_FOUND", 404, message)


def bad_json(message: str) -> MatrixError:
    return MatrixError("M_BAD_JSON", 400, message)


def invalid_param(message: str) -> MatrixError:
    return MatrixError("M_INVALID_PARAM", 400, message)


def missing_param(message: str) -> MatrixError:
    return MatrixError("M_MISSING_PARAM", 400, message)


def unrecognized(status: int = 404, message: str = "Unrecognized request") -> MatrixError:
    return MatrixError("M_UNRECOGNIZED", status, message)


def limit_exceeded(retry_after_ms: int) -> MatrixError:
    return MatrixError(
        "M_LIMIT_EXCEEDED", 429, "Too many requests", retry_after_ms=retry_after_ms
    )
