"""The four assets of one dropped file: raw CSV -> cleaned rows -> region summary, anomaly report.

Asset bodies are glue: they find their inputs, call the plain functions in
``pipeline``/``intake``, and attach what a person wants to see in the UI.
Every output goes to ``<data root>/outputs/<run_id>/``, so the run ID leads
from a result to its run record and back.
"""


import contextlib
import random
import re
from pathlib import Path
from typing import Iterator

import dagster as dg

from .checks import (
    anomaly_rate_spec,
    check_anomaly_rate,
    check_cleaned_schema,
    check_rows_conserved,
    cleaned_schema_spec,
    rows_conserved_spec,
)
from .config import SalesFileOptions
from .errors import FileFailure
from .intake import RawFile, copy_raw_file
from .metadata import column_schema, markdown_table, peak_rss_mb, revenue_chart, table
from .options import load_options
from .partitions import sales_files
from .pipeline import CleaningResult, clean_file, remove_if_empty, write_anomaly_report, write_region_summary
from .resources import DataRoot
from .summary import SUMMARY_COLUMNS

GROUP = "sales"
SOURCE_PATH_TAG = "datatasker/source_path"  # set by `datatasker process` for a file outside incoming/
FILE_NAME_TAG = "datatasker/file_name"
FINGERPRINT_TAG = "datatasker/fingerprint"
TRANSIENT_RETRIES = 3
MAX_MESSAGE_CHARS = 2000
# Line breaks (as str.splitlines sees them) and other control characters; a tab stays.
_NOT_ON_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def message_for_people(text: str) -> str:
    """A failure message as one line of bounded length.

    Messages quote the file's own text (header names), which may hold line
    breaks or be a megabyte long; those are escaped (``\\n``) and cut.
    """
    line = _NOT_ON_ONE_LINE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text.strip())
    if len(line) > MAX_MESSAGE_CHARS:
        line = f"{line[:MAX_MESSAGE_CHARS]}... ({len(line) - MAX_MESSAGE_CHARS} more characters)"
    return line


@contextlib.contextmanager
def failures_for_people(context: dg.AssetExecutionContext, out_dir: Path | None = None) -> Iterator[None]:
    """Turn a whole-file failure into a run failure whose message is the person's message.

    ``dg.Failure`` puts the text itself in the step failure (UI, GraphQL,
    CLI) instead of a wrapped traceback, and bad data is never retried.
    Transient I/O errors are retried with exponential backoff and jitter.
    """
    try:
        yield
    except FileFailure as failure:
        if out_dir is not None:
            remove_if_empty(out_dir)
        message = message_for_people(failure.message)
        context.log.error(message)
        raise dg.Failure(description=message, allow_retries=False) from None
    except OSError as error:
        if context.retry_number >= TRANSIENT_RETRIES:
            raise
        wait = 0.5 * 2**context.retry_number * random.uniform(0.5, 1.5)
        context.log.warning(f"transient I/O error, retrying in {wait:.1f} s: {error}")
        raise dg.RetryRequested(max_retries=TRANSIENT_RETRIES, seconds_to_wait=wait) from error


