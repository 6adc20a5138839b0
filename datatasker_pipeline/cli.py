"""The ``datatasker`` command.

``datatasker process FILE`` runs one file through the four assets in this
process, against the current Dagster instance, and prints the result;
``datatasker dev`` starts the UI, daemon and sensor on the SQLite default.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any, Sequence

from .client_commands import add_client_commands

EXIT_OK, EXIT_FILE_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


def _options_from_json(text: str | None) -> dict[str, Any] | None:
    from .options import options_from_json

    try:
        return options_from_json(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _copy_atomically(source: Path, target: Path) -> None:
    """Write then rename, so the sensor never sees half a file."""
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _execute(dg, defs, job, key: str, source: Path, run_options: dict[str, Any] | None):
    """Run the job for ``key`` in this process, reading ``source`` (a file inside the data root)."""
    from .assets import FILE_NAME_TAG, FINGERPRINT_TAG, SOURCE_PATH_TAG
    from .intake import content_fingerprint
    from .partitions import sales_files

    fingerprint = content_fingerprint(source)
    with dg.DagsterInstance.get() as instance:
        if not instance.has_dynamic_partition(sales_files.name, key):
            instance.add_dynamic_partitions(sales_files.name, [key])
        # The same job the sensor launches, so CLI runs sit beside sensor runs in the UI.
        return defs.resolve_job_def(job.name).execute_in_process(
            partition_key=key,
            instance=instance,
            run_config={"ops": {"cleaned_sales": {"config": run_options}}} if run_options else None,
            # The fingerprint tag tells the sensor these bytes are handled.
            tags={FILE_NAME_TAG: source.name, FINGERPRINT_TAG: fingerprint, SOURCE_PATH_TAG: str(source)},
            raise_on_error=False,
        )


def process(file: Path, run_options: dict[str, Any] | None) -> dict[str, Any]:
    """Run the four assets for ``file``'s partition and describe the outcome."""
    import dagster as dg

    from .assets import message_for_people
    from .definitions import defs
    from .jobs import process_sales_file
    from .options import sidecar_path
    from .outputs import ANOMALIES_FILE, CLEANED_FILE, REGION_SUMMARY_FILE, REJECTED_ROWS_FILE
    from .partitions import partition_key_for
    from .project import ensure_dagster_home
    from .resources import DataRoot
    from .runs import failure_message, materialization_metadata

    ensure_dagster_home()
    data_root = DataRoot()
    source = file.resolve()
    key = partition_key_for(source.name)
    incoming = data_root.incoming
    staging = None
    run_source = source
    if source.parent != incoming:
        # The run reads a copy staged inside the data root (its source tag may
        # point nowhere else); the copy then moves into incoming/ under the
        # file's base name, registering it.
        staging = data_root.root / "staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        if sidecar_path(source).is_file():
            shutil.copyfile(sidecar_path(source), staging / sidecar_path(source).name)
        run_source = staging / source.name
        shutil.copyfile(source, run_source)
    try:
        result = _execute(dg, defs, process_sales_file, key, run_source, run_options)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    if staging is not None:
        incoming.mkdir(parents=True, exist_ok=True)
        for staged in sorted(staging.iterdir(), key=lambda p: p.name == source.name):  # sidecar first
            os.replace(staged, incoming / staged.name)
        staging.rmdir()

    out_dir = data_root.outputs_for(result.run_id)
    cleaned = materialization_metadata(result, "cleaned_sales")
    report = materialization_metadata(result, "anomaly_report")
    succeeded = result.success
    return {
        "run_id": result.run_id,
        "status": "SUCCESS" if succeeded else "FAILURE",
        "partition": key,
        "outputs": {
            "region_summary": str(out_dir / REGION_SUMMARY_FILE),
            "anomalies": str(out_dir / ANOMALIES_FILE),
            "rejected_rows": str(out_dir / REJECTED_ROWS_FILE),
            "cleaned": str(out_dir / CLEANED_FILE),
        }
        if succeeded
        else None,
        "rows_read": cleaned.get("rows_read"),
        "rows_clean": cleaned.get("rows_clean"),
        "rows_rejected": cleaned.get("rows_rejected"),
        "rejected_by_reason": cleaned.get("rejected_by_reason"),
        "anomalies": report.get("anomalies"),
        "error": None if succeeded else message_for_people(failure_message(result.all_events) or "the run failed"),
    }


