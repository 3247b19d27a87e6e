"""Where the sync loop keeps its position between runs (pluggable)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import orjson


class SyncStore(Protocol):
    def load_token(self) -> str | None: ...

    def save_token(self, token: str) -> None: ...


class MemorySyncStore:
    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def load_token(self) -> str | None:
        return self.token

    def save_token(self, token: str) -> None:
        self.token = token


class JsonFileSyncStore:
    """A JSON file ``{"next_batch": ...}``, replaced atomically on every save so a crash
    mid-write leaves the previous token, never a torn file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def load_token(self) -> str | None:
        token = self._read().get("next_batch")
        return token if isinstance(token, str) else None

    def save_token(self, token: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self._read()
        data["next_batch"] = token
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sync-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(data))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
