"""How a step finds what its upstream step made: the upstream materialization's record, then the data root.

The steps pass no Python values between them (no IO manager): each upstream
step's materialization already records what a downstream step needs (the
run that made it, the content hash, the counts, the options in force), and
its files sit in that run's folders of the data root. A step reads the
record of its own run's upstream materialization for the partition, else
(a step re-executed alone) the partition's latest one. This costs one
indexed query instead of Dagster's output and input events and a pickle
per hand-off, and a step re-executed on another machine needs only the data
root, not this machine's ``$DAGSTER_HOME/storage``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import dagster as dg

from ...processing.candidates import AnomalyBasis, saved_anomaly_basis
from ...processing.files import download_atomically
from ...processing.raw_copies import RawFile, staged_raw_file
from ...processing.summary import RegionTotals
from ...vocabulary import CLEANED_FILE
from ..resources import DataRoot
from .failures import fail_for_people, failures_for_people

# A run's own materialization is looked for among those stored since the run was created, less this
# margin: an event's time comes from the clock of the machine that ran the step, the run's creation
# time from the database's.
CLOCK_SKEW_MARGIN_SECONDS = 600
# Materializations read per query while looking (several runs of a partition can overlap).
MATERIALIZATIONS_PER_PAGE = 20


def upstream_materialization(context: dg.AssetExecutionContext, asset_key: dg.AssetKey) -> dg.EventLogRecord:
    """This run's materialization of ``asset_key`` for the partition, else the partition's latest one."""
    record = materialization_for_run(context.instance, asset_key, context.partition_key, context.run.run_id)
    if record is None:
        raise fail_for_people(
            f"{asset_key.to_user_string()} has no materialization for partition {context.partition_key!r}: "
            "materialize it first (or the whole job)"
        )
    return record


def materialization_for_run(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str, run_id: str
) -> dg.EventLogRecord | None:
    """``run_id``'s materialization of ``asset_key`` for the partition, else the partition's latest one.

    Nearly always the run's own is among the partition's newest few. When
    more runs of the partition overlap, it is searched for page by page among
    the materializations since the run was created: a step reads its own
    run's however many overlap, and the cost does not grow with the
    partition's history.
    """
    partition = dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key])
    newest = instance.fetch_materializations(partition, limit=MATERIALIZATIONS_PER_PAGE)
    own = _record_of(newest.records, run_id)
    if own is not None or not newest.has_more:
        return own or (newest.records[0] if newest.records else None)
    run = instance.get_run_record_by_id(run_id)
    if run is not None:
        since = run.create_timestamp.timestamp() - CLOCK_SKEW_MARGIN_SECONDS
        recent = dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key], after_timestamp=since)
        cursor = None
        while True:
            page = instance.fetch_materializations(recent, limit=MATERIALIZATIONS_PER_PAGE, cursor=cursor)
            own = _record_of(page.records, run_id)
            if own is not None:
                return own
            if not page.has_more:
                break
            cursor = page.cursor
    return newest.records[0]


def _record_of(records: Sequence[dg.EventLogRecord], run_id: str) -> dg.EventLogRecord | None:
    return next((record for record in records if record.run_id == run_id), None)


def _metadata(record: dg.EventLogRecord) -> dict[str, Any]:
    materialization = record.asset_materialization
    assert materialization is not None  # fetch_materializations returns materializations only
    return {name: value.value for name, value in materialization.metadata.items()}


def raw_copy_made_for(context: dg.AssetExecutionContext, data_root: DataRoot, raw_key: dg.AssetKey) -> RawFile:
    """The raw copy the upstream ``raw_csv`` step placed in its run's raw folder (hashed then, not again)."""
    record = upstream_materialization(context, raw_key)
    sha256 = _metadata(record)["sha256"]
    with failures_for_people(context, store=data_root.root):
        raw = staged_raw_file(data_root.raw_for(record.run_id), context.partition_key, sha256)
    if raw is None:
        raise fail_for_people(
            f"the raw copy of partition {context.partition_key!r} made by run {record.run_id} is gone "
            f"from {data_root.raw_for(record.run_id)}; drop the file again to process it"
        )
    return raw


@dataclass(frozen=True)
class CleanedRows:
    """What the downstream steps read of a cleaning: where its rows are, how many, the options in force."""

    run_id: str
    rows_clean: int
    anomaly_k: float

    def anomaly_basis(self, data_root: DataRoot) -> AnomalyBasis | None:
        """What the cleaner set aside for the report, when its work folder is on this machine."""
        return saved_anomaly_basis(data_root.work_dir_for(self.run_id))

    def region_totals(self, data_root: DataRoot) -> RegionTotals | None:
        """The per-region sums the cleaner added up, when its work folder is on this machine."""
        return RegionTotals.saved_in(data_root.work_dir_for(self.run_id))


def cleaned_rows_made_for(context: dg.AssetExecutionContext, cleaned_key: dg.AssetKey) -> CleanedRows:
    record = upstream_materialization(context, cleaned_key)
    metadata = _metadata(record)
    return CleanedRows(record.run_id, int(metadata["rows_clean"]), float(metadata["options"]["anomaly_k"]))


@contextlib.contextmanager
def cleaned_parquet(context: dg.AssetExecutionContext, data_root: DataRoot, cleaned: CleanedRows) -> Iterator[Path]:
    """The cleaned parquet a downstream step reads: the one its cleaning step wrote.

    A step re-executed alone on a store root may find that run's local work
    folder gone (removed once its results were complete, or on another
    machine): it then reads a downloaded copy of the published file.
    """
    written = data_root.work_dir_for(cleaned.run_id) / CLEANED_FILE
    if written.exists() or not data_root.is_remote:
        yield written
        return
    local = data_root.work_dir_for(context.run.run_id) / f".{cleaned.run_id}.{CLEANED_FILE}"
    with failures_for_people(context, store=data_root.root):
        download_atomically(data_root.outputs_for(cleaned.run_id) / CLEANED_FILE, local)
    try:
        yield local
    finally:
        local.unlink(missing_ok=True)
