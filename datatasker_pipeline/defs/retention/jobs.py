"""The retention job: delete old run folders (and, if asked, their runs)."""

import dagster as dg
from pydantic import Field

from ...processing.retention import purge_old_run_folders
from ..resources import DataRoot


class RetentionConfig(dg.Config):
    """How old results must be before the purge removes them."""

    max_age_days: float = Field(default=30.0, ge=0, description="Remove results of runs that ended longer ago than this.")
    delete_runs: bool = Field(
        default=False, description="Also delete those runs from Dagster's run database (events included)."
    )


@dg.op(
    description="Delete outputs/, raw/ and duplicates/<run_id>/ and failed/<run_id>.json of runs older than "
    "max_age_days; log what went."
)
def purge_old_results(context: dg.OpExecutionContext, config: RetentionConfig, data_root: DataRoot) -> None:
    instance = context.instance

    def run_end_time(run_id: str) -> float | None:
        record = instance.get_run_record_by_id(run_id)
        if record is None:
            return None
        # A run still going (no end time) is as young as it gets.
        return record.end_time if record.end_time is not None else float("inf")

    report = purge_old_run_folders(data_root.root, config.max_age_days * 86400, run_end_time)
    for folder in report.removed_folders:
        context.log.info(f"removed {folder}")
    if config.delete_runs:
        for run_id in report.removed_run_ids:
            if run_id != context.run_id and instance.get_run_by_id(run_id) is not None:
                instance.delete_run(run_id)
                context.log.info(f"deleted run {run_id}")
    context.log.info(
        f"retention: {len(report.removed_folders)} folder(s) and record(s) of {len(report.removed_run_ids)} run(s) "
        f"removed, {report.bytes_freed:,} bytes freed"
    )


@dg.job(description="Retention: remove old results (and optionally their runs).")
def purge_old_results_job():
    purge_old_results()
