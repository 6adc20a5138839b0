"""The processing stages, as plain functions over files (no Dagster here).

The Dagster assets call these one stage each; :func:`process_file` runs them
all in a row, which is what the tests compare against the SPEC.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .anomalies import ANOMALY_EXTRA_COLUMNS, AnomalyRule, anomaly_rule, flag_anomalies, revenue_per_unit_stats
from .cleaning import REJECTED_COLUMNS, DuplicateTracker, clean_chunk
from .errors import FileFailure
from .options import ParsedOptions, ProcessingOptions, parse_options
from .parallel import WORKER_THREADS, map_in_order
from .outputs import (
    ANOMALIES_FILE,
    CLEANED_FILE,
    REGION_SUMMARY_FILE,
    REJECTED_ROWS_FILE,
    CsvTableWriter,
    ParquetTableWriter,
    atomic_path,
    cleaned_arrow_schema,
    write_csv,
)
from .fastcsv import FAST_BLOCK_BYTES, FastPathUnavailable
from .reading import ReadLimits, read_sales_columns
from .schema import NUMERIC_COLUMNS, REJECTION_REASONS
from .summary import iter_row_groups, read_row_group, region_summary_of

ProgressCallback = Callable[[int, float], None]
# Progress goes to the run's event log (a database write each): at most this often.
PROGRESS_EVERY_SECONDS = 1.0
# Anomalous rows are held back and written this many at a time: pandas costs per
# call (one write per row group took 1.1 s more at 10M rows), and the batch costs
# memory (50,000 rows held about 70 MB more at the peak at 30M rows than 10,000).
ANOMALY_WRITE_ROWS = 10_000
@dataclass
class CleaningResult:
    """What the cleaning stage wrote and counted."""

    cleaned_path: Path
    rejected_path: Path
    columns: tuple[str, ...]
    rows_read: int
    rows_clean: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    options: ProcessingOptions
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class AnomalyReport:
    path: Path
    rule: AnomalyRule | None
    count: int
    top: pd.DataFrame = field(repr=False)


@dataclass
class ProcessResult:
    """Everything one file produced, as :func:`process_file` returns it."""

    cleaning: CleaningResult
    summary: pd.DataFrame
    summary_path: Path
    anomalies: AnomalyReport

    @property
    def rows_read(self) -> int:
        return self.cleaning.rows_read

    @property
    def rows_clean(self) -> int:
        return self.cleaning.rows_clean

    @property
    def rows_rejected(self) -> int:
        return self.cleaning.rows_rejected

    @property
    def anomaly_count(self) -> int:
        return self.anomalies.count


def clean_file(
    source: Path,
    out_dir: Path,
    parsed: ParsedOptions,
    limits: ReadLimits = ReadLimits(),
    *,
    chunk_records: int | None = None,
    on_progress: ProgressCallback | None = None,
    fast: bool = True,
    block_bytes: int = FAST_BLOCK_BYTES,
    cleaning_threads: int = WORKER_THREADS,
) -> CleaningResult:
    """Read, check and clean ``source``; write ``cleaned.parquet`` and ``rejected_rows.csv``.

    Streams chunk by chunk. Both files appear only if the whole file was
    read without a whole-file failure. The fast reader (pyarrow) is tried
    first; when it cannot promise the reference parser's result it gives up
    and the file is cleaned again by the reference path from the start
    (``fast=False`` goes there directly).
    """
    attempt = functools.partial(
        _clean_file_once, source, out_dir, parsed, limits, chunk_records=chunk_records, on_progress=on_progress,
        started=time.monotonic(), block_bytes=block_bytes, cleaning_threads=cleaning_threads,
    )
    if fast:
        try:
            return attempt(fast=True)
        except FastPathUnavailable:
            pass
    return attempt(fast=False)


def _clean_file_once(
    source: Path,
    out_dir: Path,
    parsed: ParsedOptions,
    limits: ReadLimits,
    *,
    chunk_records: int | None,
    on_progress: ProgressCallback | None,
    started: float,
    fast: bool,
    block_bytes: int,
    cleaning_threads: int,
) -> CleaningResult:
    options = parsed.options
    duplicates = DuplicateTracker() if options.drop_duplicates else None
    # Rule 8 remembers rows across chunks in file order: one thread then.
    threads = 1 if duplicates is not None else cleaning_threads
    layout, chunks = read_sales_columns(
        source, parsed, limits, chunk_records, fast=fast, block_bytes=block_bytes, read_ahead=threads == 1
    )
    reasons: Counter[str] = Counter()
    rows_clean = 0
    last_progress = now = started
    with atomic_path(out_dir / CLEANED_FILE) as cleaned_tmp, atomic_path(out_dir / REJECTED_ROWS_FILE) as rejected_tmp:
        cleaned_writer = ParquetTableWriter(cleaned_tmp, cleaned_arrow_schema(layout.output_names))
        rejected_writer = CsvTableWriter(rejected_tmp, REJECTED_COLUMNS, integer_columns=("source_row",))
        try:
            for result in map_in_order(lambda chunk: clean_chunk(chunk, layout, options, duplicates), chunks, threads):
                cleaned_writer.write(result.table)
                rejected_writer.write(result.rejected)
                rows_clean += result.table.num_rows
                if len(result.rejected):
                    reasons.update(result.rejected["reason"].value_counts().to_dict())
                now = time.monotonic()
                if on_progress and now - last_progress >= PROGRESS_EVERY_SECONDS:
                    on_progress(rows_clean + sum(reasons.values()), now - started)
                    last_progress = now
            if on_progress and last_progress != now:
                on_progress(rows_clean + sum(reasons.values()), time.monotonic() - started)
        finally:
            cleaned_writer.close()
            rejected_writer.close()
    rows_rejected = sum(reasons.values())
    return CleaningResult(
        cleaned_path=out_dir / CLEANED_FILE,
        rejected_path=out_dir / REJECTED_ROWS_FILE,
        columns=layout.output_names,
        rows_read=rows_clean + rows_rejected,
        rows_clean=rows_clean,
        rows_rejected=rows_rejected,
        rejected_by_reason={reason: reasons.get(reason, 0) for reason in REJECTION_REASONS},
        options=options,
        seconds=time.monotonic() - started,
    )


def cleaned_columns(cleaned_path: Path) -> list[str]:
    """The file's own columns (canonical and carried) as stored in the parquet."""
    names = pq.read_schema(cleaned_path).names
    return [n for n in names if n not in ("source_row", "revenue_per_unit")]


