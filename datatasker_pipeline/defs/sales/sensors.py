"""The file-drop sensor (one run per new or changed file in ``incoming/``) and the failed-file recorder."""

# No `from __future__ import annotations` here: Dagster reads the context and
# resource annotations of these functions when they are defined.

import json

import dagster as dg

from ...processing.failure_records import write_failure_record
from ...processing.watch import plan_tick, run_key_for
from ...vocabulary import (
    FAILURE_SENSOR,
    FILE_NAME_TAG,
    FILE_SENSOR,
    FINGERPRINT_TAG,
    ORIGIN_SENSOR,
    ORIGIN_TAG,
    PARTITION_TAG,
    SHA256_TAG,
)
from ..resources import DataRoot
from .jobs import process_sales_file
from .outcomes import failure_message
from .partitions import sales_files


@dg.sensor(
    name=FILE_SENSOR,
    job=process_sales_file,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=1,
    description="Watches <data root>/incoming/ for *.csv files. Launches one run per new file and per "
    "changed content; the same bytes under the same name never run twice. Hidden files and .part/.tmp "
    "names are ignored until renamed, and a file is taken once unmodified for settle_seconds.",
)
def incoming_csv_sensor(context: dg.SensorEvaluationContext, data_root: DataRoot) -> dg.SensorResult:
    # The cursor records what was seen of each file (size, mtimes, content
    # fingerprint), never the clock, so a file copied in with an old mtime is still new.
    handled = json.loads(context.cursor)["files"] if context.cursor else {}

    def already_processed(partition_key: str, fingerprint: str) -> bool:
        """A run of this partition for these exact bytes exists (e.g. from `datatasker process`)."""
        tags = {FINGERPRINT_TAG: fingerprint, PARTITION_TAG: partition_key}
        return bool(context.instance.get_run_records(filters=dg.RunsFilter(tags=tags), limit=1))

    plan = plan_tick(
        data_root.incoming,
        handled,
        settle_seconds=data_root.settle_seconds,
        max_file_bytes=data_root.limits.max_file_bytes,
        already_processed=already_processed,
    )
    run_requests = []
    for new in plan.new:
        run_requests.append(
            dg.RunRequest(
                run_key=run_key_for(new.partition_key, new.fingerprint),
                partition_key=new.partition_key,
                tags={
                    FILE_NAME_TAG: new.file.name,
                    FINGERPRINT_TAG: new.fingerprint,
                    SHA256_TAG: new.sha256,
                    ORIGIN_TAG: ORIGIN_SENSOR,
                },
            )
        )
        context.log.info(f"{new.file.name}: new content {new.fingerprint}, requesting a run of partition {new.partition_key}")

    existing = set(context.instance.get_dynamic_partitions(sales_files.name))
    new_keys = sorted({r.partition_key for r in run_requests} - existing)
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[sales_files.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps({"files": plan.handled}, separators=(",", ":")),
        skip_reason=None if run_requests else "no new or changed files",
    )


@dg.run_failure_sensor(
    name=FAILURE_SENSOR,
    monitored_jobs=[process_sales_file],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Records every failed file in <data root>/failed/<run_id>.json with the message a person "
    "needs to fix it.",
)
def failed_file_sensor(context: dg.RunFailureSensorContext, data_root: DataRoot) -> None:
    run = context.dagster_run
    message = failure_message(context.get_step_failure_events()) or context.failure_event.message or "the run failed"
    write_failure_record(
        data_root.failed,
        run.run_id,
        run.tags.get(FILE_NAME_TAG, ""),
        run.tags.get(PARTITION_TAG, ""),
        message,
    )
    context.log.info(f"recorded failure of {run.tags.get(FILE_NAME_TAG, run.run_id)}: {message}")
