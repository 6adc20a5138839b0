"""Retention: old run folders and failure records go, young ones and running ones stay."""

from __future__ import annotations

import os
import time

import pytest

from datatasker_pipeline.processing.retention import purge_old_run_folders
from datatasker_tests.harness.run_folders import DAY, make_run_folders


def test_only_runs_older_than_the_limit_are_removed(tmp_path):
    make_run_folders(tmp_path, "old", 40)
    make_run_folders(tmp_path, "young", 5)
    make_run_folders(tmp_path, "running", 90)
    make_run_folders(tmp_path, "unknown-old", 31)
    ends = {"old": time.time() - 40 * DAY, "young": time.time() - 5 * DAY, "running": float("inf")}
    report = purge_old_run_folders(tmp_path, 30 * DAY, ends.get)
    assert sorted(report.removed_run_ids) == ["old", "unknown-old"]
    assert report.bytes_freed == 40
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["running", "young"]
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["running", "young"]


def test_run_end_time_wins_over_folder_mtime(tmp_path):
    make_run_folders(tmp_path, "recent-run-old-folder", 100)
    report = purge_old_run_folders(tmp_path, 30 * DAY, lambda _: time.time() - DAY)
    assert report.removed_run_ids == []


def test_duplicates_and_failure_records_of_old_runs_go_too(tmp_path):
    make_run_folders(tmp_path, "old", 40, kinds=("raw", "duplicates"))
    make_run_folders(tmp_path, "young", 5, kinds=("raw", "duplicates"))
    (tmp_path / "failed").mkdir()
    for run_id, age in (("old", 40), ("young", 5), ("no-record", 31)):
        record = tmp_path / "failed" / f"{run_id}.json"
        record.write_text("{}")
        past = time.time() - age * DAY
        os.utime(record, (past, past))
    ends = {"old": time.time() - 40 * DAY, "young": time.time() - 5 * DAY}
    report = purge_old_run_folders(tmp_path, 30 * DAY, ends.get)
    assert sorted(report.removed_run_ids) == ["no-record", "old"]
    assert sorted(p.name for p in (tmp_path / "duplicates").iterdir()) == ["young"]
    assert sorted(p.name for p in (tmp_path / "failed").iterdir()) == ["young.json"]


def test_manifests_of_old_runs_go_with_their_outputs(tmp_path):
    make_run_folders(tmp_path, "old", 40)
    (tmp_path / "manifests").mkdir()
    for run_id in ("old", "young"):
        (tmp_path / "manifests" / f"{run_id}.json").write_text("{}")
    ends = {"old": time.time() - 40 * DAY, "young": time.time() - 5 * DAY}
    purge_old_run_folders(tmp_path, 30 * DAY, ends.get)
    assert [p.name for p in (tmp_path / "manifests").iterdir()] == ["young.json"]


@pytest.mark.s3
def test_in_a_store_old_runs_objects_go_and_young_ones_stay(s3_env):
    from datatasker_pipeline.processing.store import location

    root = location(s3_env.url(f"retention-{os.urandom(4).hex()}"))
    for run_id in ("old", "young"):
        for kind in ("raw", "outputs", "duplicates"):
            (root / kind / run_id / "sales.csv").write_bytes(b"12345")
        (root / "manifests" / f"{run_id}.json").write_bytes(b"{}")
        (root / "failed" / f"{run_id}.json").write_bytes(b"{}")
    ends = {"old": time.time() - 40 * DAY, "young": time.time() - 5 * DAY}
    report = purge_old_run_folders(root, 30 * DAY, ends.get)
    assert report.removed_run_ids == ["old"] and report.bytes_freed == 3 * 5 + 2 * 2
    remaining = sorted(p.split("/", 2)[2] for p in root.fs.find(root.path))
    assert remaining == ["duplicates/young/sales.csv", "failed/young.json", "manifests/young.json",
                         "outputs/young/sales.csv", "raw/young/sales.csv"]
