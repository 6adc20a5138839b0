"""``submit`` into an s3:// data root against a real S3 server (SeaweedFS); the webserver is a stand-in
that answers the way the sensor's runs would: the tags the client waits for are computed by the
sensor's own planning (``processing.watch.plan_tick``) over what was uploaded."""

from __future__ import annotations

import json
import os

import pytest

from datatasker_pipeline.cli import submit_store
from datatasker_pipeline.cli.submit import _sidecar_text
from datatasker_pipeline.cli.submit_store import submit_to_store
from datatasker_pipeline.processing.store import location
from datatasker_pipeline.processing.watch import plan_tick, scan_store_window
from datatasker_pipeline.vocabulary import ETAG_TAG, FINGERPRINT_TAG, PARTITION_TAG

pytestmark = pytest.mark.s3

GOOD = "region,revenue,quantity,discount\nEast,10,2,0.1\nWest,5,1,0\n"


class SensorStandIn:
    """The GraphQL calls submit makes, answered as a deployment whose sensor launched runs for what it lists."""

    def __init__(self, root, earlier_runs=None):
        self.root = root
        self.earlier_runs = earlier_runs or {}  # frozenset(tags.items()) -> run id
        self.waited_for = None

    def runs_with_tags(self, tags, limit=10):
        found = self.earlier_runs.get(frozenset(tags.items()))
        return [{"runId": found}] if found else []

    def wait_for_run_with_tags(self, tags, timeout):
        self.waited_for = dict(tags)
        plan = plan_tick(
            self.root / "incoming", {}, settle_seconds=0, max_file_bytes=1 << 30,
            already_processed=lambda key, fingerprint: None, scan=lambda folder: scan_store_window(folder, "")[0],
        )
        sensor_tags = [
            {FINGERPRINT_TAG: new.fingerprint, PARTITION_TAG: new.partition_key, ETAG_TAG: new.file.etag}
            for new in plan.new
        ]
        assert tags in sensor_tags, (tags, sensor_tags)
        return {"runId": "run-launched-by-the-sensor"}


@pytest.fixture
def root(s3_env):
    return location(s3_env.url(f"submit-{os.urandom(4).hex()}"))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_and_its_options_go_up_and_the_sensors_run_is_found(root, tmp_path):
    source = write(tmp_path, "sales.csv", GOOD)
    write(tmp_path, "sales.csv.json", '{"anomaly_k": 3, "delimiter": ","}')
    client = SensorStandIn(root)
    run_id, existed = submit_to_store(client, source, _sidecar_text(source, {"anomaly_k": 1}), root, timeout=5)
    assert (run_id, existed) == ("run-launched-by-the-sensor", False)
    assert (root / "incoming" / "sales.csv").read_text() == GOOD
    sidecar = json.loads((root / "incoming" / "sales.csv.json").read_text())
    assert sidecar == {"anomaly_k": 1, "delimiter": ","}  # --config overrides the sidecar key by key
    assert client.waited_for[PARTITION_TAG] == "sales.csv"


def test_the_sidecar_goes_up_before_the_file(root, tmp_path, monkeypatch):
    order = []
    for name in ("upload_bytes", "upload_checked"):
        real = getattr(submit_store, name)
        monkeypatch.setattr(
            submit_store, name, lambda data, target, *rest, _real=real: order.append(target.name) or _real(data, target, *rest)
        )
    source = write(tmp_path, "sales.csv", GOOD)
    submit_to_store(SensorStandIn(root), source, _sidecar_text(source, {"anomaly_k": 2}), root, timeout=5)
    assert order == ["sales.csv.json", "sales.csv"]


def test_without_options_a_stale_sidecar_is_removed(root, tmp_path):
    (root / "incoming" / "sales.csv.json").write_bytes(b'{"anomaly_k": 9}')
    source = write(tmp_path, "sales.csv", GOOD)
    client = SensorStandIn(root)
    submit_to_store(client, source, None, root, timeout=5)
    assert not (root / "incoming" / "sales.csv.json").exists()
    assert client.waited_for is not None


def test_bytes_processed_before_are_not_uploaded_again(root, tmp_path):
    source = write(tmp_path, "sales.csv", GOOD)
    first = SensorStandIn(root)
    submit_to_store(first, source, None, root, timeout=5)
    (root / "incoming" / "sales.csv").unlink()  # the run took it into raw/<run_id>/
    earlier = {frozenset(first.waited_for.items()): "the-earlier-run"}
    again = SensorStandIn(root, earlier)
    assert submit_to_store(again, source, None, root, timeout=5) == ("the-earlier-run", True)
    assert again.waited_for is None and not (root / "incoming" / "sales.csv").exists()
    # Other options are another request: uploaded, and the sensor's new run is waited for.
    other = SensorStandIn(root, earlier)
    assert submit_to_store(other, source, _sidecar_text(source, {"anomaly_k": 4}), root, timeout=5)[1] is False