def _print_human(outcome: dict[str, Any]) -> None:
    print(f"run {outcome['run_id']}: {outcome['status']}")
    if outcome["status"] != "SUCCESS":
        print(f"  error: {outcome['error']}")
        return
    reasons = ", ".join(f"{k} {v}" for k, v in (outcome["rejected_by_reason"] or {}).items() if v)
    print(
        f"  rows: {outcome['rows_read']} read, {outcome['rows_clean']} clean, "
        f"{outcome['rows_rejected']} rejected{f' ({reasons})' if reasons else ''}"
    )
    print(f"  anomalies: {outcome['anomalies']}")
    for name, path in outcome["outputs"].items():
        print(f"  {name}: {path}")


def _process_command(args: argparse.Namespace) -> int:
    file = Path(args.file)
    if not file.is_file():
        raise UsageError(f"no such file: {file}")
    outcome = process(file, _options_from_json(args.config))
    if args.json:
        print(json.dumps(outcome, ensure_ascii=False))
    else:
        _print_human(outcome)
    return EXIT_OK if outcome["status"] == "SUCCESS" else EXIT_FILE_FAILED


def register(file: Path) -> str:
    """Put FILE in the incoming folder and create its partition, without running it.

    ``dagster asset materialize --partition KEY`` cannot create a dynamic
    partition (dagster-io/dagster#15499); this makes the key exist first.
    """
    import dagster as dg

    from .options import sidecar_path
    from .partitions import partition_key_for, sales_files
    from .project import ensure_dagster_home
    from .resources import DataRoot

    ensure_dagster_home()
    incoming = DataRoot().incoming
    incoming.mkdir(parents=True, exist_ok=True)
    source = file.resolve()
    if source.parent != incoming:
        if sidecar_path(source).is_file():
            _copy_atomically(sidecar_path(source), incoming / sidecar_path(source).name)
        _copy_atomically(source, incoming / source.name)
    key = partition_key_for(source.name)
    with dg.DagsterInstance.get() as instance:
        if not instance.has_dynamic_partition(sales_files.name, key):
            instance.add_dynamic_partitions(sales_files.name, [key])
    return key


def _register_command(args: argparse.Namespace) -> int:
    file = Path(args.file)
    if not file.is_file():
        raise UsageError(f"no such file: {file}")
    print(register(file))
    return EXIT_OK


def _dev_command(args: argparse.Namespace) -> int:
    """Start `dagster dev` (webserver + daemon + sensor) and drop the sample file."""
    from .project import default_data_dir, ensure_dagster_home, project_root

    home = ensure_dagster_home()
    incoming = default_data_dir() / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    if not args.no_sample:
        for sample in sorted((project_root() / "data" / "samples").glob("*.csv")):
            _copy_atomically(sample, incoming / sample.name)
    print(
        f"DataTasker: UI at http://{args.host}:{args.port}  instance: {home}\n"
        f"  drop CSV files into {incoming}\n"
        f"  results appear in {default_data_dir() / 'outputs'}/<run_id>/",
        flush=True,
    )
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(project_root() / "workspace.yaml"),
        "-h", args.host, "-p", str(args.port),
    ]
    os.chdir(project_root())
    os.execv(sys.executable, command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datatasker", description="DataTasker: a file-drop CSV pipeline on Dagster.")
    commands = parser.add_subparsers(dest="command", required=True)

    process_parser = commands.add_parser(
        "process",
        help="process one file now, in this process",
        description="Register FILE (copied into the incoming folder if it lies elsewhere), run all four assets "
        "for its partition against the current Dagster instance ($DAGSTER_HOME) and print the result. "
        "Exit 0 on success, 1 when the file fails, 2 on bad usage.",
    )
    process_parser.add_argument("file", metavar="FILE")
    process_parser.add_argument("--config", metavar="JSON", help="options as a JSON object; overrides the sidecar key by key")
    process_parser.add_argument("--json", action="store_true", help="print one JSON object")
    process_parser.set_defaults(handler=_process_command)

    register_parser = commands.add_parser(
        "register",
        help="copy FILE into incoming/ and create its partition; prints the partition key",
        description="Make FILE's partition exist without running it, e.g. before "
        "`dagster asset materialize --partition KEY`. A running sensor will also pick the file up.",
    )
    register_parser.add_argument("file", metavar="FILE")
    register_parser.set_defaults(handler=_register_command)

    dev_parser = commands.add_parser("dev", help="start the Dagster UI, daemon and file-drop sensor (SQLite instance)")
    dev_parser.add_argument("--host", default="127.0.0.1")
    dev_parser.add_argument("--port", type=int, default=3000)
    dev_parser.add_argument("--no-sample", action="store_true", help="do not drop the sample file into incoming/")
    dev_parser.set_defaults(handler=_dev_command)
    add_client_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"datatasker: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
