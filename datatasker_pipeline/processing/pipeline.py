"""The stages of processing one file, in sequence (no Dagster here).

:func:`clean_file` reads and cleans; ``summary.write_region_summary`` and
``anomalies.write_anomaly_report`` write the reports from what it wrote. The
Dagster assets call one stage each; :func:`process_file` runs them all in a
row, which is what the tests compare against the data contract.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from ..vocabulary import (
    ANOMALY_CANDIDATES_FILE,
    CLEANED_FILE,
    REJECTED_COLUMNS,
    REJECTED_ROWS_FILE,
    REJECTION_REASONS,
    SOURCE_ROW,
)
from .anomalies import AnomalyReport, write_anomaly_report
from .candidates import AnomalyBasis, CandidateWriter
from .cleaning import DuplicateTracker, clean_chunk
from .errors import FileFailure
from .files import atomic_path
from .options import ParsedOptions, ProcessingOptions, parse_options
from .outputs import CsvTableWriter, ParquetTableWriter, cleaned_arrow_schema
from .parallel import WORKER_THREADS, WriterThread, keep_memory_flat_on_threads, map_in_order
from .reading import FastPathUnavailable, ReadLimits, UnparsedBlock, open_sales_file
from .reading.fast import FAST_BLOCK_BYTES
from .store import is_remote
from .summary import RegionTotals, region_partials, write_region_summary
from .validation import BatchedValidation

ProgressCallback = Callable[[int, float], None]
# Progress goes to the run's event log (a database write each): at most this often.
PROGRESS_EVERY_SECONDS = 1.0
# Rejected rows are written a batch of many chunks at a time (formatting costs per call). A batch's
# cells become Python objects while it is formatted: at most this many rows or bytes of them at once.
REJECTED_WRITE_ROWS = 20_000
REJECTED_WRITE_BYTES = 8 << 20


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
    # Rows CleanSalesRows passed as the cleaner wrote them (the schema check relies on it).
    rows_validated: int = 0
    # What the anomaly report needs, gathered while cleaning (statistics, rows set aside).
    anomaly_basis: AnomalyBasis | None = None
    # The region summary's sums, added up while cleaning (also saved in the cleaner's folder).
    region_totals: RegionTotals | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


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
    keep_memory_flat_on_threads()
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
    # Several cleaning threads parse the blocks too; one thread gets them parsed ahead of it.
    layout, chunks = open_sales_file(
        source, parsed, limits, chunk_records, fast=fast, block_bytes=block_bytes,
        read_ahead=threads == 1, parse_later=threads > 1,
    )
    reasons: Counter[str] = Counter()
    rows_clean = 0
    validation = BatchedValidation()
    last_progress = now = started
    schema = cleaned_arrow_schema(layout.output_names)
    region_totals = RegionTotals()

    def clean_and_reduce(item) -> tuple[int, list]:
        # On the cleaning threads: Arrow's parser and group-by let go of the GIL, and the summary needs no
        # second read. An unparsed block's rows come numbered from 0; the first count is what to add.
        records, parts = item.parse() if isinstance(item, UnparsedBlock) else (0, [item])
        results = []
        for chunk in parts:
            cleaned = clean_chunk(chunk, layout, options, duplicates)
            results.append((cleaned, region_partials(cleaned.table)))
        return records, results

    with atomic_path(out_dir / CLEANED_FILE) as cleaned_tmp, atomic_path(out_dir / REJECTED_ROWS_FILE) as rejected_tmp:
        candidates = CandidateWriter(out_dir / ANOMALY_CANDIDATES_FILE, schema, options.anomaly_k)
        # Encoding and compressing the parquet lets go of the GIL: on its own thread it overlaps
        # with this thread's block cutting (and parsing, with one cleaning thread).
        cleaned_writer = WriterThread(ParquetTableWriter(cleaned_tmp, schema), name="datatasker-write-cleaned")
        rejected_writer = CsvTableWriter(
            rejected_tmp, REJECTED_COLUMNS, integer_columns=(SOURCE_ROW,),
            batch_rows=REJECTED_WRITE_ROWS, batch_bytes=REJECTED_WRITE_BYTES,
        )
        try:
            first_row = 0  # of the next unparsed block
            for records, results in map_in_order(clean_and_reduce, chunks, threads):
                for numbered_from_0, partials in results:
                    result = numbered_from_0.numbered_from(first_row)
                    cleaned_writer.write(result.table)
                    region_totals.add(partials)
                    candidates.add(result.table)
                    rejected_writer.write(result.rejected)
                    rows_clean += result.table.num_rows
                    validation.add(result.table, result.rejected)
                    if len(result.rejected):
                        reasons.update(result.rejected["reason"].value_counts().to_dict())
                first_row += records
                now = time.monotonic()
                if on_progress and now - last_progress >= PROGRESS_EVERY_SECONDS:
                    on_progress(rows_clean + sum(reasons.values()), now - started)
                    last_progress = now
            if on_progress and last_progress != now:
                on_progress(rows_clean + sum(reasons.values()), time.monotonic() - started)
            # Before either file is placed: a row that fails its model never reaches one.
            rows_validated = validation.finish()
            rejected_writer.close()  # writes the last batch
            cleaned_writer.close()  # raises an error of the parquet writing, before the file is placed
        except BaseException:
            candidates.abandon()
            cleaned_writer.abandon()
            rejected_writer.abandon()
            raise
    basis = candidates.finish()
    region_totals.save(out_dir)
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
        rows_validated=rows_validated,
        anomaly_basis=basis,
        region_totals=region_totals,
    )


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
    source = source if is_remote(source) else Path(source)  # a store path reads as it is
    try:
        cleaning = clean_file(
            source, Path(out_dir), parsed, limits, chunk_records=chunk_records, fast=fast, block_bytes=block_bytes,
            cleaning_threads=cleaning_threads,
        )
    except FileFailure:
        remove_if_empty(Path(out_dir))
        raise
    summary, summary_path = write_region_summary(cleaning.cleaned_path, Path(out_dir), cleaning.region_totals)
    report = write_anomaly_report(
        cleaning.cleaned_path, Path(out_dir), cleaning.options.anomaly_k, basis=cleaning.anomaly_basis
    )
    return ProcessResult(cleaning=cleaning, summary=summary, summary_path=summary_path, anomalies=report)
