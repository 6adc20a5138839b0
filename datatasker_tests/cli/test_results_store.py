"""``results`` trusts a run's files only with its manifest: downloaded from a real S3 server (SeaweedFS),
or read from a local data root. The webserver is a stand-in answering the run's status and metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from datatasker_pipeline.cli import main, results
from datatasker_pipeline.processing.store import location
from datatasker_pipeline.vocabulary import EXIT_NOT_FOUND, EXIT_OK, RESULT_FILES

RUN_ID = "0f1e2d3c-aaaa-bbbb-cccc-000000000001"
FILES = {
    "region_summary.csv": b"region,row_count,revenue_sum,revenue_mean,quantity_sum,discount_mean\nEast,1,10.0,10.0,2,0.1\n",
    "anomalies.csv": b"region,revenue,quantity,discount,source_row,revenue_per_unit,z_score,threshold\n",
    "rejected_rows.csv": b"source_row,reason,column,value\n3,not_a_number,revenue,n/a\n",
    "cleaned.parquet": os.urandom(70_000),
}


class RunStandIn:
    """``run`` as the webserver answers it for a finished run whose outputs lie under ``outputs``."""

    def __init__(self, outputs: str):
        self.outputs = outputs
        self.url = "http://webserver.invalid"

    def run(self, run_id):
        assets: dict[str, list] = {}
        for file_name, asset, label in RESULT_FILES.values():
            entry = {"__typename": "PathMetadataEntry", "label": label, "path": f"{self.outputs}/{file_name}"}
            assets.setdefault(asset, []).append(entry)
        assets["region_summary"] += [
            {"__typename": "IntMetadataEntry", "label": "regions", "intValue": 1},
            {
                "__typename": "TableMetadataEntry", "label": "summary",
                "table": {"schema": {"columns": [{"name": "region"}, {"name": "row_count"}]},
                          "records": [json.dumps({"region": "East", "row_count": 1})]},
            },
        ]
        return {
            "runId": run_id, "status": "SUCCESS",
            "assetMaterializations": [{"assetKey": {"path": [a]}, "metadataEntries": e} for a, e in assets.items()],
        }


def place(store, manifest: bool) -> None:
    for name, data in FILES.items():
        (store / "outputs" / RUN_ID / name).write_bytes(data)
    if manifest:
        (store / "manifests" / f"{RUN_ID}.json").write_bytes(json.dumps({"run_id": RUN_ID}).encode())


@pytest.fixture
def store(s3_env, monkeypatch):
    root = location(s3_env.url(f"results-{os.urandom(4).hex()}"))
    monkeypatch.setattr(results, "client_for", lambda args: RunStandIn(f"{root}/outputs/{RUN_ID}"))
    return root


@pytest.mark.s3
def test_a_complete_run_is_downloaded_from_the_store(store, tmp_path, capsys):
    place(store, manifest=True)
    assert main(["results", RUN_ID, "--out", str(tmp_path / "res"), "--json"]) == EXIT_OK
    answer = json.loads(capsys.readouterr().out)
    assert {Path(p).name for p in answer["copied"].values()} == set(FILES)
    for name, data in FILES.items():
        assert (tmp_path / "res" / name).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == sorted(FILES)


@pytest.mark.s3
def test_without_out_the_store_urls_are_listed(store, capsys):
    place(store, manifest=True)
    assert main(["results", RUN_ID]) == EXIT_OK
    printed = capsys.readouterr().out
    assert f"{store}/outputs/{RUN_ID}/cleaned.parquet" in printed and "East" in printed


@pytest.mark.s3
def test_a_run_without_its_manifest_has_no_results_to_fetch(store, tmp_path, capsys):
    place(store, manifest=False)  # all four files there, but the run never said it had finished them
    assert main(["results", RUN_ID, "--out", str(tmp_path / "res")]) == EXIT_NOT_FOUND
    error = capsys.readouterr().err.strip()
    assert error == (
        f"datatasker: run {RUN_ID} has no complete results in {store}: its manifest manifests/{RUN_ID}.json "
        "is missing (the run did not finish placing its four files, or they were removed)"
    )
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").iterdir())


def local_root(tmp_path, monkeypatch, manifests: bool, manifest: bool) -> Path:
    root = tmp_path / "data"
    (root / "outputs" / RUN_ID).mkdir(parents=True)
    for name, data in FILES.items():
        (root / "outputs" / RUN_ID / name).write_bytes(data)
    if manifests:
        (root / "manifests").mkdir()
    if manifest:
        (root / "manifests" / f"{RUN_ID}.json").write_text("{}")
    monkeypatch.setattr(results, "client_for", lambda args: RunStandIn(f"{root}/outputs/{RUN_ID}"))
    return root


def test_a_local_root_with_manifests_trusts_only_runs_that_have_theirs(tmp_path, monkeypatch, capsys):
    root = local_root(tmp_path, monkeypatch, manifests=True, manifest=False)
    assert main(["results", RUN_ID, "--out", str(tmp_path / "res")]) == EXIT_NOT_FOUND
    assert f"has no complete results in {root}" in capsys.readouterr().err
    (root / "manifests" / f"{RUN_ID}.json").write_text("{}")
    assert main(["results", RUN_ID, "--out", str(tmp_path / "res")]) == EXIT_OK
    assert (tmp_path / "res" / "cleaned.parquet").read_bytes() == FILES["cleaned.parquet"]


def test_a_local_root_from_before_manifests_is_read_as_before(tmp_path, monkeypatch):
    local_root(tmp_path, monkeypatch, manifests=False, manifest=False)
    assert main(["results", RUN_ID, "--out", str(tmp_path / "res")]) == EXIT_OK
