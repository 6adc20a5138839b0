"""The file-drop sensor (one run per new or changed file in ``incoming/``) and the failed-file recorder."""

# No `from __future__ import annotations` here: Dagster reads the context and
# resource annotations of these functions when they are defined.

import json

import dagster as dg

from ...processing.failure_records import write_failure_record
from ...processing.raw_copies import set_aside_duplicate
from ...processing.store import StoreError, describe
from ...processing.watch import StoreWindow, plan_tick, run_key_for
from ...vocabulary import (
    ETAG_TAG,
    FAILURE_SENSOR,
    FILE_NAME_TAG,
    FILE_SENSOR,
    FINGERPRINT_TAG,
    ORIGIN_SENSOR,
    ORIGIN_TAG,
    PARTITION_TAG,
    SHA256_TAG,
    SIZE_TAG,
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
    "changed content; the run moves the file into raw/<run_id>/. The same bytes dropped again under the "
    "same name start no run and are moved to duplicates/<run_id>/. Hidden files and .part/.tmp names are "
    "ignored until renamed, and a file is taken once unmodified for settle_seconds.",
)
def incoming_csv_sensor(context: dg.SensorEvaluationContext, data_root: DataRoot) -> dg.SensorResult:
    # The cursor records what was seen of each file still in incoming/ (size,
    # mtimes, content fingerprint), never the clock: a file copied in with an
    # old mtime is still new, and files leave the cursor when they leave the folder.
    cursor = json.loads(context.cursor) if context.cursor else {}
    handled = cursor.get("files", {})
    # In an object store, the part of the listing this tick looks at (bounded pages per tick).
    window = StoreWindow(cursor.get("after", ""))

    def already_processed(partition_key: str, fingerprint: str) -> tuple[str, bool] | None:
        """The run of this partition for these exact bytes, and whether it finished (the tags are the durable record)."""
        tags = {FINGERPRINT_TAG: fingerprint, PARTITION_TAG: partition_key}
        records = context.instance.get_run_records(filters=dg.RunsFilter(tags=tags), limit=1)
        if not records:
            return None
        run = records[0].dagster_run
        return run.run_id, run.is_finished

    incoming = data_root.incoming
    try:
        plan = plan_tick(
            incoming,
            handled,
            settle_seconds=data_root.settle_seconds,
            max_file_bytes=data_root.limits.max_file_bytes,
            already_processed=already_processed,
            **({"scan": window.scan} if data_root.is_remote else {}),
        )
    except Exception as error:
        problem = describe(error, incoming) if data_root.is_remote else None
        if problem is None:
            raise
        raise StoreError(problem.message) from None
    for duplicate in plan.duplicates:
        moved = set_aside_duplicate(duplicate.file, data_root.duplicates_for(duplicate.run_id))
        if moved is not None:
            plan.handled.pop(duplicate.file.name, None)
            context.log.info(f"{duplicate.file.name}: these bytes were processed by run {duplicate.run_id}; moved to {moved}")
    run_requests = [
        dg.RunRequest(
            run_key=run_key_for(new.partition_key, new.fingerprint),
            partition_key=new.partition_key,
            tags={
                FILE_NAME_TAG: new.file.name,
                FINGERPRINT_TAG: new.fingerprint,
                SIZE_TAG: str(new.file.size),
                ORIGIN_TAG: ORIGIN_SENSOR,
                # The run takes exactly these bytes: by SHA-256 in a folder, by ETag in a store.
                **({ETAG_TAG: new.file.etag} if new.file.etag else {SHA256_TAG: new.sha256}),
            },
        )
        for new in plan.new
    ]
    for new in plan.new:
        context.log.info(f"{new.file.name}: new content {new.fingerprint}, requesting a run of partition {new.partition_key}")
    # One look-up per new key: loading every partition key would cost a tick more with every file ever dropped.
    new_keys = sorted(
        {r.partition_key for r in run_requests if not context.instance.has_dynamic_partition(sales_files.name, r.partition_key)}
    )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[sales_files.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps(
            {"files": plan.handled, "after": window.next_start(plan)} if data_root.is_remote else {"files": plan.handled},
            separators=(",", ":"),
        ),
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
