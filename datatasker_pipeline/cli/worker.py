"""``datatasker worker``: a warm Celery worker that executes runs (deploy/celery/dagster.yaml).

The instance (``$DAGSTER_HOME/dagster.yaml``) names the broker and result
backend; every worker, on any machine, needs that file, the database, the
same data root (``DATATASKER_DATA_DIR``) and the same code.
"""

from __future__ import annotations

import argparse
import os
import socket

from ..vocabulary import CELERY_QUEUE, CELERY_WORKER_PREFIX


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("worker", help="execute runs on this machine as a warm Celery worker")
    parser.add_argument("--name", default=default_node_name(),
                        help="Celery node name, unique per worker process (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1,
                        help="runs executed at once by this worker (default: the CPU count, %(default)s)")
    parser.add_argument("--max-runs-per-child", type=int, default=1,
                        help="recycle a pool process after this many runs (default 1: every run gets a fresh "
                             "fork of the warm parent, so no state carries over)")
    parser.add_argument("--queue", default=CELERY_QUEUE, help="Celery queue to take runs from (default: %(default)s)")
    parser.add_argument("--loglevel", default="INFO")
    parser.set_defaults(handler=_worker_command)


def default_node_name() -> str:
    """``datatasker-<pid>@<host>``: unique per worker process, and names the machine in failure messages."""
    return f"{CELERY_WORKER_PREFIX}-{os.getpid()}@{socket.gethostname()}"


def _worker_command(args: argparse.Namespace) -> int:
    """Import the pipeline in this (parent) process, then serve runs until stopped."""
    import datatasker_pipeline.definitions  # noqa: F401  warm: every pool child is forked with it imported

    from ..celery.worker import start_worker

    start_worker(args.name, args.concurrency, args.max_runs_per_child, args.queue, args.loglevel)
    return 0
