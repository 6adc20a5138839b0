"""The four assets through Dagster: outputs under the run ID, metadata, checks, failures."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import dagster as dg
import pytest

from datatasker_pipeline.definitions import defs
from datatasker_pipeline.defs.resources import DataRoot
from datatasker_pipeline.defs.sales.assets import sales_assets
from datatasker_pipeline.defs.sales.handoff import MATERIALIZATIONS_PER_PAGE, materialization_for_run
from datatasker_pipeline.defs.sales.outcomes import failure_message
from datatasker_pipeline.processing.intake import sha256_of
from datatasker_pipeline.processing.raw_copies import copy_raw_file
from datatasker_pipeline.vocabulary import (
    JOB_NAME,
    ORIGIN_PROCESS,
    ORIGIN_SENSOR,
    ORIGIN_TAG,
    PARENT_RUN_TAG,
    RAW_ASSET,
    SHA256_TAG,
    SIZE_TAG,
)

CSV = (
    "region,revenue,quantity,discount,product\n"
    "East,100,2,0.1,Widget\n"
    "West,n/a,1,0,Gadget\n"
    "East,10,1,0,Widget\n"
    "West,12,1,0,Gadget\n"
    "East,11,1,0,Widget\n"
    "West,9,1,0,Gadget\n"
    "East,10,1,0,Widget\n"
    "West,11,1,0,Gadget\n"
    "East,12,1,0,Widget\n"
    "West,10,1,0,Gadget\n"
)


def drop(data_root, name="sales.csv", content=CSV, sidecar=None):
    (data_root.incoming / name).write_text(content)
    if sidecar is not None:
        (data_root.incoming / f"{name}.json").write_text(json.dumps(sidecar))
    return name


def materialize(instance, data_root, key, selection=None, run_config=None, tags=None):
    if not instance.has_dynamic_partition("sales_files", key):
        instance.add_dynamic_partitions("sales_files", [key])
    return dg.materialize(
        sales_assets,
        selection=selection,
        partition_key=key,
        instance=instance,
        resources={"data_root": data_root},
        run_config=run_config,
        raise_on_error=False,
        tags=tags,
    )


def metadata(result, asset):
    [materialization] = result.asset_materializations_for_node(asset)
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def test_all_outputs_land_under_the_run_id(instance, data_root):
    result = materialize(instance, data_root, drop(data_root))
    assert result.success
    out = data_root.root / "outputs" / result.run_id
    assert sorted(p.name for p in out.iterdir()) == [
        "anomalies.csv", "cleaned.parquet", "region_summary.csv", "rejected_rows.csv"
    ]
    raw = data_root.root / "raw" / result.run_id / "sales.csv"
    assert raw.read_text() == CSV
    # the run ID leads back to the run record
    record = instance.get_run_by_id(result.run_id)
    assert record.status == dg.DagsterRunStatus.SUCCESS and record.tags["dagster/partition"] == "sales.csv"


def test_materialization_metadata_a_person_looks_at(instance, data_root):
    result = materialize(instance, data_root, drop(data_root))
    raw = metadata(result, "raw_csv")
    assert raw["size_bytes"] == len(CSV) and len(raw["sha256"]) == 64
    cleaned = metadata(result, "cleaned_sales")
    assert (cleaned["rows_read"], cleaned["rows_clean"], cleaned["rows_rejected"]) == (10, 9, 1)
    assert cleaned["rejected_by_reason"]["missing_value"] == 1
    assert cleaned["rows_per_second"] > 0 and cleaned["peak_rss_mb"] > 0
    summary = metadata(result, "region_summary")
    assert [r.data["region"] for r in summary["summary"].records] == ["East", "West"]
    assert "█" in summary["revenue_by_region"]
    report = metadata(result, "anomaly_report")
    assert report["anomalies"] == 1 and isinstance(report["threshold"], float)
    assert "Widget" not in report["top_anomalies"] and "East" in report["top_anomalies"]


def test_asset_checks_pass(instance, data_root):
    result = materialize(instance, data_root, drop(data_root))
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["rows_conserved"].passed and evaluations["cleaned_matches_schema"].passed
    # one anomaly in nine clean rows is above the 5 % rate: a warning, not a failed run
    rate = evaluations["anomaly_rate"]
    assert not rate.passed and rate.severity == dg.AssetCheckSeverity.WARN and result.success
    assert rate.metadata["anomaly_rate"].value == pytest.approx(1 / 9)


def test_whole_file_failure_is_the_step_failure_message(instance, data_root):
    key = drop(data_root, "bad.csv", "region,product,revenue,quantity\nEast,x,1,1\n")
    result = materialize(instance, data_root, key)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    expected = "missing required column(s): discount; found: region, product, revenue, quantity"
    assert failure.step_failure_data.user_failure_data.description == expected
    assert failure_message(result.all_events) == expected
    assert not (data_root.root / "outputs" / result.run_id).exists()


def test_run_config_overrides_the_sidecar_key_by_key(instance, data_root):
    key = drop(data_root, sidecar={"anomaly_k": 100, "drop_duplicates": True})
    result = materialize(
        instance, data_root, key, run_config={"ops": {"cleaned_sales": {"config": {"anomaly_k": 0.5}}}}
    )
    options = metadata(result, "cleaned_sales")["options"]
    assert options["anomaly_k"] == 0.5 and options["drop_duplicates"] is True


def test_bad_option_in_run_config_fails_the_run_naming_it(instance, data_root):
    result = materialize(
        instance, data_root, drop(data_root), run_config={"ops": {"cleaned_sales": {"config": {"anomaly_k": "high"}}}}
    )
    assert failure_message(result.all_events) == 'option anomaly_k must be a number >= 0, got "high"'
    unknown = materialize(
        instance, data_root, drop(data_root), run_config={"ops": {"cleaned_sales": {"config": {"speed": 1}}}}
    )
    assert failure_message(unknown.all_events).startswith('unknown option "speed"')


def test_missing_file_fails_clearly(instance, data_root):
    result = materialize(instance, data_root, "gone.csv")
    assert "no file for partition 'gone.csv'" in failure_message(result.all_events)


def test_downstream_asset_rematerialized_alone_reads_the_earlier_cleaned_rows(instance, data_root):
    key = drop(data_root)
    first = materialize(instance, data_root, key)
    again = materialize(instance, data_root, key, selection=["region_summary"])
    assert again.success and again.run_id != first.run_id
    first_summary = (data_root.root / "outputs" / first.run_id / "region_summary.csv").read_text()
    assert (data_root.root / "outputs" / again.run_id / "region_summary.csv").read_text() == first_summary


def test_steps_hand_over_through_the_data_root_not_dagster_storage(instance, data_root):
    """No value is pickled under $DAGSTER_HOME/storage: a step re-executed on a machine without it still runs."""
    key = drop(data_root, content=CSV + "East,500,1,0,Widget\n")
    first = materialize(instance, data_root, key)
    storage = Path(instance.root_directory) / "storage"
    assert [asset for asset in ("raw_csv", "cleaned_sales") if (storage / asset).exists()] == []
    again = materialize(instance, data_root, key, selection=["anomaly_report"])
    assert again.success
    assert (data_root.root / "outputs" / again.run_id / "anomalies.csv").read_text() == (
        data_root.root / "outputs" / first.run_id / "anomalies.csv"
    ).read_text()
    assert metadata(again, "anomaly_report")["anomalies"] == metadata(first, "anomaly_report")["anomalies"] >= 1


def test_a_step_finds_its_own_runs_upstream_materialization_however_many_of_the_partition_follow(
    instance, data_root
):
    key = drop(data_root)
    first = materialize(instance, data_root, key, selection=[RAW_ASSET])
    for _ in range(3 * MATERIALIZATIONS_PER_PAGE):  # other runs of the partition, overlapping this one
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_ASSET, partition=key))
    assert materialization_for_run(instance, dg.AssetKey(RAW_ASSET), key, first.run_id).run_id == first.run_id


def test_a_run_without_its_own_upstream_materialization_gets_the_partitions_latest(instance, data_root):
    key = drop(data_root)
    materialize(instance, data_root, key, selection=[RAW_ASSET])
    for _ in range(3 * MATERIALIZATIONS_PER_PAGE):
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_ASSET, partition=key))
    latest = instance.fetch_materializations(dg.AssetKey(RAW_ASSET), limit=1).records[0]

    @dg.asset
    def unrelated() -> None: ...

    other = dg.materialize([unrelated], instance=instance)
    found = materialization_for_run(instance, dg.AssetKey(RAW_ASSET), key, other.run_id)
    assert found.storage_id == latest.storage_id
    assert materialization_for_run(instance, dg.AssetKey(RAW_ASSET), "never-dropped.csv", other.run_id) is None


def test_a_downstream_step_alone_with_no_cleaning_yet_fails_saying_what_to_do(instance, data_root):
    key = drop(data_root)
    result = materialize(instance, data_root, key, selection=["region_summary"])
    assert not result.success
    assert failure_message(result.all_events) == (
        f"cleaned_sales has no materialization for partition {key!r}: materialize it first (or the whole job)"
    )


def test_oversized_file_fails_without_being_read_and_leaves_the_inbox(instance, tmp_path):
    (tmp_path / "incoming").mkdir()
    data_root = DataRoot(path=str(tmp_path), max_file_bytes=10)
    key = drop(data_root)
    inode = (data_root.incoming / key).stat().st_ino
    result = materialize(instance, data_root, key)
    assert failure_message(result.all_events) == f"file is {len(CSV)} bytes; the limit is 10"
    assert (tmp_path / "raw" / result.run_id / key).stat().st_ino == inode  # moved there, not copied
    assert not (data_root.incoming / key).exists()
    assert not (tmp_path / "outputs" / result.run_id).exists()


def test_a_run_moves_its_file_out_of_the_inbox_into_its_raw_folder(instance, data_root):
    key = drop(data_root, sidecar={"anomaly_k": 3})
    inode = (data_root.incoming / key).stat().st_ino
    result = materialize(instance, data_root, key)
    assert result.success
    raw = data_root.root / "raw" / result.run_id
    assert sorted(p.name for p in raw.iterdir()) == [key, f"{key}.json"]
    assert (raw / key).stat().st_ino == inode and (raw / key).read_text() == CSV  # a rename: no copy
    assert list(data_root.incoming.iterdir()) == []


def test_a_run_takes_only_the_bytes_it_was_requested_for(instance, data_root):
    name = drop(data_root)
    seen_by_sensor = sha256_of(data_root.incoming / name)
    (data_root.incoming / name).write_text(CSV + "North,1,1,0,Gizmo\n")  # replaced while the run waited
    result = materialize(instance, data_root, name, tags={SHA256_TAG: seen_by_sensor, ORIGIN_TAG: ORIGIN_SENSOR})
    assert not result.success
    assert failure_message(result.all_events).startswith(f"{name} was replaced after this run was requested")
    assert (data_root.incoming / name).exists()  # the new version waits for a run of its own
    newer = sha256_of(data_root.incoming / name)
    again = materialize(instance, data_root, name, tags={SHA256_TAG: newer, ORIGIN_TAG: ORIGIN_SENSOR})
    assert again.success and metadata(again, "raw_csv")["sha256"] == newer


def test_a_re_execution_reads_its_parent_runs_bytes(instance, data_root):
    key = drop(data_root)
    first = materialize(instance, data_root, key)
    drop(data_root, content=CSV.replace("Widget", "Other"))  # a newer version is waiting meanwhile
    again = materialize(instance, data_root, key, tags={PARENT_RUN_TAG: first.run_id})
    assert again.success
    assert metadata(again, "raw_csv")["sha256"] == metadata(first, "raw_csv")["sha256"]
    assert (data_root.incoming / key).exists()  # the waiting version is left for its own run


def test_a_partition_launched_by_hand_reads_the_newest_earlier_copy(instance, data_root):
    key = drop(data_root)
    first = materialize(instance, data_root, key)
    by_hand = materialize(instance, data_root, key)  # nothing waiting in incoming/: no sha256 tag either
    assert by_hand.success
    assert metadata(by_hand, "raw_csv")["sha256"] == metadata(first, "raw_csv")["sha256"]
    from_sensor = materialize(instance, data_root, key, tags={SHA256_TAG: "0" * 64, ORIGIN_TAG: ORIGIN_SENSOR})
    assert failure_message(from_sensor.all_events).startswith(f"no file for partition {key!r}")


def test_a_copy_staged_by_datatasker_process_is_taken_as_it_is(instance, data_root):
    """`datatasker process` copies the file into the run's raw folder itself: no second copy, no second hash."""
    run_id = str(uuid.uuid4())
    source = data_root.root / "elsewhere.csv"
    source.write_text(CSV)
    staged = copy_raw_file(source, data_root.raw_for(run_id), data_root.limits.max_file_bytes, name="sales.csv")
    before = staged.path.stat()
    tags = {ORIGIN_TAG: ORIGIN_PROCESS, SHA256_TAG: staged.sha256, SIZE_TAG: str(staged.size)}
    instance.add_dynamic_partitions("sales_files", ["sales.csv"])
    result = defs.resolve_job_def(JOB_NAME).execute_in_process(
        partition_key="sales.csv", instance=instance, resources={"data_root": data_root}, tags=tags, run_id=run_id
    )
    assert result.success
    assert metadata(result, "raw_csv")["sha256"] == staged.sha256
    after = staged.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # the same file, untouched
    assert not (data_root.incoming / "sales.csv").exists()  # nothing read from incoming/


