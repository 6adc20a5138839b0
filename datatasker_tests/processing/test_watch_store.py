"""The sensor's decisions over an object-store inbox (real SeaweedFS): ETags for bytes, bounded listing windows."""

from __future__ import annotations

import os
import time

import pytest

from datatasker_pipeline.processing import watch
from datatasker_pipeline.processing.store import location
from datatasker_pipeline.processing.watch import (
    MAX_RUNS_PER_TICK,
    STORE_PAGES_PER_TICK,
    StoreWindow,
    plan_tick,
)

pytestmark = pytest.mark.s3
CSV = b"region,revenue,quantity,discount\nEast,1,1,0\n"


@pytest.fixture
def incoming(s3_env):
    return location(s3_env.url(f"watch-{os.urandom(4).hex()}")) / "incoming"


class RunDatabase:
    """What the sensor asks the run database: runs by (partition, fingerprint), none finished."""

    def __init__(self):
        self.runs: dict[tuple[str, str], str] = {}

    def already_processed(self, key: str, fingerprint: str):
        run = self.runs.get((key, fingerprint))
        return (run, False) if run else None

    def launch(self, plan) -> None:
        for new in plan.new:
            self.runs[(new.partition_key, new.fingerprint)] = f"run-{len(self.runs)}"


def tick(incoming, cursor: dict, runs: RunDatabase):
    """One sensor tick as defs/sales/sensors.py does it: a window of the listing, then the plan."""
    window = StoreWindow(cursor.get("after", ""))
    plan = plan_tick(incoming, cursor.get("files", {}), settle_seconds=1.0, max_file_bytes=10**9,
                     already_processed=runs.already_processed, scan=window.scan)
    runs.launch(plan)
    return plan, {"files": plan.handled, "after": window.next_start(plan)}


def test_same_bytes_under_the_same_key_start_no_second_run_and_changed_bytes_do(incoming):
    runs = RunDatabase()
    (incoming / "sales.csv").write_bytes(CSV)
    (incoming / ".hidden.csv").write_bytes(CSV)
    (incoming / "upload.csv.part").write_bytes(CSV)
    plan, cursor = tick(incoming, {}, runs)
    assert [n.file.name for n in plan.new] == ["sales.csv"] and plan.new[0].sha256 == ""
    assert tick(incoming, cursor, runs)[0].new == []
    (incoming / "sales.csv").write_bytes(CSV)  # the same bytes written again: same ETag
    plan, cursor = tick(incoming, cursor, runs)
    assert plan.new == []
    (incoming / "sales.csv").write_bytes(CSV + b"West,2,1,0\n")
    plan, cursor = tick(incoming, cursor, runs)
    assert [n.file.name for n in plan.new] == ["sales.csv"]


def test_a_sidecar_is_part_of_the_content(incoming):
    runs = RunDatabase()
    (incoming / "sales.csv").write_bytes(CSV)
    plan, cursor = tick(incoming, {}, runs)
    (incoming / "sales.csv.json").write_bytes(b'{"anomaly_k": 3}')
    plan, cursor = tick(incoming, cursor, runs)
    assert [n.file.name for n in plan.new] == ["sales.csv"] and plan.new[0].file.sidecar_etag


def test_an_aborted_multipart_upload_is_never_seen(incoming):
    bucket, _, prefix = incoming.path.partition("/")
    started = incoming.fs.call_s3("create_multipart_upload", Bucket=bucket, Key=f"{prefix}/aborted.csv")
    incoming.fs.call_s3("upload_part", Bucket=bucket, Key=f"{prefix}/aborted.csv", PartNumber=1,
                        UploadId=started["UploadId"], Body=CSV)
    assert tick(incoming, {}, RunDatabase())[0].new == []  # in progress: not an object yet
    incoming.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=f"{prefix}/aborted.csv",
                        UploadId=started["UploadId"])
    assert tick(incoming, {}, RunDatabase())[0].new == []


def test_five_thousand_objects_are_taken_in_bounded_ticks_each_once(incoming, monkeypatch):
    files = 5_000
    incoming.fs.pipe({(incoming / f"f{i:05}.csv").path: CSV + str(i).encode() for i in range(files)})
    pages: list[int] = []
    real_list_page = watch.list_page

    def counted(*args, **kwargs):
        pages[-1] += 1
        return real_list_page(*args, **kwargs)

    monkeypatch.setattr(watch, "list_page", counted)
    runs, cursor, requested, seconds = RunDatabase(), {}, [], []
    for _ in range(30):
        pages.append(0)
        started = time.monotonic()
        plan, cursor = tick(incoming, cursor, runs)
        seconds.append(time.monotonic() - started)
        requested += [n.file.name for n in plan.new]
        assert pages[-1] <= STORE_PAGES_PER_TICK and len(plan.new) <= MAX_RUNS_PER_TICK
        if len(requested) == files:
            break
    assert sorted(requested) == [f"f{i:05}.csv" for i in range(files)]  # every file once, none twice
    assert len(cursor["files"]) <= STORE_PAGES_PER_TICK * 1000
    print(f"{len(seconds)} ticks, slowest {max(seconds):.2f} s, pages per tick {pages}")


def test_the_same_bytes_uploaded_again_before_a_tick_saw_them_leave_are_still_a_duplicate(incoming):
    runs = RunDatabase()
    (incoming / "sales.csv").write_bytes(CSV)
    plan, cursor = tick(incoming, {}, runs)
    incoming.fs.rm_file((incoming / "sales.csv").path)
    time.sleep(1.1)  # a store records write times in whole seconds
    (incoming / "sales.csv").write_bytes(CSV)  # taken by its run and uploaded again, between two ticks
    finished = RunDatabase()
    finished.already_processed = lambda key, fingerprint: ("run-0", True)
    plan, cursor = tick(incoming, cursor, finished)
    assert [d.file.name for d in plan.duplicates] == ["sales.csv"] and plan.new == []
