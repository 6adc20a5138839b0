"""Fast checks of the benchmark harness in benchmarks/ (issues 3 and 13).

- the generator is deterministic: same seed -> same bytes, another seed -> other bytes;
- the DuckDB baseline writes all four outputs with consistent counts, and
  (when the SPEC oracle is importable) agrees with it on the generated file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402

pytestmark = pytest.mark.timeout(60)

ROWS = 2_000


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    generate(ROWS, 7, str(a))
    generate(ROWS, 7, str(b))
    generate(ROWS, 8, str(c))
    data = a.read_bytes()
    assert data == b.read_bytes()
    assert data != c.read_bytes()
    lines = data.split(b"\n")
    assert lines[0] == b" Region ,Revenue,quantity , DISCOUNT,product,channel"
    # ROWS records + header (+ quoted line breaks) and a final newline
    assert len(lines) >= ROWS + 2 and lines[-1] == b""
    assert b"\r\n" not in data


def test_generator_cli_crlf(tmp_path: Path) -> None:
    from benchmarks.generate import main

    out = tmp_path / "crlf.csv"
    assert main(["--rows", "500", "--seed", "1", "--out", str(out), "--crlf"]) == 0
    data = out.read_bytes()
    assert data.count(b"\r\n") >= 501
    assert data.count(b"\n") == data.count(b"\r\n")


def test_duckdb_job_writes_four_outputs(tmp_path: Path) -> None:
    src = tmp_path / "sales.csv"
    generate(ROWS, 11, str(src))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.duckdb_job", str(src), "--out-dir", str(out),
         "--threads", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    res = json.loads(proc.stdout)
    assert res["status"] == "SUCCESS"
    for key, name in [("region_summary", "region_summary.csv"), ("anomalies", "anomalies.csv"),
                      ("rejected_rows", "rejected_rows.csv"), ("cleaned", "cleaned.parquet")]:
        assert Path(res["outputs"][key]) == (out / name).resolve()
        assert (out / name).is_file()
    assert res["rows_read"] == ROWS
    assert res["rows_read"] == res["rows_clean"] + res["rows_rejected"]
    assert 0 < res["rows_rejected"] < ROWS // 10  # ~2.5 % defects

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    cleaned = pq.read_table(out / "cleaned.parquet")
    rejected = pacsv.read_csv(out / "rejected_rows.csv")
    summary = pacsv.read_csv(out / "region_summary.csv")
    anomalies = pacsv.read_csv(out / "anomalies.csv")
    assert cleaned.num_rows == res["rows_clean"]
    assert rejected.num_rows == res["rows_rejected"]
    assert anomalies.num_rows == res["anomalies"]
    assert sum(summary.column("row_count").to_pylist()) == res["rows_clean"]
    rows = sorted(cleaned.column("source_row").to_pylist() + rejected.column("source_row").to_pylist())
    assert rows == list(range(1, ROWS + 1))
    assert cleaned.column("source_row").to_pylist() == sorted(cleaned.column("source_row").to_pylist())
    assert cleaned.column_names == ["source_row", "region", "revenue", "quantity", "discount",
                                    "product", "channel", "revenue_per_unit"]


def test_duckdb_job_agrees_with_spec_oracle(tmp_path: Path) -> None:
    from benchmarks.duckdb_job import run
    from datatasker_tests.harness.oracle import compare, load_outputs, run_oracle

    # CRLF and ragged records exercise the quoted-line-break and field_count paths
    src = tmp_path / "sales.csv"
    generate(ROWS, 5, str(src), crlf=True, ragged_rate=0.005)
    out = tmp_path / "out"
    res = run(str(src), str(out), threads=1)
    assert res["reader"] == "null_padding"  # the ragged records forced the fallback reader
    oracle = run_oracle(src.read_bytes())
    assert compare(oracle, load_outputs(out)) == []
    assert res["rows_rejected"] == oracle.rows_rejected


def _two_duckdb_runs(tmp_path: Path, rows: int) -> tuple[dict, dict]:
    """The DuckDB baseline's outputs for the same generated file, twice."""
    from benchmarks.duckdb_job import run

    src = tmp_path / "sales.csv"
    generate(rows, 3, str(src))
    a = run(str(src), str(tmp_path / "a"), threads=1)["outputs"]
    b = run(str(src), str(tmp_path / "b"), threads=1)["outputs"]
    return a, b


def test_run_compare_outputs_spots_a_difference(tmp_path: Path) -> None:
    from benchmarks.run import compare_outputs

    a, b = _two_duckdb_runs(tmp_path, 500)
    assert compare_outputs(a, b) == []
    rejected = Path(b["rejected_rows"])
    lines = rejected.read_text(encoding="utf-8").splitlines(keepends=True)
    rejected.write_text("".join(lines[:-1]), encoding="utf-8")  # drop the last rejected row
    diffs = compare_outputs(a, b)
    assert diffs and "rejected_rows" in diffs[0]


def test_run_compare_outputs_finds_two_header_only_files_outputs_equal(tmp_path: Path) -> None:
    from benchmarks.run import compare_outputs

    a, b = _two_duckdb_runs(tmp_path, 0)
    assert compare_outputs(a, b) == []