# --- An object-store data root (real SeaweedFS) ------------------------------------


@pytest.mark.s3
def test_in_a_store_the_outputs_equal_a_local_runs_and_the_manifest_comes_with_them(instance, data_root, s3_root):
    local = materialize(instance, data_root, drop(data_root, sidecar={"anomaly_k": 1.5}))
    stored = materialize(instance, s3_root, drop(s3_root, sidecar={"anomaly_k": 1.5}))
    assert local.success and stored.success
    outputs = s3_root.outputs_for(stored.run_id)
    for name in ("region_summary.csv", "anomalies.csv", "rejected_rows.csv"):
        assert (outputs / name).read_bytes() == (data_root.outputs_for(local.run_id) / name).read_bytes()
    manifest = json.loads(s3_root.manifest_for(stored.run_id).read_bytes())
    assert manifest["run_id"] == stored.run_id and len(manifest["files"]) == 4
    assert metadata(stored, "region_summary")["region_summary_csv"] == str(outputs / "region_summary.csv")
    links = [metadata(stored, a).get("results_manifest") for a in ("region_summary", "anomaly_report")]
    assert [link for link in links if link] == [str(s3_root.manifest_for(stored.run_id))]  # from the step that wrote it
    assert (s3_root.raw_for(stored.run_id) / "sales.csv.json").exists()  # the sidecar went with its file
    assert not (s3_root.incoming / "sales.csv").exists()
    assert not s3_root.work_dir_for(stored.run_id).exists()  # the local work folder is gone


