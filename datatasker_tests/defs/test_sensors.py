"""The file-drop sensor, evaluated directly with build_sensor_context (its timing: processing/test_watch.py)."""

from __future__ import annotations

import json
import os
import time

import dagster as dg
import pytest

from datatasker_pipeline.defs.resources import DataRoot
from datatasker_pipeline.defs.sales.sensors import incoming_csv_sensor
from datatasker_pipeline.processing.intake import content_fingerprint, sha256_of
from datatasker_pipeline.vocabulary import FINGERPRINT_TAG, ORIGIN_TAG, SHA256_TAG

CSV = "region,revenue,quantity,discount\nEast,1,1,0\n"


def drop(data_root: DataRoot, name: str, content: str = CSV, age_seconds: float = 5.0):
    path = data_root.incoming / name
    path.write_text(content)
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


class Sensor:
    """Evaluates the sensor tick after tick, carrying the cursor as the daemon does."""

    def __init__(self, instance, data_root):
        self.instance, self.data_root, self.cursor = instance, data_root, None

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources={"data_root": self.data_root})
        result = incoming_csv_sensor(context)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result


@pytest.fixture
def sensor(instance, data_root):
    return Sensor(instance, data_root)


def test_new_file_requests_one_run_and_adds_its_partition(sensor, data_root, instance):
    drop(data_root, "sales.csv")
    result = sensor.tick()
    [request] = result.run_requests
    assert request.partition_key == "sales.csv"
    assert request.tags["datatasker/file_name"] == "sales.csv"
    assert request.run_key == f"sales.csv:{request.tags[FINGERPRINT_TAG]}"
    assert request.tags[SHA256_TAG] == sha256_of(data_root.incoming / "sales.csv")  # raw_csv compares it
    assert request.tags[ORIGIN_TAG] == "sensor"
    assert instance.get_dynamic_partitions("sales_files") == ["sales.csv"]
    assert sensor.tick().run_requests == []


def test_identical_bytes_dropped_again_start_no_run(sensor, data_root):
    path = drop(data_root, "sales.csv")
    assert len(sensor.tick().run_requests) == 1
    path.unlink()
    sensor.tick()
    drop(data_root, "sales.csv", age_seconds=2)  # same bytes, new mtime
    result = sensor.tick()
    # the cursor forgot the deleted file, but the run key is the same, so Dagster launches nothing new
    assert all(r.run_key == result.run_requests[0].run_key for r in result.run_requests)
    touched = data_root.incoming / "sales.csv"
    os.utime(touched, (time.time() - 1, time.time() - 1))
    assert sensor.tick().run_requests == []


def test_the_same_bytes_under_another_name_are_another_file(sensor, data_root, instance):
    from datatasker_pipeline.definitions import defs

    drop(data_root, "monday.csv")
    [request] = sensor.tick().run_requests
    defs.resolve_job_def("process_sales_file").execute_in_process(
        partition_key="monday.csv", instance=instance, resources={"data_root": data_root}, tags=request.tags
    )
    drop(data_root, "tuesday.csv", CSV)
    assert [r.partition_key for r in sensor.tick().run_requests] == ["tuesday.csv"]


def test_changed_bytes_start_a_new_run_of_the_same_partition(sensor, data_root):
    drop(data_root, "sales.csv")
    first = sensor.tick().run_requests[0]
    drop(data_root, "sales.csv", CSV + "West,2,2,0\n", age_seconds=3)
    [second] = sensor.tick().run_requests
    assert second.partition_key == first.partition_key and second.run_key != first.run_key


def test_partial_and_hidden_files_are_ignored_until_renamed(sensor, data_root):
    drop(data_root, "sales.csv.part")
    drop(data_root, ".sales.csv")
    drop(data_root, "sales.csv.tmp")
    assert sensor.tick().run_requests == []
    os.replace(data_root.incoming / "sales.csv.part", data_root.incoming / "sales.csv")
    assert [r.partition_key for r in sensor.tick().run_requests] == ["sales.csv"]


def test_a_new_sidecar_reprocesses_the_file(sensor, data_root):
    drop(data_root, "sales.csv")
    sensor.tick()
    drop(data_root, "sales.csv.json", json.dumps({"anomaly_k": 3}), age_seconds=2)
    [request] = sensor.tick().run_requests
    assert request.partition_key == "sales.csv"


def test_bytes_already_processed_elsewhere_are_skipped(sensor, data_root, instance):
    """`datatasker process` tags its run with the fingerprint; the sensor then leaves the file alone."""
    from datatasker_pipeline.definitions import defs

    path = drop(data_root, "sales.csv")
    instance.add_dynamic_partitions("sales_files", ["sales.csv"])
    result = defs.resolve_job_def("process_sales_file").execute_in_process(
        partition_key="sales.csv",
        instance=instance,
        resources={"data_root": data_root},
        tags={FINGERPRINT_TAG: content_fingerprint(path)},
    )
    assert result.success
    assert sensor.tick().run_requests == []


def test_names_with_unsafe_characters_get_safe_keys_and_keep_their_name(sensor, data_root):
    drop(data_root, "ventes été 2026.csv")
    [request] = sensor.tick().run_requests
    assert request.partition_key.startswith("ventes_t_2026.csv-")
    assert request.tags["datatasker/file_name"] == "ventes été 2026.csv"
    assert data_root.incoming_file_for(request.partition_key).name == "ventes été 2026.csv"


