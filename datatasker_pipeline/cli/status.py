"""``datatasker status RUN_ID``: status, times, file, row counts and error of a run, over GraphQL."""

from __future__ import annotations

import argparse

from ..client.answers import file_run_row, run_summary
from ..client.errors import RunNotFound
from ..client.text import format_status, format_table
from ..vocabulary import EXIT_OK, FAILED_STATUSES, FILE_NAME_TAG
from .common import emit_json, exit_status
from .connection import EXIT_CODES, add_connection_options, client_for


def add_commands(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser(
        "status",
        help="status, times, file, row counts and error of a run",
        description="Status, start/end times, file, partition, row counts and the error message of RUN_ID, "
        "read over GraphQL. With --file NAME instead: every run that processed a file of that name, newest "
        "first (whether, when and by which run it was processed). " + EXIT_CODES,
    )
    which = status.add_mutually_exclusive_group(required=True)
    which.add_argument("run_id", metavar="RUN_ID", nargs="?")
    which.add_argument("--file", metavar="NAME", help="the dropped file's name (as dropped, e.g. sales.csv)")
    status.add_argument("--limit", type=int, default=20, metavar="N", help="with --file: at most N runs (20)")
    add_connection_options(status)
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    client = client_for(args)
    if args.file is not None:
        return _file_status(args, client)
    run = client.run(args.run_id.strip())
    summary = run_summary(run, client.run_error(run), url=client.url)
    if args.json:
        emit_json(summary)
    else:
        print(format_status(summary))
    return exit_status(run["status"] not in FAILED_STATUSES)


def _file_status(args: argparse.Namespace, client) -> int:
    """The runs tagged with this file name: the durable record of what happened to it."""
    runs = client.runs_with_tags({FILE_NAME_TAG: args.file}, limit=max(args.limit, 1))
    rows = [file_run_row(run) for run in runs]
    if args.json:
        emit_json({"file_name": args.file, "runs": rows})
    elif rows:
        print(format_table(list(rows[0]), rows))
    if not rows:
        raise RunNotFound(f"no run has processed a file named {args.file!r} on {client.url}")
    return EXIT_OK
