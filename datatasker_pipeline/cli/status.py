"""``datatasker status RUN_ID``: status, times, file, row counts and error of a run, over GraphQL."""

from __future__ import annotations

import argparse

from ..client.answers import run_summary
from ..client.text import format_status
from ..vocabulary import FAILED_STATUSES
from .common import emit_json, exit_status
from .connection import EXIT_CODES, add_connection_options, client_for


def add_commands(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser(
        "status",
        help="status, times, file, row counts and error of a run",
        description="Status, start/end times, file, partition, row counts and the error message of RUN_ID, "
        "read over GraphQL. " + EXIT_CODES,
    )
    status.add_argument("run_id", metavar="RUN_ID")
    add_connection_options(status)
    status.set_defaults(handler=_status)



def _status(args: argparse.Namespace) -> int:
    client = client_for(args)
    run = client.run(args.run_id.strip())
    summary = run_summary(run, client.run_error(run), url=client.url)
    if args.json:
        emit_json(summary)
    else:
        print(format_status(summary))
    return exit_status(run["status"] not in FAILED_STATUSES)
