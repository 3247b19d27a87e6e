"""Signing key files on disk (the I/O beside the pure ``federation.crypto.signing``).

Key files use Synapse's format so operators can move keys between servers: one key per
line, ``ed25519 <version> <unpadded base64 of the 32-byte seed>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from federation.crypto.signing import (
    SigningKey,
    SigningKeyFileError,
    format_signing_key_line,
    parse_signing_key_line,
)


def read_signing_key_file(path: str | os.PathLike[str]) -> SigningKey:
    """Read the first key of a Synapse-format signing key file."""
    text = Path(path).read_text(encoding="ascii")
    for line_number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                return parse_signing_key_line(line)
            except SigningKeyFileError as e:
                raise SigningKeyFileError(f"{path}:{line_number}: {e}") from None
    raise SigningKeyFileError(f"{path}: no signing key found")


def write_signing_key_file(path: str | os.PathLike[str], key: SigningKey) -> None:
    """Write ``key`` in Synapse's format, readable only by its owner."""
    # Open with 0o600 so the secret is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(format_signing_key_line(key) + "\n")
