"""Options shared by the commands that talk to a deployment, and how they make their client."""

from __future__ import annotations

import argparse

EXIT_CODES = (
    "Exit status: 0 ok, 1 the run failed, 2 bad usage (or the object store refused the credentials / has no "
    "such bucket), 3 the webserver (or the object store) does not answer, 4 no such run, no complete results "
    "(or not in time), 5 the run is still going."
)


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", metavar="URL", help="Dagster webserver (default $DATATASKER_URL, else http://127.0.0.1:3000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def client_for(args: argparse.Namespace):
    """The GraphQL client for ``--url`` (``requests`` is imported only now)."""
    from ..client.http import DataTaskerClient, resolve_url

    return DataTaskerClient(url=resolve_url(args.url))
