"""The object-store data root end to end: real SeaweedFS, webserver and daemon, files uploaded to the bucket.

Marked ``e2e`` and ``s3``: it starts real Dagster processes over an S3 data
root and waits for sensor ticks (upload -> run -> outputs and manifest in the bucket).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from datatasker_pipeline.testing.host import cmdline, pids_with_open_file_under
from datatasker_pipeline.testing.stack import REPO_ROOT, DagsterStack
from datatasker_pipeline.vocabulary import DATA_DIR_ENV, FINISHED_STATUSES, OUTPUT_FILE_NAMES, WORK_DIR_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.s3]

GOOD = b"region,revenue,quantity,discount\nEast,10,2,0.1\nWest,n/a,1,0\n"
BAD = b"region,product,revenue,quantity\nEast,x,1,1\n"


@pytest.fixture(scope="module")
def stack(s3_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("s3stack")
    url = s3_server.url(f"e2e-{os.urandom(4).hex()}")
    env = {**s3_server.env(), DATA_DIR_ENV: url, WORK_DIR_ENV: str(base / "work")}
    with DagsterStack(base, daemon=True, extra_env=env) as stack:
        stack.store = s3_server.filesystem()
        stack.prefix = url.removeprefix("s3://")
        stack.work_dir = base / "work"
        yield stack


def wait_until(what: str, probe, stack, timeout: float = 240, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}\n{stack.all_log_tails()}")


def finished_runs(stack, name: str) -> list[dict]:
    return [r for r in stack.runs_of_file(name) if r["status"] in FINISHED_STATUSES]


def test_uploads_become_runs_with_outputs_and_a_manifest_in_the_bucket(stack):
    store, root = stack.store, stack.prefix
    store.pipe_file(f"{root}/incoming/sales.csv", GOOD)
    store.pipe_file(f"{root}/incoming/bad.csv", BAD)
    good = stack.wait_for_finished_run("sales.csv")
    bad = stack.wait_for_finished_run("bad.csv")
    assert good["status"] == "SUCCESS", stack.all_log_tails()
    run_id = good["runId"]
    assert sorted(p.rsplit("/", 1)[1] for p in store.ls(f"{root}/outputs/{run_id}")) == sorted(OUTPUT_FILE_NAMES)
    manifest = json.loads(store.cat(f"{root}/manifests/{run_id}.json"))
    assert manifest["run_id"] == run_id and set(manifest["files"]) == set(OUTPUT_FILE_NAMES)
    assert store.cat(f"{root}/raw/{run_id}/sales.csv") == GOOD
    rejected = store.cat(f"{root}/outputs/{run_id}/rejected_rows.csv").decode().splitlines()
    assert rejected == ["source_row,reason,column,value", "2,missing_value,revenue,n/a"]
    assert not store.exists(f"{root}/incoming/sales.csv") and not store.exists(f"{root}/incoming/bad.csv")

    assert bad["status"] == "FAILURE"
    assert not store.exists(f"{root}/manifests/{bad['runId']}.json")
    record = wait_until("bad.csv's failure record", lambda: store.exists(f"{root}/failed/{bad['runId']}.json"), stack)
    assert record and "missing required column(s): discount" in json.loads(
        store.cat(f"{root}/failed/{bad['runId']}.json"))["error"]

    # The same bytes uploaded again under the same key start no run: set aside beside the run that had them.
    store.pipe_file(f"{root}/incoming/sales.csv", GOOD)
    wait_until("the duplicate set aside", lambda: store.exists(f"{root}/duplicates/{run_id}/sales.csv"), stack, 120)
    assert len(stack.runs_of_file("sales.csv")) == 1

    # An aborted multipart upload is never an object: no run.
    bucket, _, prefix = root.partition("/")
    started = store.call_s3("create_multipart_upload", Bucket=bucket, Key=f"{prefix}/incoming/aborted.csv")
    store.call_s3("upload_part", Bucket=bucket, Key=f"{prefix}/incoming/aborted.csv", PartNumber=1,
                  UploadId=started["UploadId"], Body=GOOD)
    store.call_s3("abort_multipart_upload", Bucket=bucket, Key=f"{prefix}/incoming/aborted.csv",
                  UploadId=started["UploadId"])

    # Changed bytes under the same key: a new run.
    store.pipe_file(f"{root}/incoming/sales.csv", GOOD + b"North,5,1,0\n")
    runs = wait_until("a second run of sales.csv", lambda: len(finished_runs(stack, "sales.csv")) == 2
                      and finished_runs(stack, "sales.csv"), stack)
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"]
    assert store.exists(f"{root}/manifests/{runs[0]['runId']}.json")
    assert stack.runs_of_file("aborted.csv") == []


def test_a_run_killed_mid_write_leaves_no_manifest(stack, tmp_path):
    big = tmp_path / "big.csv"
    rows = int(os.environ.get("DATATASKER_FAULT_ROWS") or 2_000_000)
    subprocess.run([sys.executable, "-m", "benchmarks.generate", "--rows", str(rows), "--seed", "5", "--out", str(big)],
                   cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    stack.store.put_file(str(big), f"{stack.prefix}/incoming/big.csv")
    run = wait_until("big.csv's run to start", lambda: next(iter(stack.runs_of_file("big.csv")), None), stack)
    pids = wait_until("the run worker writing in the work folder",
                      lambda: pids_with_open_file_under(stack.work_dir), stack, 120, 0.05)
    assert not any(p == proc.pid for p in pids for proc in stack.procs.values())
    for pid in pids:
        print(f"\n[s3] killing run worker {pid} ({cmdline(pid)[:100]})")
        os.kill(pid, signal.SIGKILL)
    status = wait_until("the killed run to be marked finished",
                        lambda: next((r["status"] for r in finished_runs(stack, "big.csv")), None), stack, 240)
    assert status == "FAILURE"
    assert not stack.store.exists(f"{stack.prefix}/manifests/{run['runId']}.json")
