"""The client commands against a real deployment whose data root is an object store.

A real ``dagster-webserver`` and ``dagster-daemon`` (SQLite instance) run with
``DATATASKER_DATA_DIR=s3://...`` on a real S3 server (SeaweedFS). The CLI runs
as a separate process, as a person types it: ``submit --wait --json`` uploads
the file, the sensor launches its run, ``results --out`` downloads the four
files, which must equal the same file processed locally. A run whose manifest
is missing has no results to fetch.

Run alone with ``uv run pytest -m e2e datatasker_tests/e2e/test_s3_clients.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from datatasker_pipeline.processing.pipeline import process_file
from datatasker_pipeline.processing.store import location
from datatasker_pipeline.testing.stack import REPO_ROOT, DagsterStack
from datatasker_pipeline.vocabulary import DATA_DIR_ENV, ETAG_TAG, FILE_NAME_TAG, OUTPUT_FILE_NAMES

pytestmark = [pytest.mark.e2e, pytest.mark.s3, pytest.mark.timeout(1500)]

GOOD_CSV = (
    "region,revenue,quantity,discount,product\n"
    "East,100,2,0.1,Widget\n"
    "West,50,1,0,Gadget\n"
    "East,30,3,0.2,Widget\n"
    "North,999,1,0,Gizmo\n"
    "South,1,1,0,Gizmo\n"
    "South,abc,1,0,Gizmo\n"  # rejected: not_a_number
    "West,50,1,0,Gadget\n"  # rejected: duplicate (drop_duplicates from the sidecar)
)
OPTIONS = {"anomaly_k": 1, "drop_duplicates": True}


@pytest.fixture(scope="module")
def store_url(s3_server):
    """A fresh prefix of the test bucket; this process reaches it with the same AWS variables as the stack."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in s3_server.env().items():
            patch.setenv(name, value)
        yield s3_server.url(f"e2e-clients-{os.urandom(4).hex()}")


@pytest.fixture(scope="module")
def stack(s3_server, store_url, tmp_path_factory):
    base = tmp_path_factory.mktemp("s3_clients_e2e")
    env = {**s3_server.env(), DATA_DIR_ENV: store_url, "DATATASKER_WORK_DIR": str(base / "work")}
    deployment = DagsterStack(base, daemon=True, extra_env=env)
    deployment.start(timeout=400)
    try:
        yield deployment
    except BaseException:
        print(deployment.all_log_tails())
        raise
    finally:
        deployment.stop()


def cli(stack: DagsterStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datatasker_pipeline.cli", *args],
        cwd=str(REPO_ROOT), env=stack.client_env(), capture_output=True, text=True, timeout=900,
    )


def explain(result: subprocess.CompletedProcess, stack: DagsterStack) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n{stack.all_log_tails(3000)}"


@pytest.fixture(scope="module")
def submitted(stack, tmp_path_factory):
    """``submit --wait --json`` of a file with a sidecar beside it and --config on top."""
    folder = tmp_path_factory.mktemp("client_side")
    source = folder / "s3_sales.csv"
    source.write_text(GOOD_CSV, encoding="utf-8")
    (folder / "s3_sales.csv.json").write_text(json.dumps({"anomaly_k": 3, "drop_duplicates": True}))
    done = cli(stack, "submit", str(source), "--config", '{"anomaly_k": 1}', "--wait", "--json",
               "--timeout", "240", "--wait-timeout", "600")
    assert done.returncode == 0, explain(done, stack)
    return source, json.loads(done.stdout)


def test_submit_uploads_and_follows_the_sensors_run(stack, submitted, store_url):
    source, answer = submitted
    assert answer["status"] == "SUCCESS" and answer["already_processed"] is False, answer
    assert (answer["file_name"], answer["rows_read"], answer["rows_rejected"]) == ("s3_sales.csv", 7, 2)
    [run] = stack.runs_of_file("s3_sales.csv")  # one run: the client launched none of its own
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["runId"] == answer["run_id"] and tags[FILE_NAME_TAG] == "s3_sales.csv" and tags[ETAG_TAG]
    root = location(store_url)
    assert not (root / "incoming" / "s3_sales.csv").exists()  # the run took it into raw/<run_id>/
    assert (root / "raw" / answer["run_id"] / "s3_sales.csv").read_bytes() == source.read_bytes()


def test_results_downloads_what_local_processing_gives(stack, submitted, tmp_path):
    source, answer = submitted
    out = tmp_path / "downloaded"
    done = cli(stack, "results", answer["run_id"], "--out", str(out))
    assert done.returncode == 0, explain(done, stack)
    assert "East" in done.stdout
    expected = tmp_path / "local"
    process_file(source, expected, OPTIONS)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILE_NAMES)
    for name in OUTPUT_FILE_NAMES:
        if name.endswith(".csv"):
            assert (out / name).read_bytes() == (expected / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(out / "cleaned.parquet"), pd.read_parquet(expected / "cleaned.parquet"))


def test_a_run_without_its_manifest_has_no_results(stack, submitted, store_url, tmp_path):
    run_id = submitted[1]["run_id"]
    manifest = location(store_url) / "manifests" / f"{run_id}.json"
    kept = manifest.read_bytes()
    manifest.unlink()  # as if the run had died before placing its last file
    try:
        done = cli(stack, "results", run_id, "--out", str(tmp_path / "nothing"))
    finally:
        manifest.write_bytes(kept)
    assert done.returncode == 4, explain(done, stack)
    assert done.stderr.strip() == (
        f"datatasker: run {run_id} has no complete results in {store_url}: its manifest manifests/{run_id}.json "
        "is missing (the run did not finish placing its four files, or they were removed)"
    )
    assert not (tmp_path / "nothing").exists() or not any((tmp_path / "nothing").iterdir())
