"""The object-store seam against a real S3 server (SeaweedFS): pinned copies, pages, put-if-absent, messages."""

from __future__ import annotations

import os

import pytest

from datatasker_pipeline.processing.store import (
    ObjectChanged,
    StoreError,
    copy_pinned,
    describe,
    etag_of,
    is_remote,
    list_page,
    location,
    move,
    put_if_absent,
    upload,
)

pytestmark = pytest.mark.s3


@pytest.fixture
def root(s3_env):
    return location(s3_env.url(f"store-{os.urandom(4).hex()}"))


def test_a_local_folder_stays_a_plain_path(tmp_path):
    local = location(str(tmp_path))
    assert not is_remote(local) and local == tmp_path.resolve()
    assert not is_remote(location(f"file://{tmp_path}"))


def test_a_store_path_reads_like_a_local_one(root):
    (root / "incoming" / "sales.csv").write_bytes(b"region,revenue\nEast,1\n")
    found = root / "incoming" / "sales.csv"
    assert is_remote(found)
    assert found.stat().st_size == 22
    with found.open("rb") as f:
        assert f.read() == b"region,revenue\nEast,1\n"


def test_pages_are_bounded_and_resume_after_a_name(root):
    folder = root / "incoming"
    folder.fs.pipe({f"{(folder / f'f{i:02}.csv').path}": b"x" for i in range(25)})
    (folder / "sub" / "deeper.csv").write_bytes(b"y")  # not directly in the folder: not listed
    first, more = list_page(folder, max_keys=10)
    assert [o.name for o in first] == [f"f{i:02}.csv" for i in range(10)] and more
    rest, more = list_page(folder, start_after="f19.csv", max_keys=10)
    assert [o.name for o in rest] == [f"f{i:02}.csv" for i in range(20, 25)] and not more
    assert all(o.size == 1 and len(o.etag) == 32 for o in first)


def test_a_pinned_copy_refuses_an_overwritten_object(root):
    source, target = root / "incoming" / "a.csv", root / "raw" / "run1" / "a.csv"
    source.write_bytes(b"first")
    seen = etag_of(source)
    source.write_bytes(b"second")  # overwritten after the sensor saw it
    with pytest.raises(ObjectChanged):
        copy_pinned(source, target, seen)
    assert not target.exists()
    copy_pinned(source, target, etag_of(source))
    assert target.read_bytes() == b"second"


def test_move_is_copy_then_delete(root):
    source, target = root / "incoming" / "b.csv", root / "duplicates" / "r" / "b.csv"
    source.write_bytes(b"bytes")
    move(source, target, etag_of(source))
    assert not source.exists() and target.read_bytes() == b"bytes"


def test_put_if_absent_writes_once(root):
    marker = root / "manifests" / "run.json"
    assert put_if_absent(marker, b"one") is True
    assert put_if_absent(marker, b"two") is False
    assert marker.read_bytes() == b"one"


def test_upload_places_a_whole_local_file(root, tmp_path):
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(12 * 1024 * 1024))  # over s3fs's multipart threshold
    upload(local, root / "outputs" / "r" / "big.bin")
    assert (root / "outputs" / "r" / "big.bin").read_bytes() == local.read_bytes()


def test_wrong_credentials_give_one_line_without_the_secret(s3_env, monkeypatch):
    import s3fs

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-at-all")
    s3fs.S3FileSystem.clear_instance_cache()  # a process keeps its client; a new process reads the variables
    root = location(s3_env.url("denied"))
    with pytest.raises(StoreError) as caught:
        list_page(root / "incoming")
    message = caught.value.message
    assert "credentials" in message and s3_env.bucket in message and s3_env.endpoint in message
    assert "not-the-secret-at-all" not in message and "\n" not in message
    s3fs.S3FileSystem.clear_instance_cache()


def test_a_missing_bucket_is_named(s3_env):
    root = location("s3://no-such-bucket-here/prefix")
    with pytest.raises(StoreError) as caught:
        list_page(root / "incoming")
    assert "no-such-bucket-here" in caught.value.message and "does not exist" in caught.value.message


def test_an_unreachable_endpoint_is_transient_and_named(s3_env):
    root = location("s3://datatasker/x", endpoint_url="http://127.0.0.1:9")
    error = pytest.raises(Exception, (root / "incoming").fs.ls, (root / "incoming").path).value
    problem = describe(error, root)
    assert problem is not None and problem.transient
    assert "http://127.0.0.1:9" in problem.message and "datatasker" in problem.message


def test_a_run_takes_exactly_the_version_the_sensor_saw(root):
    from datatasker_pipeline.processing.errors import FileFailure
    from datatasker_pipeline.processing.raw_copies import take_dropped_file

    dropped = root / "incoming" / "sales.csv"
    dropped.write_bytes(b"region,revenue,quantity,discount\nEast,1,1,0\n")
    (root / "incoming" / "sales.csv.json").write_bytes(b'{"anomaly_k": 3}')
    seen = etag_of(dropped)
    raw = take_dropped_file(dropped, root / "raw" / "run1", 10**9, None, seen)
    assert raw.path.read_bytes() == b"region,revenue,quantity,discount\nEast,1,1,0\n"
    assert raw.sidecar is not None and raw.sidecar.read_bytes() == b'{"anomaly_k": 3}'
    assert not dropped.exists() and not (root / "incoming" / "sales.csv.json").exists()
    assert raw.size == 44 and len(raw.sha256) == 64

    dropped.write_bytes(b"version one\n")
    seen = etag_of(dropped)
    dropped.write_bytes(b"version two\n")  # replaced while the run waited
    with pytest.raises(FileFailure, match="replaced after this run was requested"):
        take_dropped_file(dropped, root / "raw" / "run2", 10**9, None, seen)
    assert dropped.read_bytes() == b"version two\n"  # left for a run of its own
    assert not (root / "raw" / "run2" / "sales.csv").exists()


def test_an_oversized_object_is_moved_out_of_the_inbox_and_fails(root):
    from datatasker_pipeline.processing.errors import FileFailure
    from datatasker_pipeline.processing.raw_copies import take_dropped_file

    dropped = root / "incoming" / "big.csv"
    dropped.write_bytes(b"x" * 100)
    with pytest.raises(FileFailure, match="100 bytes; the limit is 10"):
        take_dropped_file(dropped, root / "raw" / "run3", 10, None, etag_of(dropped))
    assert not dropped.exists() and (root / "raw" / "run3" / "big.csv").exists()


def test_a_duplicate_upload_is_set_aside_unless_it_changed(root):
    from datatasker_pipeline.processing.intake import DroppedFile
    from datatasker_pipeline.processing.raw_copies import set_aside_duplicate

    dropped = root / "incoming" / "again.csv"
    dropped.write_bytes(b"same bytes\n")
    seen = DroppedFile("again.csv", dropped, 11, 0, 0, etag_of(dropped), "", "2026-12-02 04:57:29+00:00")
    older = DroppedFile("again.csv", dropped, 11, 0, 0, "an-older-etag", "", "2026-12-02 04:57:29+00:00")
    assert set_aside_duplicate(older, root / "duplicates" / "r") is None
    assert dropped.exists()
    target = set_aside_duplicate(seen, root / "duplicates" / "r")
    assert target is not None and target.read_bytes() == b"same bytes\n" and not dropped.exists()


def test_missing_credentials_are_named_as_such(s3_env, monkeypatch):
    import s3fs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        with pytest.raises(StoreError) as caught:
            list_page(location(s3_env.url("anonymous")) / "incoming")
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    assert caught.value.message.startswith("no credentials for bucket 'datatasker'")
