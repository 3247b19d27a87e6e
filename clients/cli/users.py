"""User references as people type them: `bob`, `@bob`, `@bob:example.org` (pure, plus one
lookup). A bare name means a user of the profile's own server."""

from __future__ import annotations

from clients.cli.errors import CliError, ExitCode
from clients.cli.session import Context
from schemas.identifiers import server_of


def qualify(reference: str, own_user_id: str) -> str:
    """The full user ID for `reference`; a name without a server gets the profile's server."""
    text = reference.strip()
    localpart, colon, server = text.removeprefix("@").partition(":")
    if not localpart or (colon and not server) or any(c.isspace() for c in text):
        raise CliError(ExitCode.USAGE, f"not a user: {reference!r} (give a name like bob or @bob:example.org)")
    return f"@{localpart}:{server if colon else server_of(own_user_id)}"


def user_id_for(ctx: Context, reference: str) -> str:
    return qualify(reference, ctx.logged_in_client().require_user_id())
