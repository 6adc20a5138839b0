"""The client side of an s3:// data root against a real S3 server (SeaweedFS): checked uploads, downloads,
presigned PUTs, and the one-line messages for a store that refuses or does not answer."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys

import pytest
import requests

from datatasker_pipeline.cli.store_root import (
    check_root,
    checksums_of,
    download,
    presigned_put_url,
    store_root,
    upload_checked,
)
from datatasker_pipeline.client.errors import ClientError, UsageProblem
from datatasker_pipeline.processing.store import list_page, location
from datatasker_pipeline.testing.host import free_port
from datatasker_pipeline.testing.stack import REPO_ROOT

pytestmark = pytest.mark.s3

MiB = 1024**2


@pytest.fixture
def root(s3_env):
    return location(s3_env.url(f"clients-{os.urandom(4).hex()}"))


def test_only_an_s3_url_makes_a_store_root(tmp_path, monkeypatch):
    monkeypatch.delenv("DATATASKER_DATA_DIR", raising=False)
    assert store_root(None) is None and store_root(str(tmp_path)) is None
    with pytest.raises(UsageProblem, match="s3://bucket/prefix"):
        store_root("gs://bucket/prefix")
    monkeypatch.setenv("DATATASKER_DATA_DIR", "s3://some-bucket/deployment")
    assert str(store_root(None)) == "s3://some-bucket/deployment"


def test_a_small_file_goes_up_in_one_checked_put_with_the_etag_the_sensor_lists(root, tmp_path):
    local = tmp_path / "sales.csv"
    local.write_bytes(b"region,revenue,quantity,discount\nEast,1,1,0\n")
    sums = checksums_of(local)
    etag = upload_checked(local, root / "incoming" / "sales.csv", sums)
    assert etag == sums.expected_etag == hashlib.md5(local.read_bytes()).hexdigest()
    listed, _ = list_page(root / "incoming")
    assert [(o.name, o.etag) for o in listed] == [("sales.csv", etag)]
    bucket, _, key = (root / "incoming" / "sales.csv").path.partition("/")
    head = root.fs.call_s3("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(local.read_bytes()).digest()).decode()


def test_a_large_file_goes_up_in_checked_parts(root, tmp_path):
    local = tmp_path / "big.csv"
    local.write_bytes(os.urandom(11 * MiB + 3))
    sums = checksums_of(local, part_bytes=5 * MiB)
    assert sums.multipart and len(sums.part_sha256) == 3
    target = root / "incoming" / "big.csv"
    etag = upload_checked(local, target, sums)
    assert etag == sums.expected_etag and etag.endswith("-3")
    assert list_page(root / "incoming")[0][0].etag == etag  # what the sensor tags the run with
    assert target.read_bytes() == local.read_bytes()
    bucket, _, key = target.path.partition("/")
    assert root.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=key).get("Uploads", []) == []


@pytest.mark.parametrize("size_mib", [0, 11])
def test_bytes_changed_after_hashing_are_refused_and_nothing_is_placed(root, tmp_path, size_mib):
    local = tmp_path / "sales.csv"
    local.write_bytes(b"a" * (size_mib * MiB + 100))
    sums = checksums_of(local, part_bytes=5 * MiB)
    local.write_bytes(b"b" * (size_mib * MiB + 100))  # same size, other bytes
    target = root / "incoming" / "sales.csv"
    with pytest.raises(ClientError, match="SHA-256 differs") as raised:
        upload_checked(local, target, sums)
    assert "\n" not in raised.value.message
    assert not target.exists()


def test_a_download_streams_into_place_whole(root, tmp_path):
    source = root / "outputs" / "run1" / "cleaned.parquet"
    payload = os.urandom(3 * MiB)
    source.write_bytes(payload)
    out = tmp_path / "res"
    out.mkdir()
    assert download(source, out / "cleaned.parquet").read_bytes() == payload
    assert sorted(p.name for p in out.iterdir()) == ["cleaned.parquet"]  # no temporary left behind


def test_a_presigned_url_lets_anyone_put_the_file(root, s3_env):
    target = root / "incoming" / "from-a-browser.csv"
    url = presigned_put_url(target, 300)
    assert "X-Amz-Signature=" in url and s3_env.secret_key not in url
    answer = requests.put(url, data=b"region,revenue\nEast,1\n", timeout=30)  # no credentials of its own
    assert answer.status_code == 200, answer.text
    assert target.read_bytes() == b"region,revenue\nEast,1\n"
    tampered = url.replace("from-a-browser.csv", "other.csv")
    assert requests.put(tampered, data=b"x", timeout=30).status_code == 403


def test_a_working_root_passes_the_check(root):
    check_root(root)


# -- a store that refuses or does not answer: one line, bucket and endpoint, no secret ------------------


def datatasker(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "datatasker_pipeline.cli", *args],
        cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=180,
    )


@pytest.mark.parametrize(
    ("case", "exit_code", "says"),
    [
        ("wrong secret", 2, "refused the credentials"),
        ("missing bucket", 2, "the bucket does not exist"),
        ("endpoint down", 3, "cannot reach the object store"),
    ],
)
def test_store_failures_are_one_line_naming_bucket_and_endpoint(s3_server, case, exit_code, says):
    env = {**os.environ, **s3_server.env(), "DATATASKER_DATA_DIR": s3_server.url("p")}
    bucket, endpoint = s3_server.bucket, s3_server.endpoint
    if case == "wrong secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-0000"
    elif case == "missing bucket":
        bucket = f"missing-{os.urandom(3).hex()}"
        env["DATATASKER_DATA_DIR"] = f"s3://{bucket}/p"
    else:
        endpoint = f"http://127.0.0.1:{free_port()}"
        env["AWS_ENDPOINT_URL_S3"] = endpoint
    done = datatasker(env, "upload-url", "sales.csv")
    assert done.returncode == exit_code, done.stderr
    assert done.stdout == ""
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("datatasker: ") and says in line, line
    assert repr(bucket) in line and endpoint in line, line
    assert env["AWS_SECRET_ACCESS_KEY"] not in line and s3_server.secret_key not in line
