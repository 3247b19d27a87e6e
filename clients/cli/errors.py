"""Exit codes of `parley` and the error that carries one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

from clients.sdk import MatrixRequestError


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


@contextmanager
def not_found_as(message: str) -> Iterator[None]:
    """Inside, the server's M_NOT_FOUND becomes exit code NOT_FOUND with ``message``."""
    try:
        yield
    except MatrixRequestError as e:
        if e.errcode == "M_NOT_FOUND":
            raise CliError(ExitCode.NOT_FOUND, message) from None
        raise
