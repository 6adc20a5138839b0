"""What every ``datatasker`` sub-command shares: the usage error, ``--config``, JSON output, exit statuses."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, TextIO

from ..client.errors import ClientError, UsageProblem
from ..processing.options import options_from_json
from ..vocabulary import EXIT_FAILED, EXIT_OK

Handler = Callable[[argparse.Namespace], int]


def parse_config(text: str | None) -> dict[str, Any] | None:
    """``--config`` as an options object; a usage error (exit 2) when it is not one."""
    try:
        return options_from_json(text)
    except ValueError as error:
        raise UsageProblem(str(error)) from None


def emit_json(value: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(value, ensure_ascii=False), file=stream or sys.stdout, flush=True)


def exit_status(succeeded: bool) -> int:
    return EXIT_OK if succeeded else EXIT_FAILED


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run a sub-command: a :class:`ClientError` becomes its one-line message and exit status."""
    try:
        return handler(args)
    except ClientError as error:
        print(f"datatasker: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("datatasker: interrupted", file=sys.stderr)
        return 130
