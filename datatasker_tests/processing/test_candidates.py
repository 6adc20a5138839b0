"""The anomaly report from what the cleaner set aside equals the two-pass report, whatever k."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from datatasker_pipeline.processing import candidates
from datatasker_pipeline.processing.anomalies import write_anomaly_report
from datatasker_pipeline.processing.pipeline import process_file
from datatasker_pipeline.vocabulary import ANOMALIES_FILE, ANOMALY_BASIS_FILE, ANOMALY_CANDIDATES_FILE

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402
from benchmarks.shapes import Knobs  # noqa: E402


@pytest.fixture(scope="module")
def sales(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("src") / "sales.csv"
    generate(20_000, 4, str(path), knobs=Knobs(anomaly_rate=0.01))
    return path


@pytest.mark.parametrize("k", [0.0, 0.5, 2.0, 6.0])
def test_the_report_from_the_set_aside_rows_is_the_two_pass_report(tmp_path, sales, k):
    result = process_file(sales, tmp_path / "one", {"anomaly_k": k}, block_bytes=64 * 1024)
    basis = result.cleaning.anomaly_basis
    assert basis is not None and len(basis.chunks) > 5
    assert not (tmp_path / "one" / ANOMALY_CANDIDATES_FILE).exists()  # the report deleted it
    (tmp_path / "two").mkdir()
    two = write_anomaly_report(result.cleaning.cleaned_path, tmp_path / "two", k)
    assert (tmp_path / "one" / ANOMALIES_FILE).read_bytes() == (tmp_path / "two" / ANOMALIES_FILE).read_bytes()
    assert result.anomaly_count == two.count > 0


def test_without_the_set_aside_rows_the_chunks_are_read_back(tmp_path, sales):
    result = process_file(sales, tmp_path / "one", {"anomaly_k": 2.0}, block_bytes=64 * 1024)
    # The candidates file is gone (deleted by the first report): a second report reads cleaned.parquet.
    (tmp_path / "again").mkdir()
    again = write_anomaly_report(result.cleaning.cleaned_path, tmp_path / "again", 2.0, basis=result.cleaning.anomaly_basis)
    assert again.count == result.anomaly_count
    assert (tmp_path / "one" / ANOMALIES_FILE).read_bytes() == (tmp_path / "again" / ANOMALIES_FILE).read_bytes()


def test_setting_aside_stops_when_too_many_rows_would_be_kept(tmp_path, sales, monkeypatch):
    monkeypatch.setattr(candidates, "MAX_CANDIDATE_ROWS", 10)
    monkeypatch.setattr(candidates, "MAX_CANDIDATE_SHARE", 0.0)
    result = process_file(sales, tmp_path / "one", {"anomaly_k": 0.0}, block_bytes=64 * 1024)
    chunks = result.cleaning.anomaly_basis.chunks
    assert any(c.bound == float("inf") for c in chunks) and sum(c.candidate_rows for c in chunks) <= 10
    (tmp_path / "two").mkdir()
    write_anomaly_report(result.cleaning.cleaned_path, tmp_path / "two", 0.0)
    assert (tmp_path / "one" / ANOMALIES_FILE).read_bytes() == (tmp_path / "two" / ANOMALIES_FILE).read_bytes()


def test_the_saved_basis_reads_back_exactly_and_goes_with_the_candidates(tmp_path, make_csv):
    """The report may run in another step (another process): it finds the cleaner's statistics beside its rows."""
    from datatasker_pipeline.processing.candidates import saved_anomaly_basis
    from datatasker_pipeline.processing.options import load_options
    from datatasker_pipeline.processing.pipeline import clean_file

    lines = ["region,revenue,quantity,discount"] + [f"East,{10 + i % 7},1,0" for i in range(3000)] + ["West,900,1,0"]
    out = tmp_path / "run"
    out.mkdir()
    cleaning = clean_file(make_csv("\n".join(lines) + "\n"), out, load_options(None, {}), chunk_records=500)
    saved = saved_anomaly_basis(out)
    assert saved is not None
    assert saved.stats == cleaning.anomaly_basis.stats
    assert saved.chunks == cleaning.anomaly_basis.chunks and len(saved.chunks) > 1
    saved.discard()
    assert saved_anomaly_basis(out) is None
    assert not {p.name for p in out.iterdir()} & {ANOMALY_CANDIDATES_FILE, ANOMALY_BASIS_FILE}


def test_no_saved_basis_in_a_folder_without_one(tmp_path):
    from datatasker_pipeline.processing.candidates import saved_anomaly_basis

    assert saved_anomaly_basis(tmp_path) is None
