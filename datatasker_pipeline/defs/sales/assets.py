"""The four assets of one dropped file: raw CSV -> cleaned rows -> region summary, anomaly report.

Asset bodies are glue: they find their inputs, call the plain functions of
``processing``, and attach what a person wants to see in the UI. Every output
goes to ``<data root>/outputs/<run_id>/``, so the run ID leads from a result
to its run record and back.
"""

# No `from __future__ import annotations` here: Dagster reads the context and
# resource annotations of these functions when they are defined.
import dagster as dg

from ...processing.anomalies import write_anomaly_report
from ...processing.completion import publish_results
from ...processing.errors import FileFailure, size_failure
from ...processing.options import load_options
from ...processing.pipeline import clean_file
from ...processing.raw_copies import RawFile, copy_raw_file, earlier_raw_file, staged_raw_file, take_dropped_file
from ...processing.summary import write_region_summary
from ...vocabulary import (
    ANOMALIES_FILE,
    ANOMALIES_LABEL,
    ASSET_GROUP,
    CLEANED_FILE,
    CLEANED_LABEL,
    CLEANED_MODEL_COLUMNS,
    ETAG_TAG,
    MANIFEST_LABEL,
    ORIGIN_PROCESS,
    ORIGIN_TAG,
    PARENT_RUN_TAG,
    PARTITION_TAG,
    REGION_SUMMARY_FILE,
    REGION_SUMMARY_LABEL,
    REJECTED_ROWS_FILE,
    REJECTED_ROWS_LABEL,
    REVENUE_PER_UNIT,
    SHA256_TAG,
    SIZE_TAG,
    SOURCE_ROW,
    SUMMARY_COLUMNS,
    Z_SCORE,
)
from ..resources import DataRoot
from .checks import (
    anomaly_rate_spec,
    check_anomaly_rate,
    check_cleaned_schema,
    check_rows_conserved,
    cleaned_schema_spec,
    rows_conserved_spec,
)
from .config import SalesFileOptions
from .failures import fail_for_people, failures_for_people
from .handoff import cleaned_parquet, cleaned_rows_made_for, raw_copy_made_for
from .metadata import column_schema, markdown_table, peak_rss_mb, revenue_chart, table
from .partitions import sales_files


def take_raw_copy(context: dg.AssetExecutionContext, data_root: DataRoot) -> RawFile:
    """The run's own copy of the partition's file, from the first place that has the bytes this run is for.

    A copy ``datatasker process`` staged in the run's raw folder; for a
    re-execution, the parent run's raw copy; the file waiting in incoming/
    (moved out of it); else the newest earlier run's raw copy of the same
    bytes (of any bytes, for a run launched by hand without a sha256 tag).
    """
    key, tags = context.partition_key, context.run.tags
    raw_dir = data_root.raw_for(context.run.run_id)
    expected, limit = tags.get(SHA256_TAG), data_root.limits.max_file_bytes
    with failures_for_people(context, store=data_root.root):
        if tags.get(ORIGIN_TAG) == ORIGIN_PROCESS:
            staged = staged_raw_file(raw_dir, key, expected) if expected else None
            if staged is not None:
                return staged
            size = int(tags.get(SIZE_TAG) or 0)
            if size > limit:  # `datatasker process` copies no file over the limit
                raise FileFailure(size_failure(size, limit))
        if PARENT_RUN_TAG in tags:
            parent_copy = earlier_raw_file([data_root.raw_for(tags[PARENT_RUN_TAG])], key)
            if parent_copy is not None:
                return copy_raw_file(parent_copy, raw_dir, limit)
        source = data_root.incoming_file_for(key)
        if source is not None:
            return take_dropped_file(source, raw_dir, limit, expected, tags.get(ETAG_TAG))
        # Another run took the file first (a launch by hand racing the sensor): its copy has the bytes.
        runs = context.instance.get_run_records(filters=dg.RunsFilter(tags={PARTITION_TAG: key}), limit=20)
        folders = (data_root.raw_for(r.dagster_run.run_id) for r in runs if r.dagster_run.run_id != context.run.run_id)
        earlier = earlier_raw_file(folders, key, sha256=expected)
        if earlier is not None:
            return copy_raw_file(earlier, raw_dir, limit)
    raise fail_for_people(
        f"no file for partition {key!r}: nothing waiting in {data_root.incoming} and no earlier raw copy "
        "of these bytes; drop the file again to process it"
    )