def write_region_summary(cleaned_path: Path, out_dir: Path) -> tuple[pd.DataFrame, Path]:
    summary = region_summary_of(cleaned_path)
    path = write_csv(
        out_dir / REGION_SUMMARY_FILE,
        summary,
        integer_columns=("row_count",),
        number_columns=("revenue_sum", "revenue_mean", "quantity_sum", "discount_mean"),
    )
    return summary, path


def write_anomaly_report(cleaned_path: Path, out_dir: Path, k: float, top_n: int = 10) -> AnomalyReport:
    """Two passes over the cleaned rows: statistics, then flagging (see anomalies.py)."""
    stats = revenue_per_unit_stats(
        table.column(0).to_numpy() for table in iter_row_groups(cleaned_path, ["revenue_per_unit"])
    )
    rule = anomaly_rule(stats, k)
    header = ["source_row", *cleaned_columns(cleaned_path), *ANOMALY_EXTRA_COLUMNS]
    numbers = (*NUMERIC_COLUMNS, *ANOMALY_EXTRA_COLUMNS)
    count = 0
    top = pd.DataFrame(columns=header)
    path = out_dir / ANOMALIES_FILE
    with atomic_path(path) as partial:
        writer = CsvTableWriter(partial, header, integer_columns=("source_row",), number_columns=numbers)

        def write(candidates: list[pa.Table]) -> None:
            nonlocal count, top
            flagged = flag_anomalies(pa.concat_tables(candidates).to_pandas(), rule)[header]
            writer.write(flagged)
            count += len(flagged)
            top = pd.concat([top, flagged]).nlargest(top_n, "z_score") if len(top) else flagged.nlargest(top_n, "z_score")

        try:
            if rule is not None:
                # Filter in Arrow; only the (few) anomalous rows become pandas, a
                # batch of many row groups' worth at a time (pandas costs per call).
                threshold = pa.scalar(rule.threshold, pa.float64())
                pending: list[pa.Table] = []
                pending_rows = 0
                def over_threshold(group: int) -> pa.Table:
                    batch = read_row_group(cleaned_path, group)
                    return batch.filter(pc.greater(batch.column("revenue_per_unit"), threshold))

                groups = range(pq.ParquetFile(cleaned_path).num_row_groups)
                for over in map_in_order(over_threshold, groups, WORKER_THREADS):
                    if over.num_rows:
                        pending.append(over)
                        pending_rows += over.num_rows
                    if pending_rows >= ANOMALY_WRITE_ROWS:
                        write(pending)
                        pending, pending_rows = [], 0
                if pending:
                    write(pending)
        finally:
            writer.close()
    return AnomalyReport(path=path, rule=rule, count=count, top=top)


def remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def process_file(
    source: Path,
    out_dir: Path,
    options: Mapping[str, Any] | None = None,
    *,
    max_file_bytes: int | None = None,
    limits: ReadLimits | None = None,
    chunk_records: int | None = None,
    fast: bool = True,
    block_bytes: int = FAST_BLOCK_BYTES,
    cleaning_threads: int = WORKER_THREADS,
) -> ProcessResult:
    """Run every stage for one file into ``out_dir``.

    Raises :class:`FileFailure` for a whole-file failure, leaving no result
    files behind. ``options`` is the SPEC section 4 mapping (a sidecar is the
    caller's to merge in).
    """
    limits = limits or ReadLimits()
    if max_file_bytes is not None:
        limits = ReadLimits(max_file_bytes, limits.max_columns, limits.max_field_chars)
    parsed = parse_options(options)
    try:
        cleaning = clean_file(
            Path(source), Path(out_dir), parsed, limits, chunk_records=chunk_records, fast=fast, block_bytes=block_bytes,
            cleaning_threads=cleaning_threads,
        )
    except FileFailure:
        remove_if_empty(Path(out_dir))
        raise
    summary, summary_path = write_region_summary(cleaning.cleaned_path, Path(out_dir))
    report = write_anomaly_report(cleaning.cleaned_path, Path(out_dir), cleaning.options.anomaly_k)
    return ProcessResult(cleaning=cleaning, summary=summary, summary_path=summary_path, anomalies=report)
