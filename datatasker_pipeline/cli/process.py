"""``datatasker process FILE`` (one file, now, in this process) and ``datatasker register FILE``.

Both open the current Dagster instance (``$DAGSTER_HOME``, else the
project's ``dagster_home/``) and import the definitions only when run, so
``datatasker --help`` and the client commands stay light.

``process`` reads FILE once: it copies it into the data root, into the run's
own raw folder (``raw/<run_id>/``, where every processed file lives), hashing
as it copies, and the run takes that copy as its raw input. A FILE already
waiting in ``incoming/`` is moved there instead, like the sensor's runs do.
The run is tagged with the content fingerprint, so the sensor never runs
these bytes again.
"""

from __future__ import annotations

import argparse
import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ContextManager

from ..client.errors import UsageProblem
from ..collector import skip_collection_at_exit, start_up_without_collection
from ..locations import ensure_dagster_home
from ..processing.errors import FileFailure, message_for_people
from ..processing.files import copy_atomically
from ..processing.intake import fingerprint_of, is_plain_file, partition_key_for
from ..processing.options import sidecar_path
from ..processing.raw_copies import copy_raw_file, take_dropped_file
from ..vocabulary import (
    ANOMALY_ASSET,
    CLEANED_ASSET,
    FILE_NAME_TAG,
    FINGERPRINT_TAG,
    JOB_NAME,
    OPTIONS_OP,
    ORIGIN_PROCESS,
    ORIGIN_TAG,
    RESULT_FILES,
    SHA256_TAG,
    SIZE_TAG,
)
from .common import emit_json, exit_status, parse_config


def add_commands(commands: argparse._SubParsersAction) -> None:
    process_parser = commands.add_parser(
        "process",
        help="process one file now, in this process",
        description="Copy FILE into the data root (raw/<run_id>/), run all four assets "
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


def _existing_file(text: str) -> Path:
    file = Path(text)
    if not file.is_file():
        raise UsageProblem(f"no such file: {file}")
    return file


def _process_command(args: argparse.Namespace) -> int:
    file = _existing_file(args.file)
    # This process lives for one run: its start-up objects need no collecting (see ..collector).
    skip_collection_at_exit()
    outcome = process(file, parse_config(args.config), start_up=start_up_without_collection())
    if args.json:
        emit_json(outcome)
    else:
        _print_human(outcome)
    return exit_status(outcome["status"] == "SUCCESS")


def _register_command(args: argparse.Namespace) -> int:
    print(register(_existing_file(args.file)))
    return exit_status(True)


def _ensure_partition(instance, key: str) -> None:
    from ..defs.sales.partitions import sales_files

    if not instance.has_dynamic_partition(sales_files.name, key):
        instance.add_dynamic_partitions(sales_files.name, [key])


def _stage(source: Path, incoming: Path, raw_dir: Path, max_file_bytes: int) -> dict[str, str]:
    """Put FILE into the run's raw folder (the one copy, hashed as it goes) and give the run's tags.

    A file over the size limit is not copied: its run fails with the size message.
    """
    tags = {FILE_NAME_TAG: source.name, ORIGIN_TAG: ORIGIN_PROCESS, SIZE_TAG: str(source.stat().st_size)}
    try:
        if source.parent == incoming:
            raw = take_dropped_file(source, raw_dir, max_file_bytes, expected_sha256=None)
        else:
            raw = copy_raw_file(source, raw_dir, max_file_bytes)
    except FileFailure:
        return tags
    tags[SHA256_TAG] = raw.sha256
    # The fingerprint tag tells the sensor these bytes (with these options) are handled.
    tags[FINGERPRINT_TAG] = fingerprint_of(raw.sha256, raw.sidecar)
    return tags


def process(
    file: Path, run_options: dict[str, Any] | None, start_up: ContextManager[Any] | None = None
) -> dict[str, Any]:
    """Run the four assets for ``file``'s partition and describe the outcome.

    ``start_up`` wraps the imports and the opening of the instance (the CLI
    pauses the garbage collector there); nothing by default.
    """
    source = file.resolve()
    key = partition_key_for(source.name)
    run_id = str(uuid.uuid4())  # chosen here, so the run's raw folder can be filled before it starts
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="datatasker-stage") as stager:
        with start_up or contextlib.nullcontext():
            import dagster as dg

            from ..defs.resources import DataRoot

            ensure_dagster_home()
            data_root = DataRoot()
            # The copy into raw/<run_id>/ (reading, hashing, writing: they let go of the GIL) runs while
            # this thread imports the definitions and opens the instance (Python: it holds the GIL).
            limit = data_root.limits.max_file_bytes
            staged = stager.submit(_stage, source, data_root.incoming, data_root.raw_for(run_id), limit)
            from ..definitions import defs
            from ..defs.sales.outcomes import failure_message, materialization_metadata

            instance = dg.DagsterInstance.get()
        with instance:
            _ensure_partition(instance, key)
            # The same job the sensor launches, so CLI runs sit beside sensor runs in the UI.
            result = defs.resolve_job_def(JOB_NAME).execute_in_process(
                partition_key=key,
                instance=instance,
                run_id=run_id,
                run_config={"ops": {OPTIONS_OP: {"config": run_options}}} if run_options else None,
                tags=staged.result(),
                raise_on_error=False,
            )
    out_dir = data_root.outputs_for(result.run_id)
    cleaned = materialization_metadata(result, CLEANED_ASSET)
    report = materialization_metadata(result, ANOMALY_ASSET)
    succeeded = result.success
    return {
        "run_id": result.run_id,
        "status": "SUCCESS" if succeeded else "FAILURE",
        "partition": key,
        "outputs": {name: str(out_dir / file_name) for name, (file_name, _, _) in RESULT_FILES.items()}
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


def register(file: Path) -> str:
    """Put FILE in the incoming folder and create its partition, without running it.

    ``dagster asset materialize --partition KEY`` cannot create a dynamic
    partition (dagster-io/dagster#15499); this makes the key exist first.
    """
    import dagster as dg

    from ..defs.resources import DataRoot

    ensure_dagster_home()
    incoming = DataRoot().incoming
    source = file.resolve()
    if source.parent != incoming:
        sidecar = sidecar_path(source)
        if is_plain_file(sidecar):
            copy_atomically(sidecar, incoming / sidecar.name)
        copy_atomically(source, incoming / source.name)
    key = partition_key_for(source.name)
    with dg.DagsterInstance.get() as instance:
        _ensure_partition(instance, key)
    return key
