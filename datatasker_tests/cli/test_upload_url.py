"""``datatasker upload-url``: a presigned PUT that curl, without any credentials, uses against a real
S3 server (SeaweedFS) to drop a file into the data root's incoming/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from datatasker_pipeline.cli import main
from datatasker_pipeline.processing.store import list_page, location
from datatasker_pipeline.vocabulary import EXIT_OK, EXIT_USAGE

GOOD = "region,revenue,quantity,discount\nEast,10,2,0.1\n"


@pytest.fixture
def root_url(s3_env):
    return s3_env.url(f"upload-url-{os.urandom(4).hex()}")


@pytest.mark.s3
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_puts_the_file_with_the_printed_url(root_url, s3_env, tmp_path, capsys):
    assert main(["upload-url", "sales.csv", "--data-dir", root_url, "--expires", "120"]) == EXIT_OK
    url = capsys.readouterr().out.strip()
    assert "\n" not in url and s3_env.secret_key not in url
    source = tmp_path / "sales.csv"
    source.write_text(GOOD)
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-T", str(source), url], capture_output=True, text=True, env=clean_env, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    incoming = location(root_url) / "incoming"
    assert (incoming / "sales.csv").read_text() == GOOD
    assert [o.name for o in list_page(incoming)[0]] == ["sales.csv"]


@pytest.mark.s3
def test_json_names_the_object_and_the_expiry(root_url, monkeypatch, capsys):
    monkeypatch.setenv("DATATASKER_DATA_DIR", root_url)
    assert main(["upload-url", "sales.csv.json", "--json"]) == EXIT_OK  # a sidecar may go up the same way
    answer = json.loads(capsys.readouterr().out)
    assert answer["method"] == "PUT" and answer["object"] == f"{root_url}/incoming/sales.csv.json"
    assert answer["url"].startswith(os.environ["AWS_ENDPOINT_URL_S3"]) and answer["expires_at"].endswith("Z")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["upload-url", "sales.txt", "--data-dir", "s3://b/p"], "not a name the sensor takes"),
        (["upload-url", ".hidden.csv", "--data-dir", "s3://b/p"], "not a name the sensor takes"),
        (["upload-url", "sub/sales.csv", "--data-dir", "s3://b/p"], "not a name the sensor takes"),
        (["upload-url", "sales.csv", "--data-dir", "s3://b/p", "--expires", "0"], "--expires must be between"),
        (["upload-url", "sales.csv", "--data-dir", "/some/folder"], "needs an object-store data root"),
    ],
)
def test_bad_usage_exits_2_before_asking_the_store(args, says, capsys):
    assert main(args) == EXIT_USAGE
    assert says in capsys.readouterr().err
