"""Every clean and rejected row checked against its pandera model before the files holding them are placed.

pandera's cost is mostly per call (several milliseconds whatever the size),
and a chunk of a wide export is small: a 3 MB block of the 21-column
benchmark export is about 14,000 rows, so validating chunk by chunk took
about 2.4 s of the cleaner's time on 2M rows, all of it holding the GIL the
cleaning threads need. Rows are therefore validated in batches of at least
:data:`VALIDATION_BATCH_ROWS`. It is as safe: the cleaner writes both files
under temporary names (``files.atomic_path``), and a batch that fails raises
before either is placed, so no unvalidated row ever reaches a result file.
Only the model's columns of the clean rows are kept for a batch (a few MB),
not the carried text.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from ..vocabulary import CLEANED_MODEL_COLUMNS
from .schema import CleanSalesRows, RejectedRows

# Rows per validation call, at least (a batch closes with the chunk that reaches it).
VALIDATION_BATCH_ROWS = 200_000

# Text columns stay Arrow-backed in pandas (no Python str per cell).
_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow")}


def validate_clean(table: pa.Table) -> None:
    """CleanSalesRows over the model's columns of ``table`` (carried text columns are not in the model)."""
    # One pandas block per column, numbers without a copy: a consolidated frame was a copy
    # of every number column, made again inside the checks (a third of the validation time).
    frame = table.select(list(CLEANED_MODEL_COLUMNS)).to_pandas(split_blocks=True, types_mapper=_ARROW_TEXT.get)
    CleanSalesRows.validate(frame, inplace=True)


class BatchedValidation:
    """Collects the cleaner's chunks in file order and validates them a batch at a time.

    ``add`` each chunk's clean table and rejected frame; ``finish`` validates
    what is left and gives the number of clean rows that passed
    ``CleanSalesRows`` (all of them: a failure raises ``pandera`` errors).
    """

    def __init__(self, batch_rows: int = VALIDATION_BATCH_ROWS):
        self._batch_rows = batch_rows
        self._clean: list[pa.Table] = []
        self._rejected: list[pd.DataFrame] = []
        self._clean_rows = self._rejected_rows = 0
        self.rows_validated = 0

    def add(self, clean: pa.Table, rejected: pd.DataFrame) -> None:
        if clean.num_rows:
            self._clean.append(clean.select(list(CLEANED_MODEL_COLUMNS)))
            self._clean_rows += clean.num_rows
        if len(rejected):
            self._rejected.append(rejected)
            self._rejected_rows += len(rejected)
        if self._clean_rows >= self._batch_rows:
            self._validate_clean()
        if self._rejected_rows >= self._batch_rows:
            self._validate_rejected()

    def finish(self) -> int:
        self._validate_clean()
        self._validate_rejected()
        return self.rows_validated

    def _validate_clean(self) -> None:
        if self._clean:
            validate_clean(pa.concat_tables(self._clean))
            self.rows_validated += self._clean_rows
        self._clean, self._clean_rows = [], 0

    def _validate_rejected(self) -> None:
        if self._rejected:
            frame = pd.concat(self._rejected, ignore_index=True) if len(self._rejected) > 1 else self._rejected[0]
            RejectedRows.validate(frame, inplace=True)  # inplace: no copy (the models do not coerce)
        self._rejected, self._rejected_rows = [], 0
