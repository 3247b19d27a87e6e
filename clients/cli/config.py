"""Per-profile credentials under the user's config dir.

Layout: ``<config dir>/profiles/<name>.json`` holding the homeserver URL, user ID,
device ID and access token (never the password), mode 0600 in a 0700 directory.
The config dir is ``$PARLEY_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/parley``, else
``~/.config/parley``.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from clients.cli.errors import CliError, ExitCode

PROFILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEFAULT_PROFILE = "default"


def config_dir() -> Path:
    explicit = os.environ.get("PARLEY_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "parley"


@dataclass(frozen=True, slots=True)
class Credentials:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


class ProfileStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or config_dir()

    def path(self, name: str) -> Path:
        if not PROFILE_NAME.match(name) or name.startswith("."):
            raise CliError(ExitCode.USAGE, f"invalid profile name {name!r} (letters, digits, . _ -)")
        return self.root / "profiles" / f"{name}.json"

    def load(self, name: str) -> Credentials | None:
        try:
            data = orjson.loads(self.path(name).read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError as e:
            raise CliError(ExitCode.ERROR, f"profile {name!r} is corrupt: {e}") from None
        try:
            return Credentials(**{k: str(data[k]) for k in ("homeserver", "user_id", "device_id", "access_token")})
        except KeyError as e:
            raise CliError(ExitCode.ERROR, f"profile {name!r} lacks {e}") from None

    def require(self, name: str) -> Credentials:
        creds = self.load(name)
        if creds is None:
            raise CliError(ExitCode.NOT_LOGGED_IN, f"not logged in (profile {name!r}); run `parley login`")
        return creds

    def save(self, name: str, creds: Credentials) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        os.chmod(path.parent, 0o700)
        # Written to a 0600 temp file and renamed, so the token is never world-readable.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".profile-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(asdict(creds), option=orjson.OPT_INDENT_2))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def delete(self, name: str) -> bool:
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        folder = self.root / "profiles"
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
