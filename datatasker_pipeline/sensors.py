"""The file-drop sensor: one run per new or changed file in ``incoming/``."""


import json
import time

import dagster as dg

from .assets import FILE_NAME_TAG, FINGERPRINT_TAG
from .intake import DroppedFile, content_fingerprint, scan_incoming
from .jobs import process_sales_file
from .partitions import partition_key_for, sales_files
from .resources import DataRoot
from .runs import failure_message

# A tick must finish well inside the 60 s sensor timeout: hash at most this
# many bytes per tick and leave the rest for the next one.
HASH_BUDGET_BYTES = 4 * 1024**3
MAX_RUNS_PER_TICK = 500
PARTITION_TAG = "dagster/partition"
# Dagster's sensor daemon ticks at most every 5 s. A file dropped just before
# a tick would otherwise wait a whole extra loop for settle_seconds to pass;
# instead the tick waits (at most this long) and looks again.
MAX_SETTLE_WAIT_SECONDS = 2.0


def seen_unchanged(dropped: DroppedFile, handled: dict[str, list]) -> bool:
    """The cursor already has this file with this size and these mtimes: nothing to do."""
    previous = handled.get(dropped.name)
    return previous is not None and previous[:3] == dropped.signature


def run_key_for(partition_key: str, fingerprint: str) -> str:
    """Dagster launches a run key once: a new key exactly when the bytes change."""
    return f"{partition_key}:{fingerprint}"


def _already_processed(context: dg.SensorEvaluationContext, partition_key: str, fingerprint: str) -> bool:
    """A run of this file's partition for these exact bytes exists (e.g. from `datatasker process`).

    The same bytes under another name are another file: its own partition, its own run.
    """
    tags = {FINGERPRINT_TAG: fingerprint, PARTITION_TAG: partition_key}
    return bool(context.instance.get_run_records(filters=dg.RunsFilter(tags=tags), limit=1))


@dg.sensor(
    job=process_sales_file,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=1,
    description="Watches <data root>/incoming/ for *.csv files. Launches one run per new file and per "
    "changed content; the same bytes under the same name never run twice. Hidden files and .part/.tmp "
    "names are ignored until renamed, and a file is taken once unmodified for settle_seconds.",
)
def incoming_csv_sensor(context: dg.SensorEvaluationContext, data_root: DataRoot) -> dg.SensorResult:
    # Cursor: {file name: [size, mtime_ns, sidecar_mtime_ns, fingerprint]} for
    # every file already handled. It records what was seen, not the clock,
    # so a file copied in with an old mtime is still new.
    handled: dict[str, list] = json.loads(context.cursor)["files"] if context.cursor else {}
    now_ns = time.time_ns()
    settle_ns = int(data_root.settle_seconds * 1e9)
    max_bytes = data_root.limits.max_file_bytes
    still_present: dict[str, list] = {}
    run_requests: list[dg.RunRequest] = []
    hashed_bytes = 0

    listing = scan_incoming(data_root.incoming)
    wait = seconds_until_settled(listing, handled, now_ns, settle_ns)
    if 0 < wait <= MAX_SETTLE_WAIT_SECONDS:
        time.sleep(wait)
        listing, now_ns = scan_incoming(data_root.incoming), time.time_ns()

    for dropped in listing:
        previous = handled.get(dropped.name)
        if previous is not None:
            still_present[dropped.name] = previous
        if seen_unchanged(dropped, handled):
            continue
        if now_ns - max(dropped.mtime_ns, dropped.sidecar_mtime_ns) < settle_ns:
            continue  # possibly still being written; look again next tick
        if hashed_bytes > HASH_BUDGET_BYTES or len(run_requests) >= MAX_RUNS_PER_TICK:
            break
        fingerprint = _fingerprint(dropped, max_bytes)
        hashed_bytes += dropped.size
        still_present[dropped.name] = [*dropped.signature, fingerprint]
        if previous is not None and previous[3] == fingerprint:
            continue  # touched or re-dropped with the same bytes
        key = partition_key_for(dropped.name)
        if _already_processed(context, key, fingerprint):
            continue
        run_requests.append(
            dg.RunRequest(
                run_key=run_key_for(key, fingerprint),
                partition_key=key,
                tags={FILE_NAME_TAG: dropped.name, FINGERPRINT_TAG: fingerprint},
            )
        )
        context.log.info(f"{dropped.name}: new content {fingerprint}, requesting a run of partition {key}")

    existing = set(context.instance.get_dynamic_partitions(sales_files.name))
    new_keys = sorted({r.partition_key for r in run_requests} - existing)
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[sales_files.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps({"files": still_present}, separators=(",", ":")),
        skip_reason=None if run_requests else "no new or changed files",
    )


def seconds_until_settled(listing: list[DroppedFile], handled: dict[str, list], now_ns: int, settle_ns: int) -> float:
    """How long until every new or changed file in ``listing`` has gone unmodified for the settle time.

    0 when none is still within it. A file written to during the wait gets a
    new mtime, so a second look after the wait still tells it apart.
    """
    youngest = max(
        (max(f.mtime_ns, f.sidecar_mtime_ns) for f in listing if not seen_unchanged(f, handled)),
        default=None,
    )
    if youngest is None:
        return 0.0
    return max(0.0, (youngest + settle_ns - now_ns) / 1e9)


def _fingerprint(dropped: DroppedFile, max_bytes: int) -> str:
    # An oversized file is not hashed (it could take minutes); its run fails
    # at once with the size message.
    if dropped.size > max_bytes:
        return f"oversize-{dropped.size}-{dropped.mtime_ns}"
    return content_fingerprint(dropped.path)


def write_failure_record(failed_dir, run_id: str, file_name: str, partition: str, message: str) -> None:
    """One JSON file per failed run in ``<data root>/failed/``, where an operator looks."""
    if not run_id or run_id.startswith(".") or "/" in run_id or "\\" in run_id:
        raise ValueError(f"not a run id: {run_id!r}")  # a path would write outside failed/
    failed_dir.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "file_name": file_name, "partition": partition, "error": message,
              "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    partial = failed_dir / f".{run_id}.json.partial"
    partial.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    partial.replace(failed_dir / f"{run_id}.json")


@dg.run_failure_sensor(
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
        data_root.root / "failed",
        run.run_id,
        run.tags.get(FILE_NAME_TAG, ""),
        run.tags.get("dagster/partition", ""),
        message,
    )
    context.log.info(f"recorded failure of {run.tags.get(FILE_NAME_TAG, run.run_id)}: {message}")