@dg.asset(
    partitions_def=sales_files,
    group_name=GROUP,
    kinds={"csv"},
    description="The dropped CSV file, copied byte for byte into raw/<run_id>/ with its sidecar; "
    "content hash and size in metadata. Later steps read this copy, never the incoming file.",
)
def raw_csv(context: dg.AssetExecutionContext, data_root: DataRoot) -> dg.Output[RawFile]:
    key = context.partition_key
    tags = context.run.tags
    if SOURCE_PATH_TAG in tags:
        # Set by `datatasker process` to its staged copy; anyone can set a tag
        # when launching a run, so it must lead to a file inside the data root.
        try:
            source = data_root.inside(Path(tags[SOURCE_PATH_TAG]))
        except ValueError:
            raise dg.Failure(
                description=f"run tag {SOURCE_PATH_TAG} must name a file inside the data root {data_root.root}",
                allow_retries=False,
            ) from None
        if not source.is_file():  # a re-execution after the CLI moved its copy into incoming/
            source = data_root.incoming_file_for(key)
    else:
        source = data_root.incoming_file_for(key)
    if source is None or not source.is_file():
        raise dg.Failure(
            description=f"no file for partition {key!r} in {data_root.incoming}: it was moved or deleted "
            "after it was dropped; drop it again to process it",
            allow_retries=False,
        )
    with failures_for_people(context):
        raw = copy_raw_file(source, data_root.raw_for(context.run.run_id), data_root.limits.max_file_bytes)
    expected = tags.get("datatasker/sha256")
    if expected and expected != raw.sha256:
        context.log.warning("the file changed after the sensor saw it; processing the bytes copied now")
    return dg.Output(
        raw,
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
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    check_specs=[rows_conserved_spec, cleaned_schema_spec],
    metadata={"dagster/column_schema": column_schema(["source_row", "region", "revenue", "quantity", "discount", "revenue_per_unit"])},
    description="Every record of the file, either cleaned (cleaned.parquet: typed, trimmed, revenue_per_unit "
    "added) or rejected with a reason (rejected_rows.csv). Rules: SPEC section 2, as the pandera model "
    "SalesRecordRules. Options come from this asset's config over the file's sidecar.",
)
def cleaned_sales(
    context: dg.AssetExecutionContext, config: SalesFileOptions, raw_csv: RawFile, data_root: DataRoot
) -> Iterator[dg.Output[CleaningResult] | dg.AssetCheckResult]:
    out_dir = data_root.outputs_for(context.run.run_id)
    parsed = load_options(raw_csv.sidecar, config.given())

    def progress(rows: int, seconds: float) -> None:
        context.log.info(f"{rows:,} rows cleaned in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)")

    with failures_for_people(context, out_dir):
        result = clean_file(raw_csv.path, out_dir, parsed, data_root.limits, on_progress=progress)
    # Downstream assets get the whole result (paths, counts, the options in force).
    yield dg.Output(
        result,
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
            "cleaned_parquet": dg.MetadataValue.path(str(result.cleaned_path)),
            "rejected_rows_csv": dg.MetadataValue.path(str(result.rejected_path)),
            "dagster/column_schema": column_schema(["source_row", *result.columns, "revenue_per_unit"]),
        },
    )
    yield check_rows_conserved(result.rows_read, result.cleaned_path, result.rejected_path)
    yield check_cleaned_schema(result.cleaned_path, result.columns)


@dg.asset(
    partitions_def=sales_files,
    group_name=GROUP,
    kinds={"pandas", "csv"},
    metadata={"dagster/column_schema": column_schema(SUMMARY_COLUMNS)},
    description="region_summary.csv: one row per region of the clean rows, sorted by region (code-point order), "
    "with row count, revenue sum and mean, quantity sum and mean discount.",
)
def region_summary(
    context: dg.AssetExecutionContext, cleaned_sales: CleaningResult, data_root: DataRoot
) -> dg.MaterializeResult:
    out_dir = data_root.outputs_for(context.run.run_id)
    with failures_for_people(context):
        summary, path = write_region_summary(cleaned_sales.cleaned_path, out_dir)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(summary),
            "regions": len(summary),
            "summary": table(summary),
            "revenue_by_region": revenue_chart(summary),
            "region_summary_csv": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    partitions_def=sales_files,
    group_name=GROUP,
    kinds={"pandas", "csv"},
    check_specs=[anomaly_rate_spec],
    description="anomalies.csv: clean rows whose revenue per unit is above mean + k * std (sample std over all "
    "clean rows of the file; k is the anomaly_k option), with z_score and threshold, sorted by source_row.",
)
def anomaly_report(
    context: dg.AssetExecutionContext, cleaned_sales: CleaningResult, data_root: DataRoot
) -> dg.MaterializeResult:
    out_dir = data_root.outputs_for(context.run.run_id)
    with failures_for_people(context):
        report = write_anomaly_report(cleaned_sales.cleaned_path, out_dir, cleaned_sales.options.anomaly_k)
    rule = report.rule
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.count,
            "anomalies": report.count,
            "threshold": rule.threshold if rule else "none: fewer than two clean rows or no spread",
            "mean_revenue_per_unit": rule.mean if rule else "n/a",
            "std_revenue_per_unit": rule.std if rule else "n/a",
            "anomaly_k": cleaned_sales.options.anomaly_k,
            "top_anomalies": markdown_table(report.top[["source_row", "region", "revenue_per_unit", "z_score"]]),
            "anomalies_csv": dg.MetadataValue.path(str(report.path)),
        },
        check_results=[check_anomaly_rate(report.count, cleaned_sales.rows_clean)],
    )


sales_assets = [raw_csv, cleaned_sales, region_summary, anomaly_report]
