"""The server's password policy (pure): Synapse's ``password_config.policy`` rules.

spec: client-server-api, "Password-based": a server MAY reject weak passwords with
``M_WEAK_PASSWORD`` (400). The rules and their names follow Synapse so operators can
carry their configuration over.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from homeserver.errors import MatrixError


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    enabled: bool = False
    minimum_length: int = 0
    require_digit: bool = False
    require_symbol: bool = False
    require_lowercase: bool = False
    require_uppercase: bool = False

    def problems(self, password: str) -> list[str]:
        """What ``password`` lacks, as phrases for one error message (empty when it passes)."""
        if not self.enabled:
            return []
        missing: list[str] = []
        if len(password) < self.minimum_length:
            missing.append(f"at least {self.minimum_length} characters")
        if self.require_digit and not any(c.isdigit() for c in password):
            missing.append("a digit")
        if self.require_symbol and not any(_is_symbol(c) for c in password):
            missing.append("a symbol")
        if self.require_lowercase and not any(c.islower() for c in password):
            missing.append("a lowercase letter")
        if self.require_uppercase and not any(c.isupper() for c in password):
            missing.append("an uppercase letter")
        return missing

    def check(self, password: str) -> None:
        """Raise 400 M_WEAK_PASSWORD naming every rule ``password`` breaks."""
        missing = self.problems(password)
        if missing:
            raise MatrixError("M_WEAK_PASSWORD", 400, "The password must contain " + ", ".join(missing))


def _is_symbol(c: str) -> bool:
    """Neither a letter nor a digit nor a space (Synapse: not alphanumeric)."""
    return not c.isalnum() and not unicodedata.category(c).startswith("Z")
