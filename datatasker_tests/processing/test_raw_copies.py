"""The run's raw copy: taking a file out of the inbox, copying an earlier one, setting duplicates aside."""

from __future__ import annotations

import errno
import json
import os

import pytest

import datatasker_pipeline.processing.raw_copies as raw_copies
from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.intake import DroppedFile, sha256_of
from datatasker_pipeline.processing.raw_copies import (
    copy_raw_file,
    earlier_raw_file,
    set_aside_duplicate,
    take_dropped_file,
)

CSV = "region,revenue,quantity,discount\nEast,1,1,0\n"


@pytest.fixture
def incoming(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


def drop(incoming, name="sales.csv", content=CSV, sidecar=None):
    path = incoming / name
    path.write_text(content)
    if sidecar is not None:
        (incoming / f"{name}.json").write_text(json.dumps(sidecar))
    return path


def test_taking_a_file_moves_it_with_its_sidecar_and_hashes_it(incoming, tmp_path):
    path = drop(incoming, sidecar={"anomaly_k": 3})
    inode = path.stat().st_ino
    raw = take_dropped_file(path, tmp_path / "raw" / "run1", 10**6, expected_sha256=sha256_of(path))
    assert list(incoming.iterdir()) == []
    assert raw.path.stat().st_ino == inode and raw.path.read_text() == CSV  # renamed, not copied
    assert raw.sha256 == sha256_of(raw.path) and raw.size == len(CSV)
    assert raw.sidecar is not None and json.loads(raw.sidecar.read_text()) == {"anomaly_k": 3}
    assert not os.access(raw.path, os.W_OK) or os.geteuid() == 0
    assert oct(raw.path.stat().st_mode & 0o777) == "0o444"


def test_a_file_replaced_since_the_run_was_requested_is_left_for_its_own_run(incoming, tmp_path):
    path = drop(incoming)
    requested = sha256_of(path)
    path.write_text(CSV + "West,2,2,0\n")
    with pytest.raises(FileFailure) as failure:
        take_dropped_file(path, tmp_path / "raw" / "run1", 10**6, expected_sha256=requested)
    assert failure.value.message.startswith("sales.csv was replaced after this run was requested")
    assert path.read_text() == CSV + "West,2,2,0\n"
    assert not (tmp_path / "raw" / "run1" / "sales.csv").exists()


def test_an_oversized_file_leaves_the_inbox_unread(incoming, tmp_path):
    path = drop(incoming)
    with pytest.raises(FileFailure) as failure:
        take_dropped_file(path, tmp_path / "raw" / "run1", 10, expected_sha256="oversize-marker")
    assert failure.value.message == f"file is {len(CSV)} bytes; the limit is 10"
    assert list(incoming.iterdir()) == [] and (tmp_path / "raw" / "run1" / "sales.csv").exists()


def test_across_file_systems_the_file_is_copied_then_removed(incoming, tmp_path, monkeypatch):
    path = drop(incoming)
    real_replace = os.replace

    def no_rename_across_devices(source, target):
        if "incoming" in str(source):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(source, target)

    monkeypatch.setattr(raw_copies.os, "replace", no_rename_across_devices)
    raw = take_dropped_file(path, tmp_path / "raw" / "run1", 10**6, expected_sha256=None)
    assert raw.path.read_text() == CSV and list(incoming.iterdir()) == []


def test_an_earlier_runs_copy_is_copied_never_moved(tmp_path):
    first = tmp_path / "raw" / "run1"
    first.mkdir(parents=True)
    (first / "sales.csv").write_text(CSV)
    found = earlier_raw_file([tmp_path / "raw" / "run0", first], "sales.csv")
    assert found == first / "sales.csv"
    copy = copy_raw_file(found, tmp_path / "raw" / "run2", 10**6)
    assert copy.path.read_text() == CSV and found.read_text() == CSV
    assert earlier_raw_file([tmp_path / "raw" / "run0"], "sales.csv") is None


def test_a_duplicate_is_set_aside_unless_it_changed_since_it_was_seen(incoming, tmp_path):
    path = drop(incoming, sidecar={"anomaly_k": 1})
    stat, sidecar_stat = path.stat(), (incoming / "sales.csv.json").stat()
    seen = DroppedFile("sales.csv", path, stat.st_size, stat.st_mtime_ns, sidecar_stat.st_mtime_ns)
    changed = DroppedFile("sales.csv", path, stat.st_size + 1, stat.st_mtime_ns, sidecar_stat.st_mtime_ns)
    assert set_aside_duplicate(changed, tmp_path / "duplicates" / "run1") is None
    assert path.exists()
    moved = set_aside_duplicate(seen, tmp_path / "duplicates" / "run1")
    assert moved == tmp_path / "duplicates" / "run1" / "sales.csv"
    assert sorted(p.name for p in moved.parent.iterdir()) == ["sales.csv", "sales.csv.json"]
    assert list(incoming.iterdir()) == []
