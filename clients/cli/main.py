"""`parley`: the Parley command line (scriptable subcommands and `parley chat`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from clients.cli.commands import (
    accounts,
    calls,
    encryption,
    messages,
    moderation,
    rooms,
    social,
    voice,
)
from clients.cli.config import DEFAULT_PROFILE, ProfileStore
from clients.cli.encryption import PASSPHRASE_ENV
from clients.cli.errors import CliError, ExitCode
from clients.cli.literal import one_line, shown
from clients.cli.output import Output
from clients.cli.session import Context
from clients.sdk import MatrixRequestError, NotLoggedInError, TransportError
from clients.sdk.encryption import EncryptionUnavailableError, UnsupportedAlgorithmError
from clients.sdk.errors import UnsupportedAuthFlowError

NOT_LOGGED_IN_CODES = {"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="Parley chat from the command line")
    parser.add_argument("--profile", "-p", default=os.environ.get("PARLEY_PROFILE", DEFAULT_PROFILE),
                        help="account profile to use (default: $PARLEY_PROFILE or 'default')")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--passphrase-stdin", action="store_true",
                        help="read the passphrase sealing this device's encryption keys from the first line of stdin "
                             f"(as ${PASSPHRASE_ENV}); without either, a key file beside the profile seals them")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    accounts.add_parsers(sub)
    rooms.add_parsers(sub)
    messages.add_parsers(sub)
    social.add_parsers(sub)
    encryption.add_parsers(sub)
    calls.add_parsers(sub)
    voice.add_parsers(sub)
    moderation.add_parsers(sub)
    chat = sub.add_parser("chat", help="interactive terminal chat")
    chat.set_defaults(func=run_chat)
    accept_json_anywhere(parser)
    return parser


def accept_json_anywhere(parser: argparse.ArgumentParser) -> None:
    """`--json` (and `--passphrase-stdin`) after the subcommand too (`parley rooms --json`), in every subcommand at any depth.

    SUPPRESS keeps a subcommand from resetting a `--json` given before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                if "--json" not in subparser._option_string_actions:
                    subparser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                                           help="machine-readable output")
                if "--passphrase-stdin" not in subparser._option_string_actions:
                    subparser.add_argument("--passphrase-stdin", action="store_true", default=argparse.SUPPRESS,
                                           help="read the encryption passphrase from the first line of stdin")
                accept_json_anywhere(subparser)


async def run_chat(ctx: Context, args: argparse.Namespace) -> int:
    from clients.cli.chat.app import ChatApp

    client = await ctx.encrypted_client()
    app = ChatApp(client)
    await app.run_async()
    return ExitCode.OK


def exit_code_for(error: BaseException) -> tuple[ExitCode, str]:
    if isinstance(error, CliError):
        return error.code, error.message
    if isinstance(error, MatrixRequestError):
        if error.errcode in NOT_LOGGED_IN_CODES:
            return ExitCode.NOT_LOGGED_IN, f"not logged in: {error.message or error.errcode} (run `parley login`)"
        if error.status == 404 or error.errcode == "M_NOT_FOUND":
            return ExitCode.NOT_FOUND, f"not found: {error.message or error.errcode}"
        return ExitCode.ERROR, f"server error: {error.errcode}: {error.message}"
    if isinstance(error, NotLoggedInError):
        return ExitCode.NOT_LOGGED_IN, str(error)
    if isinstance(error, TransportError):
        return ExitCode.ERROR, f"cannot reach the homeserver: {one_line(error)}"
    if isinstance(error, UnsupportedAlgorithmError):
        return ExitCode.ERROR, f"cannot send: {error}"
    if isinstance(error, EncryptionUnavailableError):
        return ExitCode.ERROR, f"{error}: this device's encryption keys could not be loaded"
    if isinstance(error, OSError):  # a local file that cannot be read or written
        if error.filename:
            return ExitCode.ERROR, f"{error.strerror or error}: {error.filename}"
        return ExitCode.ERROR, str(error) or type(error).__name__
    if isinstance(error, UnsupportedAuthFlowError):
        return ExitCode.ERROR, f"the server asks for a sign-up step parley cannot do: {error}"
    raise error


async def run(args: argparse.Namespace) -> int:
    ctx = Context(profile=args.profile, profiles=ProfileStore(), out=Output(args.json))
    if args.passphrase_stdin:
        # The first line of stdin, before the command reads a password or a message from it.
        ctx.passphrase = sys.stdin.readline().rstrip("\r\n")
        if not ctx.passphrase:
            raise CliError(ExitCode.USAGE, "--passphrase-stdin: the first line of stdin is empty")
    try:
        return int(await args.func(ctx, args))
    finally:
        await ctx.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    except (CliError, MatrixRequestError, NotLoggedInError, TransportError, EncryptionUnavailableError,
            UnsupportedAuthFlowError, OSError) as e:
        code, message = exit_code_for(e)
        if args.json:
            import orjson

            sys.stderr.write(orjson.dumps({"error": message, "exit_code": int(code)}).decode() + "\n")
        else:
            sys.stderr.write(f"parley: {shown(message)}\n")
        return int(code)


if __name__ == "__main__":
    sys.exit(main())