def publish(context: dg.AssetExecutionContext, data_root: DataRoot, *names: str) -> dict[str, str]:
    """Place the step's finished files among the run's outputs (uploads on a store); where each now is.

    The run's manifest is written by whichever step completes the set of four;
    that step's metadata links to it (MANIFEST_LABEL).
    """
    run_id = context.run.run_id
    outputs, manifest = data_root.outputs_for(run_id), data_root.manifest_for(run_id)
    with failures_for_people(context, store=data_root.root):
        complete = publish_results(data_root.work_dir_for(run_id), outputs, manifest, run_id, names)
    if complete:
        context.log.info(f"results complete: {manifest}")
    placed = {name: str(outputs / name) for name in names}
    return {**placed, MANIFEST_LABEL: str(manifest)} if complete else placed


def manifest_link(placed: dict[str, str]) -> dict[str, dg.MetadataValue]:
    """Metadata pointing at the run's manifest, from the step that wrote it."""
    return {MANIFEST_LABEL: dg.MetadataValue.path(placed[MANIFEST_LABEL])} if MANIFEST_LABEL in placed else {}


@dg.asset(
    partitions_def=sales_files,
    group_name=ASSET_GROUP,
    kinds={"csv"},
    description="The dropped CSV file, moved out of incoming/ into raw/<run_id>/ with its sidecar (read-only); "
    "content hash and size in metadata. Later steps read this copy.",
)
def raw_csv(context: dg.AssetExecutionContext, data_root: DataRoot) -> dg.MaterializeResult:
    raw = take_raw_copy(context, data_root)
    return dg.MaterializeResult(
        metadata={
            "file_name": raw.original_name,
            "sha256": raw.sha256,
            "size_bytes": raw.size,
            "raw_copy": dg.MetadataValue.path(str(raw.path)),
            "sidecar": dg.MetadataValue.path(str(raw.sidecar)) if raw.sidecar else "none",
        },
    )


@dg.asset(
    partitions_def=sales_files,
    group_name=ASSET_GROUP,
    kinds={"pandas", "parquet"},
    deps=[raw_csv],
    check_specs=[rows_conserved_spec, cleaned_schema_spec],
    metadata={"dagster/column_schema": column_schema(list(CLEANED_MODEL_COLUMNS))},
    description="Every record of the file, either cleaned (cleaned.parquet: typed, trimmed, revenue_per_unit "
    "added) or rejected with a reason (rejected_rows.csv). Rules: the pandera model SalesRecordRules "
    "(docs/data-contract.md). Options come from this asset's config over the file's sidecar.",
)
def cleaned_sales(
    context: dg.AssetExecutionContext, config: SalesFileOptions, data_root: DataRoot
) -> dg.MaterializeResult:
    out_dir = data_root.work_dir_for(context.run.run_id)
    raw = raw_copy_made_for(context, data_root, raw_csv.key)

    def progress(rows: int, seconds: float) -> None:
        context.log.info(f"{rows:,} rows cleaned in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)")

    with failures_for_people(context, out_dir, store=data_root.root):
        parsed = load_options(raw.sidecar, config.given())
        result = clean_file(raw.path, out_dir, parsed, data_root.limits, on_progress=progress)
    placed = publish(context, data_root, CLEANED_FILE, REJECTED_ROWS_FILE)
    # Downstream steps read the counts and the options in force from this metadata (handoff.py).
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.rows_clean,
            "rows_read": result.rows_read,
            "rows_clean": result.rows_clean,
            "rows_rejected": result.rows_rejected,
            "rejected_by_reason": dg.MetadataValue.json(result.rejected_by_reason),
            **{f"rejected_{reason}": count for reason, count in result.rejected_by_reason.items()},
            "rows_per_second": round(result.rows_per_second, 1),
            "seconds": round(result.seconds, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "options": dg.MetadataValue.json(result.options.as_dict()),
            CLEANED_LABEL: dg.MetadataValue.path(placed[CLEANED_FILE]),
            REJECTED_ROWS_LABEL: dg.MetadataValue.path(placed[REJECTED_ROWS_FILE]),
            "dagster/column_schema": column_schema([SOURCE_ROW, *result.columns, REVENUE_PER_UNIT]),
        },
        check_results=[
            check_rows_conserved(result.rows_read, result.cleaned_path, result.rejected_path),
            check_cleaned_schema(result.cleaned_path, result.columns, result.rows_validated),
        ],
    )


