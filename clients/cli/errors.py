"""Exit codes of `parley` and the error that carries one."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # the server refused or could not be reached
    USAGE = 2  # bad arguments (argparse uses 2 as well)
    NOT_LOGGED_IN = 3
    NOT_FOUND = 4


class CliError(Exception):
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
