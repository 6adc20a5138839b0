"""``datatasker dev``: the Dagster UI, daemon and file-drop sensor on the SQLite instance, with the sample file."""

from __future__ import annotations

import argparse
import os
import sys

from ..locations import default_data_dir, ensure_dagster_home, project_root
from ..processing.files import copy_atomically
from ..vocabulary import INCOMING_DIR, OUTPUTS_DIR


def add_commands(commands: argparse._SubParsersAction) -> None:
    dev_parser = commands.add_parser("dev", help="start the Dagster UI, daemon and file-drop sensor (SQLite instance)")
    dev_parser.add_argument("--host", default="127.0.0.1")
    dev_parser.add_argument("--port", type=int, default=3000)
    dev_parser.add_argument("--no-sample", action="store_true", help="do not drop the sample file into incoming/")
    dev_parser.set_defaults(handler=_dev_command)


def _dev_command(args: argparse.Namespace) -> int:
    """Drop the sample file, then become `dagster dev` (webserver + daemon + sensor)."""
    home = ensure_dagster_home()
    incoming = default_data_dir() / INCOMING_DIR
    incoming.mkdir(parents=True, exist_ok=True)
    if not args.no_sample:
        for sample in sorted((project_root() / "data" / "samples").glob("*.csv")):
            copy_atomically(sample, incoming / sample.name)
    print(
        f"DataTasker: UI at http://{args.host}:{args.port}  instance: {home}\n"
        f"  drop CSV files into {incoming}\n"
        f"  results appear in {default_data_dir() / OUTPUTS_DIR}/<run_id>/",
        flush=True,
    )
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(project_root() / "workspace.yaml"),
        "-h", args.host, "-p", str(args.port),
    ]
    os.chdir(project_root())
    os.execv(sys.executable, command)
