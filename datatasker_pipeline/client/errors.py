"""The client's errors: each one is a one-line message and the command's exit status."""

from __future__ import annotations

from ..vocabulary import (
    EXIT_FAILED,
    EXIT_IN_PROGRESS,
    EXIT_NOT_FOUND,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)


class ClientError(Exception):
    exit_code = EXIT_FAILED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UsageProblem(ClientError):
    exit_code = EXIT_USAGE


class WebserverUnavailable(ClientError):
    """No answer (or no usable answer) from the webserver."""

    exit_code = EXIT_UNREACHABLE


class RunNotFound(ClientError):
    exit_code = EXIT_NOT_FOUND


class WaitTimedOut(ClientError):
    exit_code = EXIT_NOT_FOUND


class RunInProgress(ClientError):
    exit_code = EXIT_IN_PROGRESS


class RunFailed(ClientError):
    exit_code = EXIT_FAILED


class StoreRefused(ClientError):
    """An object-store data root that cannot be used as given: credentials refused, no such bucket."""

    exit_code = EXIT_USAGE


class StoreUnavailable(ClientError):
    """The object store of the data root does not answer at its endpoint."""

    exit_code = EXIT_UNREACHABLE
