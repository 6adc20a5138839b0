"""The ``datatasker`` command.

* ``process`` / ``register`` -- one file through the pipeline in this process
  (:mod:`.process`; imports Dagster when run);
* ``dev`` -- the UI, daemon and sensor on the SQLite instance (:mod:`.dev`);
* ``worker`` -- a warm Celery worker executing runs (:mod:`.worker`);
* ``submit`` / ``status`` / ``results`` -- a running deployment's client over
  GraphQL (:mod:`.submit`, :mod:`.status`, :mod:`.results`); for an
  ``s3://`` data root they move the bytes through the store (:mod:`.store_root`);
* ``upload-url`` -- a presigned PUT URL into such a store (:mod:`.upload_url`).

Importing this package stays light: ``datatasker --help`` must not pay for
Dagster, pandas or requests.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from . import dev, process, results, status, submit, upload_url, worker
from .common import run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datatasker", description="DataTasker: a file-drop CSV pipeline on Dagster.")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (process, dev, submit, status, results, upload_url, worker):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.handler, args)

