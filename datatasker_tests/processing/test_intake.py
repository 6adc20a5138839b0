"""Finding dropped files and copying them immutably."""

from __future__ import annotations

import hashlib
import os

import pytest

from datatasker_pipeline.processing import intake
from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.intake import (
    content_fingerprint,
    is_candidate,
    scan_incoming,
    sha256_of,
)
from datatasker_pipeline.processing.raw_copies import copy_raw_file


@pytest.mark.parametrize(
    "name, picked",
    [("sales.csv", True), ("SALES.CSV", True), (".sales.csv", False), ("sales.csv.part", False),
     ("sales.csv.tmp", False), ("sales.part.csv", True), ("sales.csv.json", False), ("notes.txt", False)],
)
def test_candidates(name, picked):
    assert is_candidate(name) is picked


def test_scan_skips_symlinks_directories_and_partial_names(tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.csv").write_text("x")
    (incoming / "b.csv.part").write_text("x")
    (incoming / "dir.csv").mkdir()
    outside = tmp_path / "secret.csv"
    outside.write_text("x")
    (incoming / "link.csv").symlink_to(outside)
    assert [f.name for f in scan_incoming(incoming)] == ["a.csv"]


def test_scan_of_a_missing_folder_is_empty(tmp_path):
    assert scan_incoming(tmp_path / "nope") == []


def test_fingerprint_covers_the_sidecar(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("region\n")
    alone = content_fingerprint(csv)
    (tmp_path / "a.csv.json").write_text('{"anomaly_k": 3}')
    with_sidecar = content_fingerprint(csv)
    (tmp_path / "a.csv.json").write_text('{"anomaly_k": 4}')
    assert len({alone, with_sidecar, content_fingerprint(csv)}) == 3


def test_raw_copy_is_exact_read_only_and_hashed(tmp_path):
    source = tmp_path / "in" / "s.csv"
    source.parent.mkdir()
    source.write_bytes(b"\xef\xbb\xbfregion\r\n")
    (source.parent / "s.csv.json").write_text("{}")
    raw = copy_raw_file(source, tmp_path / "raw" / "run1", max_file_bytes=100)
    assert raw.path.read_bytes() == source.read_bytes()
    assert raw.sha256 == sha256_of(source) and raw.size == 11 and raw.original_name == "s.csv"
    assert raw.sidecar.read_text() == "{}"
    assert not os.access(raw.path, os.W_OK) or os.geteuid() == 0
    assert oct(raw.path.stat().st_mode & 0o777) == "0o444"
    # copying again (a retried step) replaces the read-only copy
    assert copy_raw_file(source, tmp_path / "raw" / "run1", max_file_bytes=100).sha256 == raw.sha256


def test_a_file_of_many_blocks_is_copied_and_hashed_exactly(tmp_path, monkeypatch):
    """Blocks are read into one reused buffer: each must be hashed and written before the next is read."""
    monkeypatch.setattr(intake, "HASH_BLOCK_BYTES", 7)
    content = bytes(range(256)) * 5 + b"tail"  # 1,284 bytes: 183 whole blocks and a short one
    source = tmp_path / "in" / "s.csv"
    source.parent.mkdir()
    source.write_bytes(content)
    raw = copy_raw_file(source, tmp_path / "raw" / "run1", max_file_bytes=10**6)
    assert raw.path.read_bytes() == content and raw.size == len(content)
    assert raw.sha256 == sha256_of(source) == hashlib.sha256(content).hexdigest()


def test_oversized_file_is_refused_before_copying(tmp_path):
    source = tmp_path / "big.csv"
    source.write_bytes(b"x" * 11)
    with pytest.raises(FileFailure, match=r"^file is 11 bytes; the limit is 10$"):
        copy_raw_file(source, tmp_path / "raw", max_file_bytes=10)
    assert not (tmp_path / "raw").exists()
