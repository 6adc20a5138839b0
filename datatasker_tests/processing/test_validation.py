"""Clean and rejected rows are validated in batches, and a failing batch keeps every result file from appearing."""

from __future__ import annotations

import pandas as pd
import pandera.errors
import pyarrow as pa
import pytest

from datatasker_pipeline.processing import pipeline
from datatasker_pipeline.processing.cleaning import CleanedChunk, clean_chunk
from datatasker_pipeline.processing.options import parse_options
from datatasker_pipeline.processing.validation import BatchedValidation, validate_clean
from datatasker_pipeline.vocabulary import CLEANED_FILE, NOT_A_NUMBER, REJECTED_ROWS_FILE


def clean_rows(first_row: int, revenues: list[float]) -> pa.Table:
    rows = len(revenues)
    return pa.table({
        "source_row": list(range(first_row, first_row + rows)),
        "region": ["north"] * rows,
        "revenue": revenues,
        "quantity": [2.0] * rows,
        "discount": [0.1] * rows,
        "Note": ["carried"] * rows,
        "revenue_per_unit": [r / 2 for r in revenues],
    })


def rejected_rows(first_row: int, reasons: list[str]) -> pd.DataFrame:
    rows = len(reasons)
    return pd.DataFrame({
        "source_row": list(range(first_row, first_row + rows)),
        "reason": pd.Series(reasons, dtype="str"),
        "column": pd.Series(["revenue"] * rows, dtype="str"),
        "value": pd.Series(["x"] * rows, dtype="str"),
    })


def test_every_clean_row_is_counted_once_validated_across_batches():
    validation = BatchedValidation(batch_rows=3)
    for first in (1, 3, 5, 7):
        validation.add(clean_rows(first, [10.0, 20.0]), rejected_rows(100 + first, [NOT_A_NUMBER]))
    assert validation.finish() == 8


def test_a_bad_clean_row_in_a_later_batch_fails_validation():
    validation = BatchedValidation(batch_rows=3)
    validation.add(clean_rows(1, [10.0, 20.0, 30.0]), rejected_rows(50, []))
    with pytest.raises(pandera.errors.SchemaError):
        validation.add(clean_rows(4, [10.0, -1.0, 30.0]), rejected_rows(50, []))


def test_rejected_rows_out_of_file_order_or_repeated_fail_validation():
    for second_first in (49, 51):  # 49 after 51: out of order; 51 again: repeated
        validation = BatchedValidation(batch_rows=10)
        validation.add(clean_rows(1, []), rejected_rows(50, [NOT_A_NUMBER, NOT_A_NUMBER]))
        validation.add(clean_rows(1, []), rejected_rows(second_first, [NOT_A_NUMBER]))
        with pytest.raises(pandera.errors.SchemaError, match="in file order"):
            validation.finish()


def test_a_row_repeated_across_chunks_of_one_batch_fails_validation():
    validation = BatchedValidation(batch_rows=10)
    validation.add(clean_rows(1, [10.0, 20.0]), rejected_rows(50, []))
    validation.add(clean_rows(2, [10.0]), rejected_rows(50, []))  # source_row 2 again
    with pytest.raises(pandera.errors.SchemaError):
        validation.finish()


def test_clean_rows_out_of_file_order_fail_validation():
    validation = BatchedValidation(batch_rows=10)
    validation.add(clean_rows(5, [10.0, 20.0]), rejected_rows(50, []))
    validation.add(clean_rows(3, [10.0]), rejected_rows(50, []))  # 3 after 6: not in file order
    with pytest.raises(pandera.errors.SchemaError, match="in file order"):
        validation.finish()


def test_an_empty_frame_passes_the_clean_rows_model():
    validate_clean(clean_rows(1, [10.0]).slice(0, 0))


def test_a_rejected_row_with_an_unknown_reason_fails_validation_at_the_end():
    validation = BatchedValidation(batch_rows=1000)
    validation.add(clean_rows(1, [10.0]), rejected_rows(2, ["not_a_reason"]))
    with pytest.raises(pandera.errors.SchemaError):
        validation.finish()


def test_a_chunk_that_fails_its_model_leaves_no_result_file(tmp_path, monkeypatch):
    """As if the cleaner had a bug: the last chunk's clean rows break CleanSalesRows."""
    source = tmp_path / "sales.csv"
    source.write_text("region,revenue,quantity,discount\n" + "north,10,2,0.1\n" * 5)

    def buggy(chunk, layout, options, duplicates=None) -> CleanedChunk:
        cleaned = clean_chunk(chunk, layout, options, duplicates)
        broken = cleaned.table.set_column(2, "revenue", pa.array([-1.0] * cleaned.table.num_rows))
        return CleanedChunk(table=broken, rejected=cleaned.rejected)

    monkeypatch.setattr(pipeline, "clean_chunk", buggy)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(pandera.errors.SchemaError):
        pipeline.clean_file(source, out, parse_options({}))
    assert not (out / CLEANED_FILE).exists() and not (out / REJECTED_ROWS_FILE).exists()
