"""The one exception the data logic raises for a whole-file failure, and how its message is shown."""

from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 2000
# Line breaks (as str.splitlines sees them) and other control characters; a tab stays.
_NOT_ON_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


class FileFailure(Exception):
    """The dropped file cannot be processed at all (a whole-file failure).

    ``message`` is written for the person who dropped the file: it states the
    facts (offsets, record numbers, column names) and nothing else, so it can be
    shown as-is in the Dagster UI, over GraphQL and by the CLI.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def size_failure(size: int, limit: int) -> str:
    """The message for a file over the size limit (the first whole-file check)."""
    return f"file is {size} bytes; the limit is {limit}"


def message_for_people(text: str) -> str:
    """A failure message as one line of bounded length.

    Messages quote the file's own text (header names), which may hold line
    breaks or be a megabyte long; those are escaped (``\\n``) and cut.
    """
    line = _NOT_ON_ONE_LINE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text.strip())
    if len(line) > MAX_MESSAGE_CHARS:
        line = f"{line[:MAX_MESSAGE_CHARS]}... ({len(line) - MAX_MESSAGE_CHARS} more characters)"
    return line