@dg.asset(
    partitions_def=sales_files,
    group_name=ASSET_GROUP,
    kinds={"pandas", "csv"},
    deps=[cleaned_sales],
    metadata={"dagster/column_schema": column_schema(list(SUMMARY_COLUMNS))},
    description="region_summary.csv: one row per region of the clean rows, sorted by region (code-point order), "
    "with row count, revenue sum and mean, quantity sum and mean discount.",
)
def region_summary(context: dg.AssetExecutionContext, data_root: DataRoot) -> dg.MaterializeResult:
    out_dir = data_root.work_dir_for(context.run.run_id)
    cleaned = cleaned_rows_made_for(context, cleaned_sales.key)
    with cleaned_parquet(context, data_root, cleaned) as rows, failures_for_people(context, store=data_root.root):
        summary, _ = write_region_summary(rows, out_dir, cleaned.region_totals(data_root))
    placed = publish(context, data_root, REGION_SUMMARY_FILE)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(summary),
            "regions": len(summary),
            "summary": table(summary),
            "revenue_by_region": revenue_chart(summary),
            REGION_SUMMARY_LABEL: dg.MetadataValue.path(placed[REGION_SUMMARY_FILE]),
            **manifest_link(placed),
        }
    )


@dg.asset(
    partitions_def=sales_files,
    group_name=ASSET_GROUP,
    kinds={"pandas", "csv"},
    deps=[cleaned_sales],
    check_specs=[anomaly_rate_spec],
    description="anomalies.csv: clean rows whose revenue per unit is above mean + k * std (sample std over all "
    "clean rows of the file; k is the anomaly_k option), with z_score and threshold, sorted by source_row.",
)
def anomaly_report(context: dg.AssetExecutionContext, data_root: DataRoot) -> dg.MaterializeResult:
    out_dir = data_root.work_dir_for(context.run.run_id)
    cleaned = cleaned_rows_made_for(context, cleaned_sales.key)
    with cleaned_parquet(context, data_root, cleaned) as rows, failures_for_people(context, store=data_root.root):
        report = write_anomaly_report(rows, out_dir, cleaned.anomaly_k, basis=cleaned.anomaly_basis(data_root))
    placed = publish(context, data_root, ANOMALIES_FILE)
    rule = report.rule
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.count,
            "anomalies": report.count,
            "threshold": rule.threshold if rule else "none: fewer than two clean rows or no spread",
            "mean_revenue_per_unit": rule.mean if rule else "n/a",
            "std_revenue_per_unit": rule.std if rule else "n/a",
            "anomaly_k": cleaned.anomaly_k,
            "top_anomalies": markdown_table(report.top[[SOURCE_ROW, "region", REVENUE_PER_UNIT, Z_SCORE]]),
            ANOMALIES_LABEL: dg.MetadataValue.path(placed[ANOMALIES_FILE]),
            **manifest_link(placed),
        },
        check_results=[check_anomaly_rate(report.count, cleaned.rows_clean)],
    )


sales_assets = [raw_csv, cleaned_sales, region_summary, anomaly_report]