@pytest.mark.s3
def test_in_a_store_a_failed_file_leaves_no_outputs_and_no_manifest(instance, s3_root):
    result = materialize(instance, s3_root, drop(s3_root, "bad.csv", "region,product,revenue,quantity\nEast,x,1,1\n"))
    assert failure_message(result.all_events).startswith("missing required column(s): discount")
    assert not s3_root.manifest_for(result.run_id).exists()
    assert not (s3_root.outputs_for(result.run_id) / "cleaned.parquet").exists()


@pytest.mark.s3
def test_in_a_store_a_missing_bucket_fails_the_run_with_one_line(instance, s3_env, tmp_path):
    root = DataRoot(path="s3://no-such-bucket-for-runs/p", work_dir=str(tmp_path))
    result = materialize(instance, root, "sales.csv")
    message = failure_message(result.all_events)
    assert message.startswith("bucket 'no-such-bucket-for-runs' at http://127.0.0.1:") and "does not exist" in message


@pytest.mark.s3
def test_in_a_store_a_downstream_step_re_executed_alone_reads_the_published_cleaned_rows(instance, s3_root):
    key = drop(s3_root)
    first = materialize(instance, s3_root, key)
    assert not s3_root.work_dir_for(first.run_id).exists()  # gone once the results were complete
    again = materialize(instance, s3_root, key, selection=["region_summary", "anomaly_report"])
    assert again.success and again.run_id != first.run_id
    for name in ("region_summary.csv", "anomalies.csv"):
        assert (s3_root.outputs_for(again.run_id) / name).read_bytes() == (
            s3_root.outputs_for(first.run_id) / name).read_bytes()
    assert not s3_root.manifest_for(again.run_id).exists()  # two of four results: not a complete set
    leftovers = list(s3_root.work_dir_for(again.run_id).glob(".*")) if s3_root.work_dir_for(again.run_id).exists() else []
    assert leftovers == []
