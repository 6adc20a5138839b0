"""All stages on one file, read back as a person would read the four outputs."""

from __future__ import annotations

import threading

import pyarrow.parquet as pq
import pytest

from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.pipeline import process_file

MESSY = (
    "\ufeff Region ,Revenue, Quantity ,discount,Product,=Note\r\n"
    "East, 100 ,2,0.1,\"Widget, large\",ok\r\n"
    "\r\n"
    "West,n/a,1,0,Gadget,\r\n"
    "  \r\n"
    "North,5,0,0,Gizmo,\r\n"
    "=HYPERLINK(\"x\"),-5,1,0,Gizmo,\r\n"
    "East,1e309,1,0,Gizmo,\r\n"
    "East,10,1,1.5,Gizmo,\r\n"
    "@evil,300,1,0,\"-2+3\",+note\r\n"
    "East,10,1,0.2,\"multi\r\nline\",\r\n"
    "East,11,1,0.2,Widget,\r\n"
    "東京,9,1,0.2,Widget,\r\n"
    "East,10,1,0.2,Widget,-7\r\n"
)


def test_messy_file_end_to_end(process):
    out = process(MESSY)
    assert (out.result.rows_read, out.result.rows_clean, out.result.rows_rejected) == (12, 6, 6)
    assert out.rejected_as_tuples() == [
        ("2", "missing_value", "revenue", "n/a"),
        ("3", "field_count", "", ""),
        ("4", "zero_quantity", "quantity", "0"),
        ("5", "out_of_range", "revenue", "-5"),
        ("6", "not_a_number", "revenue", "1e309"),
        ("7", "out_of_range", "discount", "1.5"),
    ]
    assert [r["region"] for r in out.summary] == ["'@evil", "East", "東京"]
    east = out.summary[1]
    discount_mean = float(east.pop("discount_mean"))  # summation order may move the last bit
    assert east == {"region": "East", "row_count": "4", "revenue_sum": "131.0", "revenue_mean": "32.75",
                    "quantity_sum": "5.0"}
    assert discount_mean == pytest.approx(0.175, rel=1e-15)
    assert list(out.cleaned.columns) == ["source_row", "region", "revenue", "quantity", "discount", "Product",
                                         "=Note", "revenue_per_unit"]
    assert out.cleaned["source_row"].tolist() == [1, 8, 9, 10, 11, 12]
    assert out.cleaned.loc[out.cleaned["source_row"] == 9, "Product"].item() == "multi\r\nline"
    # formula-like text is kept as read in the parquet and guarded in the CSVs
    assert out.cleaned.loc[out.cleaned["source_row"] == 8, "=Note"].item() == "+note"
    assert [(a["source_row"], a["region"], a["Product"], a["=Note"]) for a in out.anomalies] == [
        ("8", "'@evil", "'-2+3", "'+note")
    ]
    header = (out.folder / "anomalies.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "source_row,region,revenue,quantity,discount,Product,=Note,revenue_per_unit,z_score,threshold"


def test_header_only_file_gives_empty_outputs_with_headers(process):
    out = process("region,revenue,quantity,discount,extra\n")
    assert out.summary == [] and out.anomalies == [] and out.rejected == [] and out.cleaned.empty
    assert list(out.cleaned.columns) == ["source_row", "region", "revenue", "quantity", "discount", "extra",
                                         "revenue_per_unit"]
    assert (out.folder / "region_summary.csv").read_text() == (
        "region,row_count,revenue_sum,revenue_mean,quantity_sum,discount_mean\n"
    )


def test_every_row_rejected_still_gives_all_outputs(process):
    out = process("region,revenue,quantity,discount\nbad\n,1,1,0\n")
    assert out.result.rows_clean == 0 and out.result.rows_rejected == 2
    assert out.summary == [] and out.anomalies == []


def test_anomaly_k_option_moves_the_threshold(process):
    content = "region,revenue,quantity,discount\n" + "".join(f"R,{v},1,0\n" for v in [10, 11, 9, 10, 12, 30])
    assert len(process(content).anomalies) == 1
    assert len(process(content, {"anomaly_k": 5}).anomalies) == 0
    spread = "region,revenue,quantity,discount\n" + "".join(f"R,{v},1,0\n" for v in [1, 2, 3, 4, 5, 6])
    assert len(process(spread).anomalies) == 0
    assert [a["source_row"] for a in process(spread, {"anomaly_k": 0}).anomalies] == ["4", "5", "6"]


def test_failed_file_leaves_no_outputs(tmp_path, make_csv):
    out = tmp_path / "run"
    with pytest.raises(FileFailure, match=r"^missing required column\(s\): discount; found: region, product, revenue, quantity$"):
        process_file(make_csv("region,product,revenue,quantity\nEast,x,1,1\n"), out)
    assert not out.exists()


def test_failure_late_in_a_big_file_removes_partial_outputs(tmp_path, make_csv):
    content = ("region,revenue,quantity,discount\n" + "East,1,1,0\n" * 5000).encode() + b"\xff\n"
    out = tmp_path / "run"
    with pytest.raises(FileFailure, match="undecodable byte"):
        process_file(make_csv(content), out, chunk_records=100)
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("rows, chunk_records, failing_write", [(5000, 100, 3), (20, None, 1)])
def test_a_failing_parquet_write_fails_the_file_and_leaves_no_outputs(
    tmp_path, make_csv, monkeypatch, rows, chunk_records, failing_write
):
    """The cleaned rows are written on a thread of their own: its error still reaches the caller, nothing is placed.

    A failure of the last (here the only) write can only be reported when the writer closes.
    """
    from datatasker_pipeline.processing import outputs

    real_write = outputs.ParquetTableWriter.write
    written = []

    def write_then_fail(self, table):
        if threading.current_thread().name == "datatasker-write-cleaned":
            written.append(table.num_rows)
            if len(written) == failing_write:
                raise OSError("No space left on device")
        real_write(self, table)

    monkeypatch.setattr(outputs.ParquetTableWriter, "write", write_then_fail)
    content = "region,revenue,quantity,discount\n" + "East,1,1,0\n" * rows
    out = tmp_path / "run"
    with pytest.raises(OSError, match="No space left on device"):
        process_file(make_csv(content), out, chunk_records=chunk_records)
    assert len(written) >= failing_write
    assert not out.exists() or list(out.iterdir()) == []


def test_options_are_applied(process):
    content = "Area;Sales;Units;Off\nEast;10;2;\nEast;10;2;\nWest;n/a;1;0\n"
    out = process(content, {"delimiter": ";", "column_map": {"area": "region", "sales": "revenue", "units": "quantity",
                                                             "off": "discount"},
                            "fill_missing": {"discount": 0, "revenue": "0"}, "drop_duplicates": True})
    assert out.rejected_as_tuples() == [("2", "duplicate", "", "")]
    assert out.cleaned[["region", "revenue", "discount"]].values.tolist() == [["East", 10.0, 0.0], ["West", 0.0, 0.0]]


def test_cleaning_on_threads_gives_the_same_outputs_as_one_thread(tmp_path, make_csv):
    lines = ["region,revenue,quantity,discount,note"]
    for i in range(3000):
        lines.append(f"R{i % 7},{'n/a' if i % 97 == 0 else i % 50},{i % 4},0.{i % 10},\"n{i}\nx\"")
    source = make_csv("\n".join(lines) + "\n", name="many.csv")
    outputs = {}
    for threads in (1, 2, 4):
        out = tmp_path / f"t{threads}"
        process_file(source, out, block_bytes=4096, cleaning_threads=threads)
        outputs[threads] = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".csv"}
        outputs[threads]["cleaned rows"] = pq.read_table(out / "cleaned.parquet").to_pylist()
    assert outputs[1] == outputs[2] == outputs[4]
    assert len(outputs[1]["cleaned rows"]) > 2000
    zero_quantity = sum(1 for i in range(3000) if i % 4 == 0 and i % 97 != 0)
    assert outputs[1]["rejected_rows.csv"].count(b"zero_quantity") == zero_quantity
