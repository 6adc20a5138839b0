"""Nothing a file name, partition key, sidecar, run tag, option value or CLI argument says
can make the pipeline read or write outside the data root (issue 6).

What happens to each kind of name (also in docs/guarantees.md):

* A dropped file's name never becomes a path: its partition key is the name
  itself only when it is plain (``[A-Za-z0-9][A-Za-z0-9._-]*``, no ``...``);
  any other name (``../x.csv``, spaces, unicode, a newline, a leading dash) is
  reduced to its safe characters plus a hash of the full name. The original
  name is kept in the ``datatasker/file_name`` tag and metadata.
* A partition key is only ever looked up among the regular files directly in
  ``incoming/``; a key that spells a path (``../x``, ``/etc/x``) finds nothing.
* Symbolic links in ``incoming/`` (files or sidecars) are ignored by the
  sensor, never copied, never followed; a partition whose file became a link
  fails with "no file for partition".
* Run folders are ``<root>/outputs/<run_id>`` and ``<root>/raw/<run_id>``;
  ``DataRoot`` refuses any run id (or symlink) that resolves outside.
* Option values (``column_map`` names, ``fill_missing`` keys, ``encoding``,
  ``delimiter``) are never used as paths.
* ``datatasker process FILE``: FILE may be anywhere (the person named it); it
  is copied into ``<root>/raw/<run_id>/`` under its base name only, and then
  registered in ``incoming/`` under that name. A name starting with ``-``
  needs ``--`` (or ``./-name.csv``), otherwise it is a usage error (exit 2).
* Run tags never name a path: a run launched with the tags ``datatasker process``
  sets (origin, file name, sha256, size) reads only its own raw folder or the
  partition's file in ``incoming/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import dagster as dg
import pytest

from datatasker_pipeline.cli import main as datatasker_main
from datatasker_pipeline.defs.resources import DataRoot
from datatasker_pipeline.defs.sales.assets import sales_assets
from datatasker_pipeline.defs.sales.partitions import sales_files
from datatasker_pipeline.defs.sales.sensors import incoming_csv_sensor
from datatasker_pipeline.processing.failure_records import write_failure_record
from datatasker_pipeline.processing.intake import (
    partition_key_for,
    scan_incoming,
)
from datatasker_pipeline.processing.raw_copies import copy_raw_file
from datatasker_pipeline.vocabulary import (
    FILE_NAME_TAG,
    ORIGIN_PROCESS,
    ORIGIN_TAG,
    SHA256_TAG,
    SIZE_TAG,
)

CSV = "region,revenue,quantity,discount\nEast,10,2,0.1\nWest,3,1,0\n"
SECRET = "region,revenue,quantity,discount\nSECRET-OUTSIDE,1,1,0\n"
SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

HOSTILE_NAMES = [
    "../escape.csv",
    "../../etc/passwd.csv",
    "/etc/passwd",
    "/abs/path/x.csv",
    "sub/dir.csv",
    "with space.csv",
    " leading and trailing .csv",
    "ünïcödé 東京.csv",
    "new\nline.csv",
    "carriage\rreturn.csv",
    "tab\tname.csv",
    "-leading-dash.csv",
    "--config.csv",
    "...csv",
    "a...b.csv",
    "..",
    ".",
    "..csv",
    "back\\slash.csv",
    "nul\x00byte.csv",
    "x" * 400 + ".csv",
    "\u202eevil\u202dcsv.csv",
]


@pytest.fixture
def layout(tmp_path):
    """A data root, plus a folder outside it holding a file nobody should read."""
    root = tmp_path / "root"
    (root / "incoming").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(SECRET)
    (outside / "secret.csv.json").write_text(json.dumps({"anomaly_k": 0}))
    return root, outside


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def age(path: Path, seconds: float = 10) -> None:
    import time

    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)


# --------------------------------------------------------------------------
# Partition keys
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:40])
def test_partition_key_of_any_name_is_a_plain_file_name(name, tmp_path):
    key = partition_key_for(name)
    assert SAFE_KEY.fullmatch(key), key
    assert "..." not in key and "/" not in key and "\\" not in key
    assert len(key) <= 151
    assert key == partition_key_for(name)  # stable
    incoming = tmp_path / "incoming"
    assert (incoming / key).parent == incoming and (incoming / key).resolve().parent == incoming.resolve()


def test_distinct_names_get_distinct_keys_and_dagster_accepts_them(instance):
    keys = [partition_key_for(n) for n in HOSTILE_NAMES]
    assert len(set(keys)) == len(keys)
    instance.add_dynamic_partitions(sales_files.name, keys)
    assert set(instance.get_dynamic_partitions(sales_files.name)) == set(keys)


# --------------------------------------------------------------------------
# DataRoot
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "run_id", ["../x", "..", "a/../../x", "/tmp/x", "../outputs-evil", "../../../../etc", "x/../../../y"]
)
def test_run_folders_cannot_escape_the_data_root(layout, run_id):
    root, _ = layout
    data_root = DataRoot(path=str(root))
    with pytest.raises(ValueError, match="outside"):
        data_root.outputs_for(run_id)
    with pytest.raises(ValueError, match="outside"):
        data_root.raw_for(run_id)


def test_a_symlinked_run_folder_pointing_outside_is_refused(layout):
    root, outside = layout
    (root / "outputs").mkdir()
    (root / "outputs" / "linked-run").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="outside"):
        DataRoot(path=str(root)).outputs_for("linked-run")
    (root / "outputs" / "to-incoming").symlink_to(root / "incoming", target_is_directory=True)
    with pytest.raises(ValueError, match="outside"):
        DataRoot(path=str(root)).outputs_for("to-incoming")


def test_a_real_run_id_is_a_plain_folder_name(layout, instance):
    root, _ = layout
    drop = root / "incoming" / "plain.csv"
    drop.write_text(CSV)
    instance.add_dynamic_partitions(sales_files.name, ["plain.csv"])
    result = dg.materialize(sales_assets, partition_key="plain.csv", instance=instance,
                            resources={"data_root": DataRoot(path=str(root))})
    assert result.success
    assert re.fullmatch(r"[0-9a-f-]{36}", result.run_id)
    assert DataRoot(path=str(root)).outputs_for(result.run_id) == (root / "outputs" / result.run_id).resolve()


def test_failure_records_refuse_a_run_id_that_is_a_path(tmp_path):
    failed = tmp_path / "root" / "failed"
    with pytest.raises(ValueError):
        write_failure_record(failed, "../../escaped", "x.csv", "x.csv", "message")
    assert not (tmp_path / "escaped.json").exists()
    write_failure_record(failed, "0f0e0d0c-0000-4000-8000-000000000000", "x.csv", "x.csv", "message")
    assert (failed / "0f0e0d0c-0000-4000-8000-000000000000.json").is_file()


@pytest.mark.parametrize("key", ["../outside/secret.csv", "/ABS/secret.csv", "..", "../outside"])
def test_a_partition_key_spelling_a_path_finds_no_file(layout, key):
    root, outside = layout
    key = key.replace("/ABS", str(outside))
    assert DataRoot(path=str(root)).incoming_file_for(key) is None


def test_a_partition_whose_file_became_a_symlink_is_not_followed(layout, instance):
    root, outside = layout
    link = root / "incoming" / "report.csv"
    link.symlink_to(outside / "secret.csv")
    data_root = DataRoot(path=str(root))
    assert data_root.incoming_file_for("report.csv") is None
    instance.add_dynamic_partitions(sales_files.name, ["report.csv"])
    result = dg.materialize(sales_assets, partition_key="report.csv", instance=instance,
                            resources={"data_root": data_root}, raise_on_error=False)
    assert not result.success
    assert not (root / "raw").exists() or not any((root / "raw").rglob("*.csv"))


# --------------------------------------------------------------------------
# The sensor and the raw copy
# --------------------------------------------------------------------------


def sensor_tick(instance, data_root, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"data_root": data_root})
    result = incoming_csv_sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_symlinks_in_incoming_are_ignored_by_the_sensor(layout, instance):
    root, outside = layout
    incoming = root / "incoming"
    (incoming / "linked.csv").symlink_to(outside / "secret.csv")
    (incoming / "linked-dir.csv").symlink_to(outside, target_is_directory=True)
    (incoming / "real.csv").write_text(CSV)
    (incoming / "real.csv.json").symlink_to(outside / "secret.csv.json")  # a linked sidecar
    for p in incoming.iterdir():
        age(p)
    data_root = DataRoot(path=str(root), settle_seconds=0.1)
    assert [d.name for d in scan_incoming(incoming)] == ["real.csv"]
    result = sensor_tick(instance, data_root)
    assert [r.tags[FILE_NAME_TAG] for r in result.run_requests] == ["real.csv"]
    assert set(json.loads(result.cursor)["files"]) == {"real.csv"}
    # the linked sidecar is not copied (it could be any file on the machine)
    raw = copy_raw_file(incoming / "real.csv", root / "raw" / "r1", 10**9)
    assert raw.sidecar is None and tree(root / "raw" / "r1") == {"real.csv"}


def test_hostile_file_names_in_incoming_run_inside_the_root(layout, instance, tmp_path):
    root, outside = layout
    incoming = root / "incoming"
    names = ["with space.csv", "ünïcödé 東京.csv", "new\nline.csv", "-leading-dash.csv", "a...b.csv", "x;rm -rf ~.csv"]
    for name in names:
        (incoming / name).write_text(CSV)
        age(incoming / name)
    before_outside = tree(tmp_path) - {p for p in tree(tmp_path) if p.startswith("root")}
    data_root = DataRoot(path=str(root), settle_seconds=0.1)
    result = sensor_tick(instance, data_root)
    by_name = {r.tags[FILE_NAME_TAG]: r.partition_key for r in result.run_requests}
    assert set(by_name) == set(names)
    for name, key in by_name.items():
        assert SAFE_KEY.fullmatch(key) and "..." not in key
        assert data_root.incoming_file_for(key) == incoming / name
        run = dg.materialize(sales_assets, partition_key=key, instance=instance, resources={"data_root": data_root},
                             tags={FILE_NAME_TAG: name})
        assert run.success
        assert tree(root / "outputs" / run.run_id) == {
            "region_summary.csv", "anomalies.csv", "rejected_rows.csv", "cleaned.parquet"}
        assert tree(root / "raw" / run.run_id) == {name}  # the original name, one level down
        assert (root / "manifests" / f"{run.run_id}.json").is_file()  # the results are complete
    after_outside = tree(tmp_path) - {p for p in tree(tmp_path) if p.startswith("root")}
    assert after_outside == before_outside
    assert set(os.listdir(root)) <= {"incoming", "raw", "outputs", "manifests"}


# --------------------------------------------------------------------------
# Run tags and option values
# --------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", ["../../outside/secret.csv", "/abs/outside/secret.csv", "t.csv"])
def test_process_tags_on_a_launched_run_never_lead_outside_the_root(layout, instance, file_name):
    """Anyone can set tags when launching a run: the ones `datatasker process` sets name no path."""
    root, outside = layout
    (root / "incoming" / "t.csv").write_text(CSV)
    instance.add_dynamic_partitions(sales_files.name, ["t.csv"])
    sha256 = hashlib.sha256(CSV.encode()).hexdigest()
    tags = {ORIGIN_TAG: ORIGIN_PROCESS, SHA256_TAG: sha256, SIZE_TAG: "12", FILE_NAME_TAG: file_name}
    result = dg.materialize(sales_assets, partition_key="t.csv", instance=instance, raise_on_error=False,
                            resources={"data_root": DataRoot(path=str(root))}, tags=tags)
    assert result.success  # nothing staged in its raw folder: it took the partition's own file
    assert tree(root / "raw" / result.run_id) == {"t.csv"}
    assert (root / "raw" / result.run_id / "t.csv").read_text() == CSV
    assert not any("SECRET" in p.read_text(errors="ignore") for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def test_a_size_tag_over_the_limit_fails_only_its_own_run(layout, instance):
    root, _ = layout
    (root / "incoming" / "t.csv").write_text(CSV)
    instance.add_dynamic_partitions(sales_files.name, ["t.csv"])
    result = dg.materialize(sales_assets, partition_key="t.csv", instance=instance, raise_on_error=False,
                            resources={"data_root": DataRoot(path=str(root), max_file_bytes=100)},
                            tags={ORIGIN_TAG: ORIGIN_PROCESS, SIZE_TAG: "101"})
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_failure_data.user_failure_data.description == "file is 101 bytes; the limit is 100"
    assert (root / "incoming" / "t.csv").read_text() == CSV


@pytest.mark.parametrize(
    "options",
    [
        {"column_map": {"region": "../../evil", "revenue": "/etc/passwd"}},
        {"column_map": {"note": "../../../outside/x"}},
        {"fill_missing": {"../x": 0}},
        {"encoding": "../../etc/passwd"},
        {"encoding": "/etc/passwd"},
        {"delimiter": "/"},
    ],
)
def test_option_values_are_never_paths(layout, instance, tmp_path, options):
    root, outside = layout
    name = "opts.csv"
    (root / "incoming" / name).write_text("region,revenue,quantity,discount,note\nEast,1,1,0,n\n")
    before = tree(tmp_path)
    instance.add_dynamic_partitions(sales_files.name, [name])
    result = dg.materialize(
        sales_assets, partition_key=name, instance=instance, raise_on_error=False,
        resources={"data_root": DataRoot(path=str(root))},
        run_config={"ops": {"cleaned_sales": {"config": options}}},
    )
    created = tree(tmp_path) - before
    allowed = (f"root/raw/{result.run_id}", f"root/outputs/{result.run_id}", "root/raw", "root/outputs",
               f"root/manifests/{result.run_id}.json", "root/manifests")
    assert all(p.startswith(allowed) for p in created), sorted(created)
    assert tree(outside) == {"secret.csv", "secret.csv.json"}


# --------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    home, root = tmp_path / "home", tmp_path / "root"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DATATASKER_DATA_DIR", str(root))
    monkeypatch.delenv("DATATASKER_URL", raising=False)
    return root


def run_cli(capsys, *args) -> tuple[int, dict | None]:
    try:
        code = datatasker_main(["process", *args, "--json"] if "--" not in args else ["process", "--json", *args])
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else None


@pytest.mark.parametrize(
    "name", ["with space.csv", "ünïcödé 東京.csv", "new\nline.csv", "-leading-dash.csv", "a...b.csv"],
    ids=["space", "unicode", "newline", "leading-dash", "dots"],
)
def test_cli_copies_a_file_from_elsewhere_under_its_base_name_only(cli_env, tmp_path, capsys, name):
    root = cli_env
    elsewhere = tmp_path / "deep" / "elsewhere"
    elsewhere.mkdir(parents=True)
    source = elsewhere / name
    source.write_text(CSV)
    (elsewhere / (name + ".json")).write_text(json.dumps({"anomaly_k": 1}))
    before = tree(tmp_path)
    args = ("--", str(source)) if name.startswith("-") else (str(source),)
    code, outcome = run_cli(capsys, *args)
    assert code == 0 and outcome["status"] == "SUCCESS", outcome
    assert outcome["partition"] == partition_key_for(name)
    raw = root / "raw" / outcome["run_id"]
    assert sorted(os.listdir(raw)) == sorted([name, name + ".json"]) and (raw / name).read_text() == CSV
    assert set(os.listdir(root)) == {"raw", "outputs", "manifests"}
    for path in outcome["outputs"].values():
        assert Path(path).parent == root / "outputs" / outcome["run_id"]
    created_outside_root = {p for p in tree(tmp_path) - before if not p.startswith(("root", "home"))}
    assert created_outside_root == set()
    assert source.read_text() == CSV  # the original is left alone


def test_cli_relative_dotdot_path_and_leading_dash_without_separator(cli_env, tmp_path, capsys, monkeypatch):
    root = cli_env
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "x.csv").write_text(CSV)
    (tmp_path / "-x.csv").write_text(CSV)
    monkeypatch.chdir(tmp_path / "a" / "b")
    code, outcome = run_cli(capsys, "../../x.csv")
    assert code == 0, outcome
    assert os.listdir(root / "raw" / outcome["run_id"]) == ["x.csv"]
    # "-x.csv" looks like an option: a usage error (exit 2), nothing registered or written
    monkeypatch.chdir(tmp_path)
    code, outcome = run_cli(capsys, "-x.csv")
    assert code == 2 and outcome is None
    assert len(os.listdir(root / "raw")) == 1
    code, outcome = run_cli(capsys, "./-x.csv")
    assert code == 0 and os.listdir(root / "raw" / outcome["run_id"]) == ["-x.csv"]


def test_cli_file_that_is_a_symlink_is_taken_under_its_target_name(cli_env, tmp_path, capsys):
    root = cli_env
    (tmp_path / "real-name.csv").write_text(CSV)
    (tmp_path / "alias.csv").symlink_to(tmp_path / "real-name.csv")
    code, outcome = run_cli(capsys, str(tmp_path / "alias.csv"))
    assert code == 0, outcome
    raw = root / "raw" / outcome["run_id"]
    assert os.listdir(raw) == ["real-name.csv"] and not (raw / "real-name.csv").is_symlink()


def test_cli_config_values_are_not_paths(cli_env, tmp_path, capsys):
    root = cli_env
    source = tmp_path / "c.csv"
    source.write_text(CSV)
    before = tree(tmp_path)
    code, outcome = run_cli(capsys, str(source), "--config",
                            json.dumps({"column_map": {"region": "../../../evil"}, "encoding": "utf-8"}))
    assert code == 1 and "missing required column(s): region" in outcome["error"]
    created = {p for p in tree(tmp_path) - before if not p.startswith(("root", "home"))}
    assert created == set()
    assert not (root / "outputs" / outcome["run_id"]).exists()