def test_many_files_in_one_tick(sensor, data_root):
    for i in range(120):
        drop(data_root, f"f{i:03}.csv", CSV + f"R{i},1,1,0\n")
    result = sensor.tick()
    assert len(result.run_requests) == 120
    assert len({r.run_key for r in result.run_requests}) == 120
    assert sensor.tick().run_requests == []


def test_failed_runs_are_recorded_for_operators(instance, data_root):
    from datatasker_pipeline.definitions import defs
    from datatasker_pipeline.defs.sales.sensors import failed_file_sensor

    drop(data_root, "bad.csv", "region,product,revenue,quantity\nEast,x,1,1\n")
    instance.add_dynamic_partitions("sales_files", ["bad.csv"])
    result = defs.resolve_job_def("process_sales_file").execute_in_process(
        partition_key="bad.csv", instance=instance, resources={"data_root": data_root},
        tags={"datatasker/file_name": "bad.csv"}, raise_on_error=False,
    )
    run = instance.get_run_by_id(result.run_id)
    [failure_event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    context = dg.build_run_status_sensor_context(
        sensor_name=failed_file_sensor.name, dagster_instance=instance, dagster_run=run, dagster_event=failure_event,
        resources={"data_root": data_root},
    ).for_run_failure()
    failed_file_sensor(context)
    record = json.loads((data_root.root / "failed" / f"{result.run_id}.json").read_text())
    assert record["file_name"] == "bad.csv" and record["partition"] == "bad.csv"
    assert record["error"] == "missing required column(s): discount; found: region, product, revenue, quantity"


def test_a_tick_costs_what_the_waiting_files_cost_not_the_history(instance, data_root, tmp_path):
    """100,000 processed files (their partitions, their raw copies) do not make a tick slower or its cursor bigger.

    Built cheaply: the partitions are added in one call and the raw copies are
    empty files, as 100,000 runs would have left them; no run is executed.
    """
    rounds = iter(range(10))

    def timed_tick(sensor: Sensor) -> tuple[float, int]:
        round_ = next(rounds)
        for name in ("waiting-1.csv", "waiting-2.csv"):
            drop(data_root, name, CSV + f"{name},{round_},1,0\n")  # new bytes every round
        started = time.perf_counter()
        result = sensor.tick()
        elapsed = time.perf_counter() - started
        assert sorted(r.partition_key for r in result.run_requests) == ["waiting-1.csv", "waiting-2.csv"]
        for name in ("waiting-1.csv", "waiting-2.csv"):  # their runs take them out of the inbox
            (data_root.incoming / name).unlink()
        return elapsed, len(result.cursor)

    empty_seconds, empty_cursor = timed_tick(Sensor(instance, data_root))

    keys = [f"processed-{i:06d}.csv" for i in range(100_000)]
    instance.add_dynamic_partitions("sales_files", keys)
    for i in range(100):
        folder = data_root.root / "raw" / f"run-{i:03d}"
        folder.mkdir(parents=True)
        for key in keys[i * 1000:(i + 1) * 1000]:
            (folder / key).touch()
    sensor = Sensor(instance, data_root)
    timed_tick(sensor)  # warm the instance's caches as the first tick above did
    for name in ("waiting-1.csv", "waiting-2.csv"):
        instance.delete_dynamic_partition("sales_files", name)
    history_seconds, history_cursor = timed_tick(sensor)

    assert history_cursor == empty_cursor and history_cursor < 600  # two waiting files' entries, nothing else
    assert history_seconds < 3 * empty_seconds + 0.5, (history_seconds, empty_seconds)
    assert sensor.tick().cursor == '{"files":{}}'  # once the waiting files are taken, nothing is kept


# --- An object-store data root (real SeaweedFS) ------------------------------------


@pytest.mark.s3
def test_in_a_store_the_request_pins_the_etag_and_the_cursor_keeps_its_window(instance, s3_root):
    from datatasker_pipeline.processing.store import etag_of
    from datatasker_pipeline.vocabulary import ETAG_TAG

    (s3_root.incoming / "sales.csv").write_bytes(CSV.encode())
    sensor = Sensor(instance, s3_root)
    [request] = sensor.tick().run_requests
    assert request.tags[ETAG_TAG] == etag_of(s3_root.incoming / "sales.csv")
    assert SHA256_TAG not in request.tags  # the sensor reads no bytes in a store
    assert set(json.loads(sensor.cursor)) == {"files", "after"}
    assert sensor.tick().run_requests == []


@pytest.mark.s3
def test_in_a_store_wrong_credentials_fail_the_tick_with_one_line(instance, s3_root, monkeypatch):
    import s3fs

    from datatasker_pipeline.processing.store import StoreError

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-wrong-secret-value")
    s3fs.S3FileSystem.clear_instance_cache()  # as a process started with these variables would
    try:
        with pytest.raises(StoreError) as caught:
            Sensor(instance, s3_root).tick()
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    message = str(caught.value)
    assert "refused the credentials" in message and "datatasker" in message and "http://127.0.0.1:" in message
    assert "a-wrong-secret-value" not in message