# Every shape the generator makes, with its knobs turned, must be read the same
# way by the oracle, the pipeline and the DuckDB baseline (issue 13).
SHAPE_CASES = [
    ("narrow", {}, 0.0),
    ("narrow", {"regions": 20, "text_len": 60, "quote_rate": 0.02, "extra_columns": 3, "anomaly_rate": 0.01}, 0.005),
    ("wide", {}, 0.0),
    ("wide", {"regions": 3, "text_len": 120, "quote_rate": 0.05, "extra_columns": 2, "anomaly_rate": 0.02}, 0.0),
]


@pytest.mark.parametrize("shape, knobs, ragged", SHAPE_CASES, ids=lambda v: str(v))
def test_every_shape_agrees_with_the_oracle(tmp_path: Path, shape: str, knobs: dict, ragged: float) -> None:
    import copy

    from benchmarks.duckdb_job import run
    from benchmarks.shapes import WIDE_OPTIONS, Knobs
    from datatasker_pipeline.processing.pipeline import process_file
    from datatasker_tests.harness.oracle import compare, load_outputs, run_oracle

    options = WIDE_OPTIONS if shape == "wide" else {}
    src = tmp_path / "sales.csv"
    generate(1_500, 9, str(src), ragged_rate=ragged, shape=shape, knobs=Knobs(**knobs))
    data = src.read_bytes()
    oracle = run_oracle(data, copy.deepcopy(options))
    assert oracle.error is None and oracle.rows_read == 1_500
    assert oracle.anomaly_count > 0 and oracle.rows_rejected > 0

    duck = run(str(src), str(tmp_path / "duck"), threads=1, column_map=options.get("column_map"))
    # Without ragged records DuckDB must take its fast parallel reader, or the baseline is slowed unfairly.
    assert duck["reader"] == ("null_padding" if ragged else "parallel")
    loaded = load_outputs(tmp_path / "duck")
    loaded.rows_read, loaded.rows_clean, loaded.rows_rejected, loaded.anomaly_count = (
        duck["rows_read"], duck["rows_clean"], duck["rows_rejected"], duck["anomalies"])
    assert compare(oracle, loaded) == []

    result = process_file(src, tmp_path / "pipe", copy.deepcopy(options))
    loaded = load_outputs(tmp_path / "pipe")
    loaded.rows_read, loaded.rows_clean, loaded.rows_rejected, loaded.anomaly_count = (
        result.rows_read, result.rows_clean, result.rows_rejected, result.anomaly_count)
    assert compare(oracle, loaded) == []


def test_the_wide_shape_is_an_export(tmp_path: Path) -> None:
    from benchmarks.generate import main

    out = tmp_path / "wide.csv"
    assert main(["--rows", "2000", "--seed", "3", "--out", str(out), "--shape", "wide"]) == 0
    data = out.read_bytes()
    header = data.split(b"\r\n", 1)[0].decode()
    assert len(header.split(",")) == 21 and "Sales" in header.split(",")
    assert data.count(b"\n") == data.count(b"\r\n")  # CRLF throughout
    text = data.decode("utf-8")
    for needle in ('"Müller, ', "#N/A", ",,", "Île-de-France", "東京", "/2026,", "2026-"):
        assert needle in text, needle


def test_run_cache_names_the_shape_and_knobs() -> None:
    from benchmarks.run import shape_tag
    from benchmarks.shapes import Knobs

    assert shape_tag("narrow", Knobs()) == ""
    assert shape_tag("wide", Knobs(text_len=40)) == "_wide_text_len40"


def test_the_report_states_the_time_target_for_the_files_size() -> None:
    """Issue 13: at most DuckDB's time from 2M rows on, at most 1.5x below (start-up dominates)."""
    from benchmarks.run import table

    summary = {"pipeline": {"rows": 1, "seconds_median": 1.0, "rows_per_s": 1.0, "peak_rss_mb": 1.0,
                            "peak_tree_rss_mb": 1.0, "cpu_seconds_median": 1.0, "ok_runs": 1, "runs": 1}}
    ratio = {"seconds": 1.2, "cpu_seconds": 1.0, "peak_rss": 1.0}
    assert "time <= 1.5x" in table(1_000_000, summary, ratio)
    assert "time <= 1.0x, goal <= 0.8x" in table(2_000_000, summary, ratio)
    assert "time <= 1.0x, goal <= 0.8x" in table(10_000_000, summary, ratio)


def test_the_deployed_environment_has_the_pipeline_and_no_dev_tools() -> None:
    """--deployed runs ``datatasker`` from an environment made as the Dockerfile's (``uv sync --no-dev``)."""
    from benchmarks.run import DEPLOYED_VENV, deployed_pipeline_cmd

    cmd = deployed_pipeline_cmd()
    assert cmd.startswith(str(DEPLOYED_VENV / "bin" / "datatasker"))
    python = DEPLOYED_VENV / "bin" / "python"
    has = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(bool(u.find_spec('hypothesis')), bool(u.find_spec('datatasker_pipeline')))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert has == ["False", "True"]
