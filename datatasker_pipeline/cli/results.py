"""``datatasker results RUN_ID``: the output files and region summary of a finished run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..client.answers import (
    materializations_by_asset,
    read_summary_csv,
    result_paths,
    steps_done,
    summary_rows,
)
from ..client.errors import RunFailed, RunInProgress, RunNotFound
from ..client.text import format_table
from ..processing.files import copy_atomically
from ..vocabulary import (
    ANOMALY_ASSET,
    DATA_DIR_ENV,
    EXIT_OK,
    FAILED_STATUSES,
    FINISHED_STATUSES,
    OUTPUTS_DIR,
    STEP_KEYS,
)
from .common import emit_json
from .connection import EXIT_CODES, add_connection_options, client_for


def add_commands(commands: argparse._SubParsersAction) -> None:
    results = commands.add_parser(
        "results",
        help="output files and region summary of a finished run",
        description="The four output files of RUN_ID (their paths, or copies in --out DIR) and the region "
        "summary as a table. " + EXIT_CODES,
    )
    results.add_argument("run_id", metavar="RUN_ID")
    results.add_argument("--out", metavar="DIR", help="copy the output files into DIR")
    results.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where the deployment's data root is mounted here, when the recorded paths are not on this machine",
    )
    add_connection_options(results)
    results.set_defaults(handler=_results)


def _local_path(recorded: str | None, run_id: str, data_dir: str | None) -> Path | None:
    """The recorded output path, or the same file under a locally mounted data root."""
    if not recorded:
        return None
    path = Path(recorded)
    if path.is_file():
        return path
    roots = [Path(data_dir).expanduser()] if data_dir else []
    if os.environ.get(DATA_DIR_ENV):
        roots.append(Path(os.environ[DATA_DIR_ENV]))
    for root in roots:
        candidate = root / OUTPUTS_DIR / run_id / path.name
        if candidate.is_file():
            return candidate
    return None


def _results(args: argparse.Namespace) -> int:
    client = client_for(args)
    run_id = args.run_id.strip()
    run = client.run(run_id)
    status = run["status"]
    if status in FAILED_STATUSES:
        error = client.run_error(run)
        if args.json:
            emit_json({"run_id": run_id, "status": status, "outputs": None, "error": error})
        raise RunFailed(f"run {run_id} {'was canceled' if status == 'CANCELED' else 'failed'}: {error}")
    if status not in FINISHED_STATUSES:
        raise RunInProgress(
            f"run {run_id} is still {status} ({steps_done(run)}/{len(STEP_KEYS)} steps done); "
            f"try again when it has finished (datatasker status {run_id})"
        )

    recorded = result_paths(run)
    missing_meta = [name for name, path in recorded.items() if not path]
    if missing_meta:
        raise RunNotFound(f"run {run_id} recorded no output file for: {', '.join(missing_meta)}")
    local = {name: _local_path(path, run_id, args.data_dir) for name, path in recorded.items()}

    copied: dict[str, str] | None = None
    if args.out:
        absent = [recorded[name] for name, path in local.items() if path is None]
        if absent:
            raise RunNotFound(
                f"output file(s) not on this machine: {', '.join(absent)}; mount the deployment's data root "
                "and give it with --data-dir"
            )
        out = Path(args.out).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        copied = {}
        for name, path in local.items():
            copied[name] = str(copy_atomically(path, out / path.name).resolve())

    columns, rows, total = summary_rows(run)
    summary_file = local["region_summary"]
    if summary_file is not None and total is not None and total > len(rows):
        columns, rows = read_summary_csv(str(summary_file))  # the metadata table is capped; the file is not
    anomalies = materializations_by_asset(run).get(ANOMALY_ASSET, {}).get("anomalies")

    if args.json:
        emit_json(
            {
                "run_id": run_id,
                "status": status,
                "outputs": recorded,
                "copied": copied,
                "anomalies": anomalies,
                "region_summary": rows,
                "regions": total,
            }
        )
        return EXIT_OK

    print(f"run {run_id}: {status}")
    print()
    print(format_table(columns, rows))
    if total is not None and total > len(rows):
        print(f"({len(rows)} of {total} regions shown; all in {recorded['region_summary']})")
    print()
    print(f"anomalies: {anomalies}")
    shown = copied or {name: str(local[name] or recorded[name]) for name in recorded}
    label = f"copied to {Path(args.out).expanduser().resolve()}" if copied else "files"
    print(f"{label}:")
    for name, path in shown.items():
        print(f"  {name + ':':<16}{path}")
    return EXIT_OK
