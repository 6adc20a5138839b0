"""What the cleaner learns for the anomaly report while it writes, so the report needs no second pass.

The anomaly threshold (mean + k * sample std of revenue per unit over all
clean rows) is known only when the last chunk is cleaned. While cleaning,
:class:`CandidateWriter` therefore

- merges each chunk's revenue-per-unit statistics in file order
  (:class:`RunningStats`), so the threshold is known at the end without
  reading the file again;
- sets aside, in a small parquet file beside the outputs, every row of the
  chunk above a *provisional bound* (the running mean plus half of k
  running standard deviations), and remembers each chunk's bound and
  largest revenue per unit (:class:`ChunkFacts`).

The report then takes each chunk's anomalies from the set-aside rows when
that chunk's bound was at or below the final threshold (every row above the
threshold is above the bound, so none is missing), skips chunks whose
largest value is not above it, and reads back from ``cleaned.parquet`` only
the rows of the (rare) chunks for which neither holds. The result is exactly
what a full second pass gives; only the work differs. When too many rows
would be set aside (k near 0), setting aside stops and those chunks are
read back instead.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..vocabulary import ANOMALY_BASIS_FILE, ANOMALY_CANDIDATES_FILE, REVENUE_PER_UNIT
from .cleaned import read_rows
from .outputs import ParquetTableWriter

# Share of k (in running standard deviations above the running mean) at which rows are set aside.
BOUND_SHARE = 0.5
# Setting aside stops when it would hold more than this many rows and this share of the rows seen.
MAX_CANDIDATE_ROWS = 50_000
MAX_CANDIDATE_SHARE = 0.05


@dataclass
class RunningStats:
    """Count, mean and sum of squared deviations, merged batch by batch.

    Chan et al.'s pairwise update, which stays accurate where the textbook
    sum-of-squares formula cancels.
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        n = len(values)
        if n == 0:
            return
        if not np.isfinite(values).all():
            # Overflowed revenue per unit: the statistics are no longer numbers.
            self.count += n
            self.mean = self.m2 = float("nan")
            return
        batch_mean = float(np.mean(values))
        batch_m2 = float(np.sum((values - batch_mean) ** 2))
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total

    @property
    def sample_std(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else float("nan")


@dataclass(frozen=True)
class ChunkFacts:
    """One cleaned chunk: its rows in cleaned.parquet and in the candidates file, its bound and maximum."""

    clean_rows: int
    candidate_rows: int
    bound: float  # every row of the chunk above this is in the candidates file
    largest: float  # the largest revenue per unit of the chunk (-inf when it has no rows)


@dataclass
class AnomalyBasis:
    """The statistics of all clean rows and where the rows that may be anomalies are."""

    stats: RunningStats
    candidates_path: Path
    chunks: list[ChunkFacts] = field(default_factory=list)

    def anomalous_tables(self, cleaned_path: Path, threshold: float) -> Iterator[pa.Table]:
        """The rows above ``threshold``, in file order, a chunk's worth at a time."""
        above = pa.scalar(threshold, pa.float64())
        candidates = _Cursor(self.candidates_path)
        offset = 0
        for chunk in self.chunks:
            taken = candidates.take(chunk.candidate_rows)
            if chunk.largest > threshold:
                if taken is not None and chunk.bound <= threshold:
                    rows = taken
                else:
                    rows = read_rows(cleaned_path, offset, chunk.clean_rows)
                yield rows.filter(pc.greater(rows.column(REVENUE_PER_UNIT), above))
            offset += chunk.clean_rows

    @property
    def facts_path(self) -> Path:
        return _facts_path(self.candidates_path)

    def save(self) -> None:
        """Write the statistics and chunk facts beside the candidates file, for a report run by another step."""
        facts = {"stats": asdict(self.stats), "chunks": [asdict(chunk) for chunk in self.chunks]}
        self.facts_path.write_text(json.dumps(facts))  # floats as repr: they read back exactly

    def discard(self) -> None:
        for path in (self.candidates_path, self.facts_path):
            with contextlib.suppress(OSError):
                path.unlink()


def _facts_path(candidates_path: Path) -> Path:
    return candidates_path.with_name(ANOMALY_BASIS_FILE)


def saved_anomaly_basis(folder: Path) -> AnomalyBasis | None:
    """The basis a cleaner saved in ``folder``, None when there is none (then the report reads the file twice)."""
    candidates_path = folder / ANOMALY_CANDIDATES_FILE
    try:
        facts = json.loads(_facts_path(candidates_path).read_text())
    except (OSError, ValueError):
        return None
    return AnomalyBasis(RunningStats(**facts["stats"]), candidates_path, [ChunkFacts(**c) for c in facts["chunks"]])


class _Cursor:
    """Reads the candidates file's rows in order, any number at a time (None once it is gone)."""

    def __init__(self, path: Path):
        try:
            self._file: pq.ParquetFile | None = pq.ParquetFile(path)
        except (OSError, pa.ArrowException):  # deleted by an earlier report: read cleaned.parquet instead
            self._file = None
        self._group = 0
        self._buffer: pa.Table | None = None

    def take(self, n: int) -> pa.Table | None:
        if self._file is None:
            return None
        while (self._buffer.num_rows if self._buffer is not None else 0) < n:
            group = self._file.read_row_group(self._group, use_threads=False)
            self._group += 1
            self._buffer = group if self._buffer is None else pa.concat_tables([self._buffer, group])
        if self._buffer is None:
            return self._file.schema_arrow.empty_table()
        taken, self._buffer = self._buffer.slice(0, n), self._buffer.slice(n)
        return taken


class CandidateWriter:
    """Fed every clean chunk in file order by the cleaner; see the module's docstring."""

    def __init__(self, path: Path, schema: pa.Schema, k: float):
        self._path = path
        self._writer = ParquetTableWriter(path, schema)
        self._k = k
        self.stats = RunningStats()
        self._chunks: list[ChunkFacts] = []
        self._set_aside = 0
        self._full = False

    def add(self, table: pa.Table) -> None:
        values = table.column(REVENUE_PER_UNIT).to_numpy()
        self.stats.add(values)
        largest = float(values.max()) if len(values) else -math.inf
        bound = self.stats.mean + BOUND_SHARE * self._k * self.stats.sample_std
        if self._full or not math.isfinite(bound):
            bound = math.inf
        taken = 0
        if largest > bound:
            candidates = table.filter(pc.greater(table.column(REVENUE_PER_UNIT), pa.scalar(bound, pa.float64())))
            taken = candidates.num_rows
            if self._set_aside + taken > max(MAX_CANDIDATE_ROWS, MAX_CANDIDATE_SHARE * self.stats.count):
                self._full, bound, taken = True, math.inf, 0
            elif taken:
                self._writer.write(candidates)
                self._set_aside += taken
        self._chunks.append(ChunkFacts(table.num_rows, taken, bound, largest))

    def finish(self) -> AnomalyBasis:
        self._writer.close()
        basis = AnomalyBasis(self.stats, self._path, self._chunks)
        basis.save()
        return basis

    def abandon(self) -> None:
        self._writer.close()
        AnomalyBasis(self.stats, self._path, self._chunks).discard()
